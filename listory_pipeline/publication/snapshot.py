"""Publishing the warehouse: a consistent byte copy swapped in with one rename.

The copy is taken while the publisher holds the pipeline's file for writing, right
after a CHECKPOINT, so it holds whole transactions only: a load or a report build
appears in it entirely or not at all. `os.replace` swaps it in; readers still
connected to the previous copy keep reading that file (the kernel keeps an
unlinked file alive while it is open), so no reader ever waits or fails.

Publishing costs a copy of the whole file (measured in
benchmarks/concurrent_readers.py), so writers publish at most every
`min_interval_seconds`: a write session publishes on its way out when the last
copy is older than that, and `warehouse_publish_sensor` publishes whatever a
later session left, once it is older than twice that. A play is therefore
visible to new connections within about 2 × interval + the sensor's interval.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import duckdb

STATE_FILE = "publication.json"
# The trailing publish (warehouse_publish_sensor) checks this often, and copies what a write
# session left unpublished once the last copy is this many intervals old: while loads come
# often, their own sessions publish and the sensor, finding a fresh copy, takes no lock.
TRAILING_CHECK_SECONDS = 10
TRAILING_AGE_FACTOR = 2.0
_TEMP_PREFIX = ".publishing-"
_PUBLISHED_MODE = 0o400  # read-only for its owner (LISTORY_HOME is private): a read-write open fails except as root


class PublicationError(RuntimeError):
    """The read copy cannot be published without risking data; the message says what to do."""


@dataclass(frozen=True)
class Publication:
    """Where the pipeline writes, where readers read, and how often a copy may be taken."""

    writer_path: Path
    published_path: Path
    min_interval_seconds: float = 15.0

    @property
    def state_path(self) -> Path:
        return self.writer_path.with_name(STATE_FILE)


def _wal_of(path: Path) -> Path:
    return path.with_name(path.name + ".wal")


@dataclass(frozen=True)
class PublishedState:
    """What the current read copy was taken from, so an unchanged warehouse is not copied again."""

    generation: int
    published_at: float  # unix seconds
    source_mtime_ns: int
    source_size: int  # the copy's size too, unless a bookkeeping session moved the signature since
    seconds: float


def read_state(publication: Publication) -> PublishedState | None:
    try:
        raw = json.loads(publication.state_path.read_text(encoding="utf-8"))
        return PublishedState(**raw)
    except FileNotFoundError:
        return None
    except (ValueError, TypeError):
        return None  # a torn or foreign state file only means "publish again"


def _source_signature(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return stat.st_mtime_ns, stat.st_size


def is_stale(publication: Publication) -> bool:
    """True when the read copy is missing or older than the pipeline's file (a cheap stat, no lock).

    DuckDB rewrites the file only when it checkpoints (every write session ends with one)
    and leaves it untouched on a session that wrote nothing, so the file's mtime and size
    say whether anything committed since the copy was taken.
    """
    signature = _source_signature(publication.writer_path)
    if signature is None:
        return False
    state = read_state(publication)
    if state is None or not publication.published_path.exists():
        return True
    return (state.source_mtime_ns, state.source_size) != signature or _wal_of(publication.writer_path).exists()


def is_due(publication: Publication, *, now: float | None = None, min_age_seconds: float | None = None) -> bool:
    """True when the last copy is older than `min_age_seconds` (default: the interval), or missing."""
    state = read_state(publication)
    if state is None or not publication.published_path.exists():
        return True
    age = (time.time() if now is None else now) - state.published_at
    return age >= (publication.min_interval_seconds if min_age_seconds is None else min_age_seconds)


def freshness_bound_seconds(publication: Publication) -> float:
    """The longest a committed write waits before new connections see it (plus one copy's time)."""
    return publication.min_interval_seconds * TRAILING_AGE_FACTOR + TRAILING_CHECK_SECONDS


def publish_trailing(publication: Publication, *, wait_seconds: float) -> PublishedState | None:
    """What the sensor does: publish a write no session published, once the copy is old enough."""
    if not is_stale(publication):
        return None
    if not is_due(publication, min_age_seconds=publication.min_interval_seconds * TRAILING_AGE_FACTOR):
        return None
    return publish(publication, wait_seconds=wait_seconds)


def adopt_legacy_warehouse(publication: Publication) -> bool:
    """Move a warehouse from before the read copy existed to where the pipeline now writes.

    Until then the pipeline wrote `LISTORY_HOME/warehouse.duckdb` itself. A home that has
    that file but neither the pipeline's file nor a publication state is such a home: the
    file is renamed (atomic, same folder tree), so no play is lost and the next publish
    puts a copy back where readers look. Returns True when it moved the file.
    """
    if publication.writer_path.exists() or publication.state_path.exists():
        return False
    if not publication.published_path.exists():
        return False
    publication.writer_path.parent.mkdir(parents=True, exist_ok=True)
    os.replace(publication.published_path, publication.writer_path)
    legacy_wal = _wal_of(publication.published_path)
    if legacy_wal.exists():
        os.replace(legacy_wal, _wal_of(publication.writer_path))
    return True


def publish_from(publication: Publication, conn: "duckdb.DuckDBPyConnection", *, force: bool = False) -> PublishedState | None:
    """Take and swap in a copy through `conn`, a read-write connection to the pipeline's file.

    Holding that connection keeps every other writer out, so the bytes copied are one
    committed state. Returns None when nothing changed since the last copy (unless force).
    """
    conn.execute("CHECKPOINT")
    state = read_state(publication)
    signature = _source_signature(publication.writer_path)
    if signature is None:
        raise PublicationError(f"{publication.writer_path} does not exist: nothing to publish")
    # Ours or not is told by the state file being there, not by it parsing: a torn one only
    # means "publish again".
    if not publication.state_path.exists() and publication.published_path.exists():
        raise PublicationError(
            f"{publication.published_path} exists but was not published by the pipeline "
            f"({publication.state_path} is missing), so replacing it could lose data: if it holds "
            f"your plays, move it to {publication.writer_path} (replacing that file), otherwise delete it"
        )
    if not force and state is not None and publication.published_path.exists():
        if (state.source_mtime_ns, state.source_size) == signature:
            return None
    started = time.perf_counter()
    target = publication.published_path
    target.parent.mkdir(parents=True, exist_ok=True)
    for leftover in target.parent.glob(_TEMP_PREFIX + "*"):
        leftover.unlink(missing_ok=True)  # a publisher that died mid-copy; we hold the writer, so none runs now
    temporary = target.with_name(f"{_TEMP_PREFIX}{os.getpid()}-{target.name}")
    try:
        shutil.copyfile(publication.writer_path, temporary)
        with open(temporary, "rb") as handle:
            os.fsync(handle.fileno())
        os.chmod(temporary, _PUBLISHED_MODE)
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    published = PublishedState(
        generation=(state.generation + 1) if state else 1,
        published_at=time.time(),
        source_mtime_ns=signature[0],
        source_size=signature[1],
        seconds=round(time.perf_counter() - started, 4),
    )
    _write_state(publication, published)
    return published


def keep_current_after_bookkeeping(publication: Publication, conn: "duckdb.DuckDBPyConnection") -> bool:
    """After a session that wrote only the pipeline's own bookkeeping (which pulls were loaded, how
    far the landing zone was read), say that the read copy is still current, without copying.

    Most crawls get the answer of a minute ago: their load records that and nothing readers
    query (`core.*`, `reports.*`) changes, yet copying the whole warehouse for it would rewrite
    the file every few seconds (160 MB a copy for five users after a year: ~1 TB of disk
    writes a day). Through `conn`, which holds the writer, the file is checkpointed and its new
    signature recorded; the copy's generation and age stay. Only when the copy was current
    before the session (checked by the caller with `is_stale` at its start): otherwise an
    earlier change is still waiting, and the usual rules publish it. The bookkeeping itself
    (`meta.loaded_pulls`, `meta.landing_watermarks`) reaches readers with the next copy.
    """
    state = read_state(publication)
    if state is None or not publication.published_path.exists():
        return False
    conn.execute("CHECKPOINT")
    signature = _source_signature(publication.writer_path)
    if signature is None:
        return False
    _write_state(publication, replace(state, source_mtime_ns=signature[0], source_size=signature[1]))
    return True


def _write_state(publication: Publication, state: PublishedState) -> None:
    temporary = publication.state_path.with_name(publication.state_path.name + f".{os.getpid()}.tmp")
    temporary.write_text(json.dumps(asdict(state)), encoding="utf-8")
    os.replace(temporary, publication.state_path)


def publish(publication: Publication, *, wait_seconds: float, force: bool = False) -> PublishedState | None:
    """Publish now if the pipeline's file changed since the last copy (or always, with force).

    Waits up to `wait_seconds` for a pipeline writer to finish, as any writer does; returns
    None when the copy was already current.
    """
    from listory_pipeline.warehouse.connection import connect_with_retry

    adopt_legacy_warehouse(publication)
    if not publication.writer_path.exists():
        return None
    if not force and not is_stale(publication):
        return None
    conn = connect_with_retry(publication.writer_path, wait_seconds=wait_seconds)
    try:
        return publish_from(publication, conn, force=force)
    finally:
        conn.close()
