"""Hand-built recently-played answers for unit tests, shaped like Spotify's PlayHistoryObject."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone


def artist(artist_id: str, name: str | None = None) -> dict:
    return {
        "id": artist_id,
        "name": name or f"Artist {artist_id}",
        "type": "artist",
        "uri": f"spotify:artist:{artist_id}",
        "href": f"https://api.spotify.com/v1/artists/{artist_id}",
        "external_urls": {"spotify": f"https://open.spotify.com/artist/{artist_id}"},
    }


def track(track_id: str, *, artists: list[str] = ("ar1",), album_id: str = "al1", duration_ms: int = 200_000) -> dict:
    return {
        "id": track_id,
        "name": f"Track {track_id}",
        "type": "track",
        "uri": f"spotify:track:{track_id}",
        "duration_ms": duration_ms,
        "explicit": False,
        "popularity": 50,
        "disc_number": 1,
        "track_number": 1,
        "external_ids": {"isrc": f"XX{track_id}"},
        "artists": [artist(a) for a in artists],
        "album": {
            "id": album_id,
            "name": f"Album {album_id}",
            "album_type": "album",
            "release_date": "2020-01-01",
            "release_date_precision": "day",
            "total_tracks": 10,
            "images": [{"url": f"https://i.example/{album_id}.jpg", "height": 640, "width": 640}],
            "artists": [artist(artists[0])],
            "uri": f"spotify:album:{album_id}",
        },
    }


def play(track_id: str, played_at: datetime, **track_kwargs) -> dict:
    stamp = played_at.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return {"track": track(track_id, **track_kwargs), "played_at": stamp, "context": None}


def recently_played(plays: list[dict]) -> dict:
    ordered = sorted(plays, key=lambda p: p["played_at"], reverse=True)
    return {"items": ordered, "limit": 50, "next": None, "cursors": None, "href": "https://api.spotify.com/v1/me/player/recently-played?limit=50"}


def plays_every(start: datetime, count: int, minutes: int = 4, tracks: int = 10) -> list[dict]:
    """`count` plays `minutes` apart from `start`, cycling over `tracks` distinct tracks."""
    return [play(f"tr{i % tracks}", start + timedelta(minutes=minutes * i), artists=[f"ar{i % 3}"]) for i in range(count)]


T0 = datetime(2026, 11, 20, 8, 0, tzinfo=timezone.utc)
