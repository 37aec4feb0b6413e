"""The landing zone: every raw recently-played answer, written once, never changed.

A pull is landed before the warehouse is touched, so whatever happens to DuckDB
afterwards (locked, killed run, failed load) the plays are on disk and the next
load picks them up. Files are written to a temp name, fsynced and renamed, so a
reader sees a whole pull or none; the pipeline never modifies or deletes one.
The one exception is `remove_user`, run only when a person asks for a user's
data to be deleted (`listory users remove --delete-data`).

Layout: `<root>/recently_played/<user>/<YYYY-MM-DD>/<fetched_at>-<nonce>.json`,
with the fetch day in UTC, so a loader can list only the days it has not
finished instead of the whole history.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import shutil
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, Iterator

LANDING_FORMAT = 1
KIND = "recently_played"
# 50 full track objects are a few hundred KB; a file far larger is not an answer of that endpoint
MAX_PULL_BYTES = 16 * 1024 * 1024
_PULL_NAME = re.compile(r"^\d{8}T\d{6,12}Z(-[0-9a-f]+)?$")
_SAFE_USER = re.compile(r"[^A-Za-z0-9._-]")


class LandingError(RuntimeError):
    """A landed file cannot be read as a pull; the message names the file."""


@dataclass(frozen=True)
class LandedPull:
    pull_id: str
    user_id: str
    fetched_at: datetime
    path: Path


def user_folder_name(user_id: str) -> str:
    """Spotify user ids are mostly safe, but an id must never escape its folder."""
    cleaned = _SAFE_USER.sub("_", user_id)
    if cleaned in {"", ".", ".."}:
        raise ValueError(f"cannot store pulls for user id {user_id!r}")
    if cleaned != user_id:
        # Different ids could clean to the same name; a short digest keeps them apart.
        cleaned = f"{cleaned}~{hashlib.sha256(user_id.encode()).hexdigest()[:8]}"
    return cleaned


def _stamp(moment: datetime) -> str:
    moment = moment.astimezone(timezone.utc)
    return moment.strftime("%Y%m%dT%H%M%S") + f"{moment.microsecond // 1000:03d}Z"


class LandingZone:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def _user_dir(self, user_id: str) -> Path:
        return self.root / KIND / user_folder_name(user_id)

    def land(
        self,
        user_id: str,
        payload: dict[str, Any],
        *,
        fetched_at: datetime,
        request_counts: dict[str, int] | None = None,
    ) -> LandedPull:
        """Write one raw answer atomically and durably; returns where it went."""
        fetched_at = fetched_at.astimezone(timezone.utc)
        day_dir = self._user_dir(user_id) / fetched_at.date().isoformat()
        day_dir.mkdir(parents=True, exist_ok=True)
        stem = f"{_stamp(fetched_at)}-{secrets.token_hex(4)}"
        final_path = day_dir / f"{stem}.json"
        temp_path = day_dir / f".{stem}.json.tmp"
        document = {
            "format": LANDING_FORMAT,
            "kind": KIND,
            "user_id": user_id,
            "fetched_at": fetched_at.isoformat(),
            "request_counts": request_counts or {},
            "payload": payload,
        }
        try:
            data = json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            # Text that is not valid Unicode (a lone surrogate escape in the answer): kept exactly,
            # as JSON escapes, for the loader to reject by name.
            data = json.dumps(document, separators=(",", ":"), ensure_ascii=True).encode("ascii")
        with open(temp_path, "xb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.rename(temp_path, final_path)
        dir_fd = os.open(day_dir, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        return LandedPull(self.pull_id(user_id, final_path), user_id, fetched_at, final_path)

    def pull_id(self, user_id: str, path: Path) -> str:
        return f"{user_id}/{path.parent.name}/{path.stem}"

    def pulls(self, user_id: str, since: datetime | None = None) -> Iterator[LandedPull]:
        """Landed pulls of a user in fetch order, fetched at or after `since`; temp files are skipped.

        File names start with the fetch time, so older pulls are passed over by name
        without being opened or parsed.
        """
        user_dir = self._user_dir(user_id)
        if not user_dir.is_dir():
            return
        since_day = since.astimezone(timezone.utc).date() if since is not None else None
        since_stem = _stamp(since) if since is not None else ""
        for day_dir in sorted(p for p in user_dir.iterdir() if p.is_dir()):
            try:
                day = date.fromisoformat(day_dir.name)
            except ValueError:
                continue
            if since_day is not None and day < since_day:
                continue
            for path in sorted(day_dir.glob("*.json")):
                if not _PULL_NAME.match(path.stem):
                    continue  # not a pull the landing zone wrote (a backup, a copy): never loaded
                if path.stem < since_stem:
                    continue
                fetched_at = datetime.strptime(path.stem.split("-")[0], "%Y%m%dT%H%M%S%fZ").replace(
                    tzinfo=timezone.utc
                )
                yield LandedPull(self.pull_id(user_id, path), user_id, fetched_at, path)

    def remove_user(self, user_id: str) -> int:
        """Delete every landed pull of one user; returns how many pull files went.

        The only deletion the landing zone allows, and only on a person's explicit request.
        """
        user_dir = self._user_dir(user_id)
        if not user_dir.is_dir():
            return 0
        count = sum(1 for _ in user_dir.glob("*/*.json"))
        shutil.rmtree(user_dir)
        return count


def read_pull(path: Path) -> dict[str, Any]:
    """The landed document, checked for the envelope fields the loader relies on."""
    try:
        size = path.stat().st_size
        if size > MAX_PULL_BYTES:
            raise LandingError(
                f"landed pull {path} is {size:,} bytes, more than any recently-played answer ({MAX_PULL_BYTES:,} at most)"
            )
        document = json.loads(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise LandingError(f"landed pull {path} is not readable JSON: {exc}") from exc
    except RecursionError:
        raise LandingError(f"landed pull {path} is nested too deeply to be a recently-played answer") from None
    if not isinstance(document, dict):
        raise LandingError(f"landed pull {path} is not a JSON object")
    for key in ("format", "user_id", "fetched_at", "payload"):
        if key not in document:
            raise LandingError(f"landed pull {path} lacks the {key!r} field")
    if document["format"] != LANDING_FORMAT:
        raise LandingError(f"landed pull {path} has unknown format {document['format']!r}")
    return document
