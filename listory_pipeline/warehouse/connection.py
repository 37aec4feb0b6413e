"""Opening the DuckDB warehouse: bounded waiting on the file lock, migrations, counted writes.

DuckDB admits one process with the file open for writing; any other process,
reader or writer, gets an IOException. Only the pipeline opens its file (readers
open the published copy, see listory_pipeline/publication), so the lock is shared
by the pipeline's own writers: one that finds the file locked waits and retries
within a budget, then fails with a message that names the file, so the landed
pulls simply wait for the next load. A write session given a `Publication`
publishes the read copy on its way out when one is due.
"""

from __future__ import annotations

import random
import re
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import duckdb

from listory_pipeline.publication.snapshot import (
    Publication,
    adopt_legacy_warehouse,
    is_due,
    is_stale,
    keep_current_after_bookkeeping,
    publish_from,
)
from listory_pipeline.sqlfiles import sql_file
from listory_pipeline.warehouse.migrations import apply_migrations


_PARAMETER = re.compile(r"\$([A-Za-z_]\w*)")


def bind(sql: str, params: Any) -> Any:
    """Only the named parameters a statement uses: DuckDB rejects extra ones."""
    if not isinstance(params, dict):
        return params
    wanted = set(_PARAMETER.findall(sql))
    return {name: value for name, value in params.items() if name in wanted}


class WarehouseLockedError(RuntimeError):
    """Another process held the DuckDB file for longer than the wait budget."""


def _is_lock_error(exc: Exception) -> bool:
    text = str(exc).lower()
    return "lock" in text and ("conflicting" in text or "could not set" in text)


def connect_with_retry(
    path: Path,
    *,
    read_only: bool = False,
    wait_seconds: float = 120.0,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> duckdb.DuckDBPyConnection:
    path = Path(path)
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    deadline = clock() + wait_seconds
    delay = 0.05
    attempts = 0
    while True:
        attempts += 1
        try:
            return duckdb.connect(str(path), read_only=read_only)
        except duckdb.IOException as exc:
            if not _is_lock_error(exc):
                raise
            remaining = deadline - clock()
            if remaining <= 0:
                raise WarehouseLockedError(
                    f"the warehouse {path} stayed locked by another process for "
                    f"{wait_seconds:.0f} s ({attempts} attempts); landed pulls wait for the next load"
                ) from exc
            sleep(min(delay * (1 + random.random()), remaining))
            delay = min(delay * 2, 2.0)


@dataclass
class StatementCounter:
    """Counts write statements by table, the figure the load promises to keep constant."""

    by_table: dict[str, int] = field(default_factory=dict)

    def add(self, table: str) -> None:
        self.by_table[table] = self.by_table.get(table, 0) + 1

    def snapshot(self) -> dict[str, int]:
        return dict(self.by_table)

    def since(self, snapshot: dict[str, int]) -> dict[str, int]:
        """Writes made after `snapshot`, by table."""
        return {
            table: count - snapshot.get(table, 0)
            for table, count in self.by_table.items()
            if count != snapshot.get(table, 0)
        }


class Warehouse:
    """A migrated read-write connection plus a counter of the writes made through it."""

    def __init__(self, conn: duckdb.DuckDBPyConnection) -> None:
        self.conn = conn
        self.writes = StatementCounter()
        # False once a session says it wrote nothing readers query, only the pipeline's own
        # bookkeeping (see open_warehouse): the read copy is then not taken again for it.
        self.reader_visible = True

    def only_bookkeeping(self) -> None:
        """What this session wrote changes nothing in `core.*` or `reports.*`."""
        self.reader_visible = False

    def write(self, table: str, sql: str, params: Any = None) -> duckdb.DuckDBPyConnection:
        self.writes.add(table)
        return self.conn.execute(sql, bind(sql, params)) if params is not None else self.conn.execute(sql)

    def read(self, sql: str, params: Any = None) -> list[tuple]:
        cursor = self.conn.execute(sql, bind(sql, params)) if params is not None else self.conn.execute(sql)
        return cursor.fetchall()

    @contextmanager
    def transaction(self) -> Iterator["Warehouse"]:
        self.conn.execute("BEGIN TRANSACTION")
        try:
            yield self
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        else:
            self.conn.execute("COMMIT")


def warm_up_duckdb() -> None:
    """Initialise DuckDB's process-wide state (its built-in functions, the JSON extension, time
    zones) with a throwaway in-memory database.

    The crawl fork server calls this once: each forked run worker's first connection to the
    warehouse then costs ~30 ms of CPU instead of ~55 (measured on a 20 MB warehouse), on
    every crawl run.
    """
    connection = duckdb.connect(":memory:")
    try:
        connection.execute(sql_file(__file__, "load.sql")["warm_up"]).fetchall()
    finally:
        connection.close()


@contextmanager
def reading_warehouse(path: Path, *, wait_seconds: float = 30.0) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection, closed on exit: while it is open, no other process can write."""
    conn = connect_with_retry(path, read_only=True, wait_seconds=wait_seconds)
    try:
        yield conn
    finally:
        conn.close()


@contextmanager
def open_warehouse(
    path: Path, *, wait_seconds: float = 120.0, publication: Publication | None = None
) -> Iterator[Warehouse]:
    """A read-write, migrated warehouse; the connection closes (and the lock frees) on exit.

    With a publication, a session that ends without an error publishes the read copy while
    it still holds the file, when the last copy is older than the publication's interval:
    no second lock is taken, so publishing never makes another writer wait for it. A session
    that called `only_bookkeeping()` on a current copy leaves the copy as it is (see
    `publication.snapshot.keep_current_after_bookkeeping`).
    """
    if publication is not None:
        if Path(path) != publication.writer_path:
            raise ValueError(f"{path} is not the publication's warehouse {publication.writer_path}")
        adopt_legacy_warehouse(publication)
    conn = connect_with_retry(path, wait_seconds=wait_seconds)
    try:
        copy_was_current = publication is not None and not is_stale(publication)
        apply_migrations(conn)
        warehouse = Warehouse(conn)
        yield warehouse
        if publication is not None:
            if not warehouse.reader_visible and copy_was_current:
                keep_current_after_bookkeeping(publication, conn)
            elif is_due(publication):
                publish_from(publication, conn)
    finally:
        conn.close()
