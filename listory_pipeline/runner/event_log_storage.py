"""The embedded instance's event log: Dagster's SQLite storage, each run's file made from a template.

Dagster's SQLite event log keeps one database file per run. Creating one runs SQLAlchemy's
`create_all` and an alembic stamp (~90 ms of CPU), and leaves about 47 pages of 4 KB of empty
schema: a crawl run's file is ~180 KB, half of it structure. Crawl runs happen every few minutes
per user and the retention window keeps two weeks of them, so that structure is most of the
instance's disk. Here the schema is built once per Dagster version into a template stored with
1 KB pages, and each new run's file starts as a copy of it (~85 KB for a whole crawl run). The
files are ordinary Dagster shards: the same tables, the same alembic revision, WAL mode;
`dagster` itself reads them, and shards written before this class keep working.

The storage takes no configuration: it lives where Dagster's default does
(`<DAGSTER_HOME>/history/runs`), known once the instance registers itself (`register_instance`),
so the instance folder can be moved without editing `dagster.yaml`.

It also writes a batch of events (Dagster batches the ~6 "planned" events the daemon logs for
each run it creates) in one transaction per file. Dagster's SQLite storage stores them one by
one, each on a new connection to the run's file: a connection, a commit, a sync and a
write-ahead-log checkpoint per event, in the daemon, for every crawl run.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import threading
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import dagster
from dagster._config import StringSource
from dagster._core.events.log import EventLogEntry
from dagster._core.storage.event_log.sqlite.sqlite_event_log import INDEX_SHARD_NAME, SqliteEventLogStorage
from dagster._serdes import ConfigurableClassData
from sqlalchemy import create_engine
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import NullPool

from listory_pipeline.runner.dagster_fixes import apply_dagster_fixes

# Whatever process loads the instance (the daemon and the webserver too, which load no project
# code otherwise) gets the project's corrections to Dagster's storages (see dagster_fixes).
apply_dagster_fixes()

TEMPLATE_PAGE_SIZE = 1024  # SQLite's pages for run files: 512 would save ~10 % more, 4096 is the default


def template_name() -> str:
    """A template per Dagster version: a new version may change the schema or its revision."""
    return f".run-shard-template-{dagster.__version__}-p{TEMPLATE_PAGE_SIZE}.sqlite"


def compact_sqlite_file(path: Path, page_size: int) -> None:
    """Rewrite the database at `path` with `page_size` pages (VACUUM), keeping it in WAL mode."""
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        connection.execute("PRAGMA journal_mode=DELETE")  # a page size change needs a rollback journal
        connection.execute(f"PRAGMA page_size={int(page_size)}")
        connection.execute("VACUUM")
        connection.execute("PRAGMA journal_mode=WAL")
    finally:
        connection.close()


class TemplatedSqliteEventLogStorage(SqliteEventLogStorage):
    """`SqliteEventLogStorage` whose new run files are copies of a compact, already-stamped template.

    `base_dir` may be given as for Dagster's class; without it the storage uses the instance's
    own `history/runs` folder, and is set up when the instance registers.
    """

    def __init__(self, base_dir: str | None = None, inst_data: ConfigurableClassData | None = None) -> None:
        self._pending_inst_data = inst_data
        self._configured = False
        if base_dir is not None:
            self._set_up(base_dir)

    def _set_up(self, base_dir: str) -> None:
        self._configured = True
        self._template_path: Path | None = None
        self._batch = threading.local()
        super().__init__(base_dir, inst_data=self._pending_inst_data)
        # Dagster's lock over every connection of this storage, reentrant so that a batch can
        # hold a connection to a run's file and one to the index at once (see store_event_batch).
        self._db_lock = threading.RLock()

    def register_instance(self, instance) -> None:
        if not self._configured:
            self._set_up(os.path.join(instance.root_directory, "history", "runs"))
        super().register_instance(instance)

    @classmethod
    def config_type(cls) -> dict:
        return {"base_dir": dagster.Field(StringSource, is_required=False)}

    @classmethod
    def from_config_value(cls, inst_data: ConfigurableClassData | None, config_value: Mapping[str, Any]):
        return cls(inst_data=inst_data, **config_value)

    @property
    def inst_data(self) -> ConfigurableClassData | None:
        return self._pending_inst_data

    def store_event_batch(self, events: Sequence[EventLogEntry]) -> None:
        """Store the events exactly as `store_event` does, each file's writes in one transaction.

        Should a write fail, nothing of the batch is kept in the file that failed, and Dagster
        stores the events again one by one.
        """
        with ExitStack() as stack:
            self._batch.connections = {}
            self._batch.stack = stack
            try:
                for event in events:
                    self.store_event(event)
            finally:
                self._batch.connections = None

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        connections = getattr(self._batch, "connections", None)
        if connections is None:
            with super()._connect(shard) as connection:
                yield connection
            return
        if shard not in connections:  # opened once per batch; committed when the batch ends
            connections[shard] = self._batch.stack.enter_context(super()._connect(shard))
        yield connections[shard]

    def _initdb(self, engine: Engine, for_index_shard: bool = False) -> None:
        path = Path(engine.url.database or "")
        if not for_index_shard and path.name != f"{INDEX_SHARD_NAME}.db" and not path.exists():
            self._place_template_at(path)
        super()._initdb(engine, for_index_shard=for_index_shard)  # a no-op check on a stamped file

    def _place_template_at(self, path: Path) -> None:
        """Put a copy of the template at `path` unless a file is already there (another process's)."""
        template = self._template()
        scratch = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        try:
            shutil.copyfile(template, scratch)
            try:
                os.link(scratch, path)  # never replaces a run file another process has just created
            except FileExistsError:
                pass
        finally:
            scratch.unlink(missing_ok=True)

    def _template(self) -> Path:
        if self._template_path is not None and self._template_path.exists():
            return self._template_path
        template = Path(self._base_dir) / template_name()
        if not template.exists():
            scratch = template.with_name(f".{template.name}.{uuid.uuid4().hex}.tmp")
            try:
                engine = create_engine(f"sqlite:///{scratch}", poolclass=NullPool)
                SqliteEventLogStorage._initdb(self, engine)  # Dagster's own schema and alembic stamp
                engine.dispose()
                compact_sqlite_file(scratch, TEMPLATE_PAGE_SIZE)
                os.replace(scratch, template)  # processes racing here build identical files
            finally:
                scratch.unlink(missing_ok=True)
        self._template_path = template
        return template
