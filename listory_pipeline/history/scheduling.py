"""When history work runs by itself: the drop folder, and resolution resumed after a stop.

Pure decisions the sensors wrap (tests call them directly); they look at the file system,
their cursor and Dagster's event log, never at the warehouse.

- Drop folder: `LISTORY_HOME/imports/<user id>/` holds a user's export (the zip, the folder,
  or JSON files). It is imported once its contents have stopped changing for one sensor tick,
  so a copy still in progress is never read half-written; files starting with "." are ignored
  (e.g. a browser's partial download).
- Resolution: a user whose last resolution left tracks pending gets another run, unless one is
  queued or running or their app is paused by a rate limit; a run that ended without
  materializing (it failed) is retried after `RETRY_SECONDS`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

RETRY_SECONDS = 600.0


@dataclass(frozen=True)
class DropSet:
    user_id: str
    folder: Path
    fingerprint: str
    files: int


def scan_drop_folder(imports_dir: Path) -> list[DropSet]:
    """One file set per user folder that holds anything, fingerprinted by names, sizes and times."""
    if not imports_dir.is_dir():
        return []
    found = []
    for folder in sorted(p for p in imports_dir.iterdir() if p.is_dir() and not p.name.startswith(".")):
        digest = hashlib.sha256()
        files = 0
        for path in sorted(folder.rglob("*")):
            relative = path.relative_to(folder)
            if any(part.startswith(".") for part in relative.parts) or not path.is_file():
                continue
            stat = path.stat()
            digest.update(f"{relative.as_posix()}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
            files += 1
        if files:
            found.append(DropSet(folder.name, folder, digest.hexdigest()[:16], files))
    return found


def ready_drops(scanned: list[DropSet], previous: Mapping[str, str]) -> list[DropSet]:
    """File sets unchanged since the previous tick: complete enough to import."""
    return [drop for drop in scanned if previous.get(drop.user_id) == drop.fingerprint]


def drop_run_key(drop: DropSet) -> str:
    """The same contents are imported once, however many ticks see them."""
    return f"history-drop:{drop.user_id}:{drop.fingerprint}"


@dataclass(frozen=True)
class ResolutionState:
    """The user's latest resolution materialization: tracks still pending, its event id and time."""

    pending: int
    storage_id: int
    at: float


def resolution_requests(
    states: Mapping[str, ResolutionState],
    now: float,
    *,
    in_flight: set[str],
    paused_apps: Mapping[str, float],
    app_of_user: Mapping[str, str],
    active_users: set[str],
) -> list[tuple[str, str]]:
    """(user id, run key) for every user whose imported tracks still wait for resolution."""
    requests = []
    for user_id, state in sorted(states.items()):
        if state.pending <= 0 or user_id in in_flight or user_id not in active_users:
            continue
        if paused_apps.get(app_of_user.get(user_id, ""), 0.0) > now:
            continue
        attempt = int(max(0.0, now - state.at) // RETRY_SECONDS)
        requests.append((user_id, f"resolve:{user_id}:{state.storage_id}:{attempt}"))
    return requests
