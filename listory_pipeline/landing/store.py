"""The landing zone: every raw recently-played answer, written once, never changed.

A pull is landed before the warehouse is touched, so whatever happens to DuckDB
afterwards (locked, killed run, failed load) the plays are on disk and the next
load picks them up. Files are written to a temp name, fsynced and renamed, so a
reader sees a whole pull or none; the pipeline never modifies or deletes one.
The one exception is `remove_user`, run only when a person asks for a user's
data to be deleted (`listory users remove --delete-data`).

Layout, with the fetch day in UTC, so a loader can list only the days it has not
finished instead of the whole history:

    <root>/recently_played/<user>/<YYYY-MM-DD>/<fetched_at>-<nonce>.json.gz
    <root>/recently_played/<user>/<YYYY-MM-DD>/repeats.jsonl

Kept for years, so kept small. An answer is gzip JSON (`zcat`, `gzip -dc | jq`),
about a tenth of its size. An answer identical to the user's previous one, what
every poll between two songs gets, is not stored again: one line of the day's
`repeats.jsonl` records its fetch time and request counts and names the pull it
repeats, by that pull's id and the SHA-256 of its payload. Lines are appended
whole and fsynced; a line torn by a crash is skipped (its answer is the earlier
pull's, so no play is lost). Pulls landed before this form (`<stem>.json`,
plain) are read as before.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import secrets
import shutil
import zlib
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, Iterator

from listory_pipeline.landing.durable import fsync_folder

LANDING_FORMAT = 1
KIND = "recently_played"
# 50 full track objects are a few hundred KB; a file far larger is not an answer of that endpoint
MAX_PULL_BYTES = 16 * 1024 * 1024
FULL_SUFFIX = ".json.gz"
PLAIN_SUFFIX = ".json"  # full pulls landed before compression
REPEATS_FILE = "repeats.jsonl"
# a repeat line holds ids, a fetch time, a digest and request counts: far less than this
MAX_REPEAT_LINE_BYTES = 4096
GZIP_LEVEL = 6  # 110 KB -> 10 KB here in ~1 ms; 9 saves 2 % more for twice the time
_PULL_NAME = re.compile(r"^\d{8}T\d{6,12}Z(-[0-9a-f]+)?$")
_SAFE_USER = re.compile(r"[^A-Za-z0-9._-]")


class LandingError(RuntimeError):
    """A landed file cannot be read as a pull; the message names the file."""


@dataclass(frozen=True)
class LandedPull:
    pull_id: str
    user_id: str
    fetched_at: datetime
    # the pull's own file, or for a repeat the day's repeats.jsonl
    path: Path
    # a repeat: the id of the pull whose answer it got again, and its line in repeats.jsonl
    same_as: str | None = None
    repeat: dict[str, Any] | None = field(default=None, compare=False, repr=False)


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


def payload_digest(payload: Any) -> str:
    """SHA-256 of the answer as landed (compact JSON, keys in Spotify's order): equal answers, equal digests."""
    return hashlib.sha256(_json_bytes(payload)).hexdigest()


def _json_bytes(value: Any) -> bytes:
    try:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        # Text that is not valid Unicode (a lone surrogate escape in the answer): kept exactly,
        # as JSON escapes, for the loader to reject by name.
        return json.dumps(value, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def _pull_stem(name: str) -> str | None:
    """The pull name a full pull's file carries, or None for anything else in a day folder."""
    for suffix in (FULL_SUFFIX, PLAIN_SUFFIX):
        if name.endswith(suffix):
            stem = name[: -len(suffix)]
            return stem if _PULL_NAME.match(stem) else None
    return None


def _fetched_at_of(stem: str) -> datetime:
    return datetime.strptime(stem.split("-")[0], "%Y%m%dT%H%M%S%fZ").replace(tzinfo=timezone.utc)


def _write_durably(path: Path, data: bytes) -> None:
    """`data` at `path`, whole or not at all: a temp file, fsynced, renamed, the folder fsynced."""
    temp_path = path.with_name(f".{path.name}.tmp")
    with open(temp_path, "xb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.rename(temp_path, path)
    fsync_folder(path.parent)


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
        """Write one raw answer durably (or, when it equals the user's previous one, a line naming it)."""
        fetched_at = fetched_at.astimezone(timezone.utc)
        day_dir = self._user_dir(user_id) / fetched_at.date().isoformat()
        day_dir.mkdir(parents=True, exist_ok=True)
        stem = f"{_stamp(fetched_at)}-{secrets.token_hex(4)}"
        digest = payload_digest(payload)
        envelope = {
            "format": LANDING_FORMAT,
            "kind": KIND,
            "user_id": user_id,
            "fetched_at": fetched_at.isoformat(),
            "request_counts": request_counts or {},
        }
        previous = self.latest(user_id)
        if previous is not None and self.digest_of(previous) == digest:
            original = previous.same_as or previous.pull_id
            line = {**envelope, "pull": stem, "same_as": original, "payload_sha256": digest}
            repeats = day_dir / REPEATS_FILE
            _append_line(repeats, _json_bytes(line))
            return LandedPull(self.pull_id(user_id, day_dir.name, stem), user_id, fetched_at, repeats, original, line)
        document = {**envelope, "payload_sha256": digest, "payload": payload}
        final_path = day_dir / f"{stem}{FULL_SUFFIX}"
        _write_durably(final_path, gzip.compress(_json_bytes(document), compresslevel=GZIP_LEVEL, mtime=0))
        return LandedPull(self.pull_id(user_id, day_dir.name, stem), user_id, fetched_at, final_path)

    def pull_id(self, user_id: str, day: str, stem: str) -> str:
        return f"{user_id}/{day}/{stem}"

    def pulls(self, user_id: str, since: datetime | None = None) -> Iterator[LandedPull]:
        """Landed pulls of a user in fetch order, fetched at or after `since`; temp and stray files are skipped.

        File names and repeat lines start with the fetch time, so older pulls are passed over
        without their answers being read.
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
            for pull in self._day_pulls(user_id, day_dir):
                if pull.pull_id.rsplit("/", 1)[1] >= since_stem:
                    yield pull

    def _day_pulls(self, user_id: str, day_dir: Path) -> list[LandedPull]:
        pulls = []
        for path in day_dir.iterdir():
            stem = _pull_stem(path.name)
            if stem is not None:  # not a pull the landing zone wrote (a backup, a copy): never loaded
                pulls.append(LandedPull(self.pull_id(user_id, day_dir.name, stem), user_id, _fetched_at_of(stem), path))
        repeats = day_dir / REPEATS_FILE
        for line in _repeat_lines(repeats):
            stem = line["pull"]
            pulls.append(
                LandedPull(self.pull_id(user_id, day_dir.name, stem), user_id, _fetched_at_of(stem), repeats, line["same_as"], line)
            )
        return sorted(pulls, key=lambda pull: pull.pull_id)

    def latest(self, user_id: str) -> LandedPull | None:
        """The user's most recent pull: the newest day folder's last one."""
        user_dir = self._user_dir(user_id)
        if not user_dir.is_dir():
            return None
        for day_dir in sorted((p for p in user_dir.iterdir() if p.is_dir()), reverse=True):
            pulls = self._day_pulls(user_id, day_dir)
            if pulls:
                return pulls[-1]
        return None

    def digest_of(self, pull: LandedPull) -> str | None:
        """The payload digest of a landed pull, None when it cannot be read (a new pull is then stored whole)."""
        if pull.repeat is not None:
            return pull.repeat["payload_sha256"]
        try:
            document = read_pull(pull.path)
        except LandingError:
            return None
        return document.get("payload_sha256") or payload_digest(document["payload"])

    def read(self, pull: LandedPull) -> dict[str, Any]:
        """The landed document of any pull; a repeat gets the answer of the pull it names, checked by digest."""
        if pull.repeat is None:
            return read_pull(pull.path)
        original = self._original_path(pull.user_id, pull.same_as)
        if original is None:
            raise LandingError(f"repeat {pull.pull_id} names pull {pull.same_as}, which is not in the landing zone")
        document = read_pull(original)
        if payload_digest(document["payload"]) != pull.repeat["payload_sha256"]:
            raise LandingError(f"repeat {pull.pull_id} does not match the answer of {pull.same_as} (digests differ)")
        return {**{k: v for k, v in pull.repeat.items() if k not in {"pull", "payload_sha256"}}, "payload": document["payload"]}

    def _original_path(self, user_id: str, pull_id: str) -> Path | None:
        owner, day, stem = pull_id.rsplit("/", 2)
        if owner != user_id or not _PULL_NAME.match(stem):
            return None
        for suffix in (FULL_SUFFIX, PLAIN_SUFFIX):
            path = self._user_dir(user_id) / day / f"{stem}{suffix}"
            if path.is_file():
                return path
        return None

    def remove_user(self, user_id: str) -> int:
        """Delete every landed pull of one user; returns how many pulls went.

        The only deletion the landing zone allows, and only on a person's explicit request.
        """
        count = sum(1 for _ in self.pulls(user_id))
        user_dir = self._user_dir(user_id)
        if user_dir.is_dir():
            shutil.rmtree(user_dir)
        return count


def _append_line(path: Path, data: bytes) -> None:
    """One whole line at the end of `path`, fsynced. A line torn by an earlier crash is closed first,
    so it stays one unreadable line instead of spoiling this one."""
    created = not path.exists()
    with open(path, "ab") as handle:
        if handle.tell() > 0:
            with open(path, "rb") as reader:
                reader.seek(-1, os.SEEK_END)
                if reader.read(1) != b"\n":
                    handle.write(b"\n")
        handle.write(data + b"\n")
        handle.flush()
        os.fsync(handle.fileno())
    if created:
        fsync_folder(path.parent)


def _repeat_lines(path: Path) -> Iterator[dict[str, Any]]:
    """The well-formed lines of a repeats file; torn or foreign lines are skipped."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return
    except OSError as exc:
        raise LandingError(f"repeats file {path} is not readable: {exc}") from exc
    for line in raw.split(b"\n"):
        if not line or len(line) > MAX_REPEAT_LINE_BYTES:
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if (
            isinstance(entry, dict)
            and entry.get("format") == LANDING_FORMAT
            and isinstance(entry.get("pull"), str)
            and _PULL_NAME.match(entry["pull"])
            and isinstance(entry.get("same_as"), str)
            and isinstance(entry.get("payload_sha256"), str)
            and isinstance(entry.get("user_id"), str)
        ):
            yield entry


def _read_bounded(path: Path) -> bytes:
    """The file's JSON bytes, decompressed when gzip; refused beyond MAX_PULL_BYTES either way."""
    size = path.stat().st_size
    if size > MAX_PULL_BYTES:
        raise LandingError(
            f"landed pull {path} is {size:,} bytes, more than any recently-played answer ({MAX_PULL_BYTES:,} at most)"
        )
    if not path.name.endswith(FULL_SUFFIX):
        return path.read_bytes()
    with gzip.open(path, "rb") as handle:
        data = handle.read(MAX_PULL_BYTES + 1)
    if len(data) > MAX_PULL_BYTES:
        raise LandingError(
            f"landed pull {path} decompresses to more than any recently-played answer ({MAX_PULL_BYTES:,} bytes at most)"
        )
    return data


def read_pull(path: Path) -> dict[str, Any]:
    """The landed document of a full pull's file, checked for the envelope fields the loader relies on."""
    try:
        document = json.loads(_read_bounded(path))
    except (OSError, EOFError, zlib.error, ValueError) as exc:
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
