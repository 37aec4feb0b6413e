"""Catalog entities and plays rendered as the JSON objects Spotify's Web API returns.

Shapes follow the OpenAPI description in `spotify-openapi/` (TrackObject,
AlbumObject, ArtistObject, PrivateUserObject, CursorPagingPlayHistoryObject),
so a client tested here parses real answers too.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from listory_pipeline.spotify.simulator.catalog import MARKETS, Album, Artist, Catalog, Track, image_urls, spotify_id
from listory_pipeline.spotify.simulator.listeners import Play, SimUser

OPEN_URL = "https://open.spotify.com"


def format_played_at(ms: int) -> str:
    """Spotify's timestamp style: UTC, millisecond precision, `Z` suffix."""
    dt = datetime.fromtimestamp(ms // 1000, timezone.utc)
    return f"{dt.strftime('%Y-%m-%dT%H:%M:%S')}.{ms % 1000:03d}Z"


def error_body(status: int, message: str, reason: str | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"status": status, "message": message}
    if reason:
        error["reason"] = reason
    return {"error": error}


def _links(api_url: str, kind: str, entity_id: str) -> dict[str, Any]:
    return {
        "external_urls": {"spotify": f"{OPEN_URL}/{kind}/{entity_id}"},
        "href": f"{api_url}/{kind}s/{entity_id}",
        "id": entity_id,
        "type": kind,
        "uri": f"spotify:{kind}:{entity_id}",
    }


def simplified_artist(api_url: str, artist: Artist) -> dict[str, Any]:
    return {**_links(api_url, "artist", artist.id), "name": artist.name}


def artist_object(catalog: Catalog, api_url: str, artist: Artist, *, include_genres: bool = True) -> dict[str, Any]:
    body = {
        **simplified_artist(api_url, artist),
        "followers": {"href": None, "total": artist.followers},
        "images": image_urls(catalog.seed, "artist", artist.index),
        "popularity": artist.popularity,
    }
    if include_genres:
        body["genres"] = list(artist.genres)
    return body


def _album_base(catalog: Catalog, api_url: str, album: Album) -> dict[str, Any]:
    return {
        **_links(api_url, "album", album.id),
        "album_type": album.album_type,
        "total_tracks": len(album.track_indexes),
        "available_markets": list(MARKETS),
        "images": image_urls(catalog.seed, "album", album.index),
        "name": album.name,
        "release_date": album.release_date,
        "release_date_precision": album.release_date_precision,
        "artists": [simplified_artist(api_url, catalog.artists[a]) for a in album.artist_indexes],
    }


def simplified_album(catalog: Catalog, api_url: str, album: Album) -> dict[str, Any]:
    return _album_base(catalog, api_url, album)


def _track_base(catalog: Catalog, api_url: str, track: Track) -> dict[str, Any]:
    return {
        **_links(api_url, "track", track.id),
        "artists": [simplified_artist(api_url, catalog.artists[a]) for a in track.artist_indexes],
        "available_markets": list(MARKETS),
        "disc_number": track.disc_number,
        "duration_ms": track.duration_ms,
        "explicit": track.explicit,
        "is_local": False,
        "name": track.name,
        "preview_url": None,
        "track_number": track.track_number,
    }


def simplified_track(catalog: Catalog, api_url: str, track: Track) -> dict[str, Any]:
    return _track_base(catalog, api_url, track)


def track_object(catalog: Catalog, api_url: str, track: Track) -> dict[str, Any]:
    return {
        **_track_base(catalog, api_url, track),
        "album": simplified_album(catalog, api_url, catalog.albums[track.album_index]),
        "external_ids": {"isrc": track.isrc},
        "popularity": track.popularity,
    }


def album_object(catalog: Catalog, api_url: str, album: Album) -> dict[str, Any]:
    tracks = [simplified_track(catalog, api_url, catalog.tracks[t]) for t in album.track_indexes[:50]]
    year = album.release_date[:4]
    return {
        **_album_base(catalog, api_url, album),
        "tracks": {
            "href": f"{api_url}/albums/{album.id}/tracks?offset=0&limit=50",
            "items": tracks,
            "limit": 50,
            "next": None,
            "offset": 0,
            "previous": None,
            "total": len(album.track_indexes),
        },
        "copyrights": [
            {"text": f"{year} {album.label}", "type": "C"},
            {"text": f"{year} {album.label}", "type": "P"},
        ],
        "external_ids": {"upc": album.upc},
        "genres": [],
        "label": album.label,
        "popularity": album.popularity,
    }


def context_object(catalog: Catalog, api_url: str, user_id: str, context: tuple[str, int] | None) -> dict[str, Any] | None:
    if context is None:
        return None
    kind, index = context
    if kind == "album":
        entity_id = catalog.albums[index].id
    elif kind == "artist":
        entity_id = catalog.artists[index].id
    else:
        entity_id = spotify_id(catalog.seed, f"playlist:{user_id}", index)
    links = _links(api_url, kind, entity_id)
    return {key: links[key] for key in ("type", "href", "external_urls", "uri")}


def play_history_item(catalog: Catalog, api_url: str, user_id: str, play: Play) -> dict[str, Any]:
    return {
        "track": track_object(catalog, api_url, catalog.tracks[play.track_index]),
        "played_at": format_played_at(play.played_at_ms),
        "context": context_object(catalog, api_url, user_id, play.context),
    }


def private_user(seed: int, api_url: str, user: SimUser) -> dict[str, Any]:
    return {
        "account_id": spotify_id(seed, "account", hash_user(user.user_id)),
        "country": user.country,
        "display_name": user.display_name,
        "email": f"{user.user_id}@simulator.invalid",
        "explicit_content": {"filter_enabled": False, "filter_locked": False},
        "external_urls": {"spotify": f"{OPEN_URL}/user/{user.user_id}"},
        "followers": {"href": None, "total": 0},
        "href": f"{api_url}/users/{user.user_id}",
        "id": user.user_id,
        "images": [],
        "product": "premium",
        "type": "user",
        "uri": f"spotify:user:{user.user_id}",
    }


def hash_user(user_id: str) -> int:
    """A stable small integer per user id (Python's hash() is salted per process)."""
    return sum((i + 1) * ord(c) for i, c in enumerate(user_id))
