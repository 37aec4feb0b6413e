"""The one documented way to read the warehouse: the published copy, read-only.

Every reader command of the CLI goes through here, and `connection_help` prints the
same recipe for the DuckDB CLI and Python that the demo, `listory ui` and the README
give, so what people type is what the project itself does.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import duckdb

from listory_pipeline.publication.snapshot import adopt_legacy_warehouse, freshness_bound_seconds, publish
from listory_pipeline.settings import Settings


def prepare_read_copy(settings: Settings, *, wait_seconds: float | None = None) -> Path | None:
    """The read copy's path, publishing a first one if the pipeline's file has none yet.

    Only a home that has never published (or one from before the read copy existed)
    takes the writer's lock here, once, waiting at most 30 s (or the configured lock
    wait, if shorter); every later call is a stat. None: no warehouse.
    """
    publication = settings.publication
    adopt_legacy_warehouse(publication)
    if not publication.published_path.exists() and publication.writer_path.exists():
        from listory_pipeline.warehouse.connection import WarehouseLockedError

        if wait_seconds is None:
            wait_seconds = min(30.0, settings.warehouse_lock_wait_seconds)
        try:
            publish(publication, wait_seconds=wait_seconds)
        except WarehouseLockedError as exc:
            raise WarehouseLockedError(
                f"there is no read copy yet and the warehouse {publication.writer_path} stayed locked by another "
                f"process for {wait_seconds:.0f} s: try again once that write is done"
            ) from exc
    return publication.published_path if publication.published_path.exists() else None


# `listory sql` runs people's SQL: no files read or written beyond the copy, no extension
# fetched, and the query cannot switch either back on.
_SANDBOX = (
    "SET enable_external_access = false",
    "SET autoinstall_known_extensions = false",
    "SET autoload_known_extensions = false",
    "SET lock_configuration = true",
)


def open_read_copy(path: Path, *, sandboxed: bool = False) -> duckdb.DuckDBPyConnection:
    """An in-memory connection with the read copy attached read-only as `warehouse`, in use.

    Attached rather than opened: `duckdb.connect(path)` hands back the database this process
    already has open for that path, with its old snapshot, while a new attach opens the file
    the name points to now. So a process that keeps one connection open still gets fresh
    data from the next one.
    """
    conn = duckdb.connect()
    try:
        quoted = str(path).replace("'", "''")
        conn.execute(f"ATTACH '{quoted}' AS warehouse (READ_ONLY)")
        conn.execute("USE warehouse")
        for statement in _SANDBOX if sandboxed else ():
            conn.execute(statement)
    except BaseException:
        conn.close()
        raise
    return conn


@contextmanager
def reading_read_copy(path: Path, *, sandboxed: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    conn = open_read_copy(path, sandboxed=sandboxed)
    try:
        yield conn
    finally:
        conn.close()


def has_user(path: Path, user_id: str) -> bool:
    """Whether the read copy at `path` knows `user_id` (core.users): the reader commands name an unknown one."""
    with reading_read_copy(path) as conn:
        return conn.execute("select count(*) from core.users where user_id = ?", [user_id]).fetchone()[0] > 0


def publish_after_writes(settings: Settings):
    """Publish what a command wrote, so the next reader sees it at once (no-op when current)."""
    return publish(settings.publication, wait_seconds=settings.warehouse_lock_wait_seconds)


def connection_help(settings: Settings) -> list[str]:
    """How to connect, for people: the DuckDB CLI line and the Python snippet."""
    path = settings.published_warehouse_path
    return [
        "Query the warehouse from any DuckDB client, read-only, while the pipeline runs:",
        f"  duckdb -readonly {path}",
        f"  python: con = duckdb.connect(); con.execute(\"ATTACH '{path}' AS warehouse (READ_ONLY); USE warehouse\")",
        "  uv run listory sql \"select * from core.listens limit 10\"",
        "A connection sees the data as of when it opened; open a new one for plays loaded since "
        f"(republished within {freshness_bound_seconds(settings.publication):.0f} s of a load).",
    ]
