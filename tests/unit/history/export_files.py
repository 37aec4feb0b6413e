"""Hand-built export entries and files for the history tests, shaped like Spotify's."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=timezone.utc)


def track_id(n: int) -> str:
    """A valid 22-character base62 id per number."""
    return f"{n:0>22}"


def entry(
    track: int | None,
    ts: datetime,
    ms_played: int = 200_000,
    *,
    reason_end: str = "trackdone",
    track_name: str | None = None,
    artist: str = "Artist A",
    album: str = "Album A",
    incognito: bool = False,
    **extra,
) -> dict:
    stamp = ts.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "ts": stamp,
        "platform": "android",
        "ms_played": ms_played,
        "conn_country": "DE",
        "ip_addr": "203.0.113.7",
        "master_metadata_track_name": track_name or (f"Track {track}" if track is not None else None),
        "master_metadata_album_artist_name": artist if track is not None else None,
        "master_metadata_album_album_name": album if track is not None else None,
        "spotify_track_uri": f"spotify:track:{track_id(track)}" if track is not None else None,
        "episode_name": None,
        "episode_show_name": None,
        "spotify_episode_uri": None,
        "reason_start": "trackdone",
        "reason_end": reason_end,
        "shuffle": False,
        "skipped": reason_end != "trackdone",
        "offline": False,
        "offline_timestamp": int(ts.timestamp()),
        "incognito_mode": incognito,
        **extra,
    }


def podcast(ts: datetime, ms_played: int = 600_000) -> dict:
    return entry(
        None, ts, ms_played, episode_name="Episode", episode_show_name="Show", spotify_episode_uri="spotify:episode:x"
    )


def short_entry(ts: datetime, ms_played: int, track_name: str, artist: str = "Artist A") -> dict:
    return {"endTime": ts.strftime("%Y-%m-%d %H:%M"), "artistName": artist, "trackName": track_name, "msPlayed": ms_played}


def write_json(folder: Path, name: str, entries, *, pretty: bool = False) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(json.dumps(entries, indent=4 if pretty else None), encoding="utf-8")
    return path
