"""A user's history in the shape of Spotify's own export, so it can move to other trackers.

Plays of Spotify tracks become Extended Streaming History entries
(`Spotify Extended Streaming History/Streaming_History_Audio_<years>_<n>.json`, 15,000 a file,
the 2025 fields in Spotify's order); plays known only by name (imported from Account data)
become Account data entries (`Spotify Account Data/StreamingHistory_music_<n>.json`), as no
URI can be given for them. Skipped plays are exported too, marked as skips. What the warehouse
never kept is null: platform, country, IP address, offline timestamp. A crawled play, whose
length Spotify's recently-played does not say, is written with its track's duration and
`reason_end = trackdone` (it was counted as a listen). `ts` has whole seconds, as Spotify's.
Importing the file into an empty LISTORY_HOME gives back the same listens (a test).
"""

from __future__ import annotations

import json
import os
import re
import time
import zipfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from listory_pipeline.export.range import ExportRange
from listory_pipeline.sqlfiles import sql_file
from listory_pipeline.warehouse.connection import reading_warehouse

_SQL = sql_file(__file__, "export.sql")
ENTRIES_PER_FILE = 15_000
EXTENDED_FOLDER = "Spotify Extended Streaming History"
ACCOUNT_FOLDER = "Spotify Account Data"
_SPOTIFY_ID = re.compile(r"^[0-9A-Za-z]{22}$")

# (entries written, entries in the export)
ExportProgress = Callable[[int, int], None]


@dataclass(frozen=True)
class SpotifyExportResult:
    path: Path
    extended_entries: int
    account_entries: int
    seconds: float


def _ts(played_at_ms: int) -> datetime:
    return datetime.fromtimestamp(played_at_ms // 1000, timezone.utc)


def extended_entry(row: dict[str, Any]) -> dict[str, Any]:
    """One play as an Extended Streaming History entry (2025 fields, Spotify's order)."""
    reason_end = row["reason_end"] or ("fwdbtn" if row["is_skip"] else "trackdone")
    return {
        "ts": _ts(row["played_at_ms"]).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "platform": None,
        "ms_played": int(row["ms_played"]),
        "conn_country": None,
        "ip_addr": None,
        "master_metadata_track_name": row["track_name"],
        "master_metadata_album_artist_name": row["artist_name"],
        "master_metadata_album_album_name": row["album_name"],
        "spotify_track_uri": f"spotify:track:{row['track_id']}",
        "episode_name": None,
        "episode_show_name": None,
        "spotify_episode_uri": None,
        "audiobook_title": None,
        "audiobook_uri": None,
        "audiobook_chapter_uri": None,
        "audiobook_chapter_title": None,
        "reason_start": row["reason_start"],
        "reason_end": reason_end,
        "shuffle": row["shuffle"],
        "skipped": bool(row["is_skip"]),
        "offline": row["offline"],
        "offline_timestamp": None,
        "incognito_mode": False,
    }


def account_entry(row: dict[str, Any]) -> dict[str, Any]:
    """A play known only by name, as Account data has it (end time to the minute, UTC)."""
    return {
        "endTime": _ts(row["played_at_ms"]).strftime("%Y-%m-%d %H:%M"),
        "artistName": row["artist_name"] or "",
        "trackName": row["track_name"] or "",
        "msPlayed": int(row["ms_played"]),
    }


def _years(entries: list[dict[str, Any]]) -> str:
    first, last = entries[0]["ts"][:4], entries[-1]["ts"][:4]
    return first if first == last else f"{first}-{last}"


def export_spotify_extended(
    warehouse_path: Path,
    user_id: str,
    target: Path,
    *,
    first=None,
    last=None,
    progress: ExportProgress | None = None,
    wait_seconds: float = 30.0,
) -> SpotifyExportResult:
    """Write `target` as a zip laid out like Spotify's `my_spotify_data.zip`."""
    started = time.monotonic()
    target = Path(target)
    with reading_warehouse(warehouse_path, wait_seconds=wait_seconds) as conn:
        timezone_name = conn.execute(_SQL["user_timezone"], {"user_id": user_id}).fetchone()[0]
        span = ExportRange.of_local_dates(first, last, timezone_name)
        cursor = conn.execute(_SQL["spotify_entries"], span.params(user_id))
        names = [column[0] for column in cursor.description]
        rows = [dict(zip(names, values)) for values in cursor.fetchall()]
    extended, account = [], []
    for row in rows:
        # ids that are not Spotify's (stand-ins for plays known by name) have no URI to give
        if row["track_id"] and _SPOTIFY_ID.match(row["track_id"]) and row["catalog_status"] != "by_name":
            extended.append(extended_entry(row))
        else:
            account.append(account_entry(row))
    total = len(extended) + len(account)
    temp = target.parent / f".{target.name}.partial"
    done = 0
    if progress:
        progress(0, total)
    try:
        with zipfile.ZipFile(temp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for number, start in enumerate(range(0, len(extended), ENTRIES_PER_FILE)):
                chunk = extended[start : start + ENTRIES_PER_FILE]
                name = f"{EXTENDED_FOLDER}/Streaming_History_Audio_{_years(chunk)}_{number}.json"
                archive.writestr(name, json.dumps(chunk, indent=4, ensure_ascii=False))
                done += len(chunk)
                if progress:
                    progress(done, total)
            for number, start in enumerate(range(0, len(account), ENTRIES_PER_FILE)):
                chunk = account[start : start + ENTRIES_PER_FILE]
                archive.writestr(
                    f"{ACCOUNT_FOLDER}/StreamingHistory_music_{number}.json", json.dumps(chunk, indent=2, ensure_ascii=False)
                )
                done += len(chunk)
                if progress:
                    progress(done, total)
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return SpotifyExportResult(target, len(extended), len(account), time.monotonic() - started)
