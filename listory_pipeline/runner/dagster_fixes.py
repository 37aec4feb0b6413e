"""Corrections to Dagster applied in every process that loads this project's code.

**A step waiting for a pool slot spins.** A step waiting for a pool slot (the warehouse's `duckdb` pool of one) is meant to sleep until
its next claim check, but Dagster 1.13's `InstanceConcurrencyContext.interval_to_next_pending_claim_check`
returns `min(0, ...)`, never more than zero, so the in-process executor loops without sleeping:
a crawl run queued behind another run's load burned a whole core while it waited (3.0 CPU-s a
run under `listory ui` with 20 users, against 0.8 when it did not wait). The claim itself is
re-checked on the same schedule either way; only the spinning goes. The intended behaviour
(the time until the earliest pending check, never negative) replaces the method, once.

**Every storage re-reads its migration scripts.** Opening a SQLite or PostgreSQL storage
checks the database's alembic revision against the newest one, which alembic finds by
importing every migration script again (~20 ms of CPU each time). A code server opens a fresh
instance, so several storages, for each sensor tick, and a run worker for each run: with six
sensors that was most of the code server's CPU. The newest revision of the installed Dagster
cannot change while a process runs, so it is looked up once per script folder; the
database's own revision is still read every time, so a database that needs
`dagster instance migrate` is still reported as such.

**Every SQLite connection compiles its SQL again.** Dagster's SQLite storages create a new
SQLAlchemy engine for every connection (with `NullPool`, so it holds no connection), and
SQLAlchemy caches compiled statements per engine: each of a crawl run's ~150 connections
paid for the engine (~1.3 ms) and for compiling every statement from scratch, about a third
of a run worker's CPU. Those engines are kept here, one per database file and arguments
(a bounded number): a `NullPool` engine is a factory of connections, each one still opened
and closed as before, so nothing is held open and a deleted file is simply created anew.
A run worker asks for more (`hold_sqlite_connections`, see runner/worker_io.py): its engines
keep one connection per file open until the run ends; the daemon and the webserver keep one
to each of the instance's shared files.

**Every PostgreSQL query is a new server session.** Dagster's PostgreSQL storages use
`NullPool`: each of the ~150 storage operations of a crawl run, and each of the daemon's
(sensor ticks, run queue, heartbeats), connects anew, and the server forks a backend
process for each and tears it down again, ~3-7 ms of the server's CPU a time on this
machine. Only the webserver, through `optimize_for_webserver`, keeps a connection. A run
worker and the daemon keep them too (`hold_postgres_connections`): one per storage, and
one more for a while whenever threads overlap, on the pool Dagster gives its webserver,
without the webserver's statement timeout.

**Every sensor tick reads the table list.** Dagster's schedule storage asks SQLite for the
database's table names (SQLAlchemy reflection) before reading or writing an instigator's
state, and whether its secondary indexes are built, several times per sensor tick: 12 % of
the daemon's CPU under `listory ui`. A table that exists, or an index migration that is done,
stays so while the process runs: a yes is remembered, a no is asked again.

**Counting runs reads every run.** The runs page asks for the number of runs, which Dagster
counts over a subquery selecting each run's serialized body: SQLite reads the whole runs table
(2.4 ms for 2,400 runs, growing with the history kept) to count rows an index already lists.
The count is taken over the runs' ids instead (0.17 ms): the same rows, the same filters.

**Every read of a run parses its body again.** The runs page, refreshed while it is open, and
the daemon's queue and sensors read the same finished runs again and again, and Dagster
rebuilds each run from its serialized body, then copies it with the status column's value,
every time: ~0.07 ms a run, about a sixth of the runs page with its 26 runs. A body's text
names one run exactly (a change of tags, status or anything else writes a new text), so the
last `RUN_BODIES_KEPT` runs read are kept built, keyed by that text and the status column
(which still overrides the body's, as in Dagster). The SQLite run storage's index checks (is
the backfill-id column filled?) are remembered once true, as the schedule storage's are and
as Dagster's PostgreSQL run storage already does: two queries on every runs page.

**Batched events are written one by one.** Dagster marks the "planned" events the daemon logs
for each new run as one batch, but writes batches only when `DAGSTER_EVENT_BATCH_SIZE` is set,
and is otherwise off. Batches are on here (`EVENT_BATCH_SIZE` events at most, unless that
variable says otherwise; 0 turns them off), and the embedded event log writes a batch in one
transaction per file (runner/event_log_storage.py). Any other storage writes a batch as before,
event by event, or as Dagster's PostgreSQL storage does.
"""

from __future__ import annotations

import functools
import importlib
import os
import sys
import threading
import time
from collections import OrderedDict

from sqlalchemy import create_engine as sqlalchemy_create_engine
from sqlalchemy import event as sqlalchemy_event
from sqlalchemy.pool import NullPool, QueuePool

from dagster._core.execution.plan.instance_concurrency_context import InstanceConcurrencyContext
from dagster._core.instance.methods.event_methods import EventMethods
from dagster._core.storage import sql as dagster_sql

# Dagster's SQLite storage modules: each took `check_alembic_revision` and `create_engine` by name.
SQLITE_STORAGE_MODULES = (
    "dagster._core.storage.sql",
    "dagster._core.storage.runs.sqlite.sqlite_run_storage",
    "dagster._core.storage.schedules.sqlite.sqlite_schedule_storage",
    "dagster._core.storage.event_log.sqlite.sqlite_event_log",
    "dagster._core.storage.event_log.sqlite.consolidated_sqlite_event_log",
)
# The PostgreSQL ones, which took `check_alembic_revision`: patched only when already loaded
# (importing dagster-postgres costs ~0.6 CPU-s, which a CLI command must not pay); the fork
# servers load it first and then apply the fixes again.
POSTGRES_ALEMBIC_CHECK_USERS = (
    "dagster_postgres.run_storage.run_storage",
    "dagster_postgres.schedule_storage.schedule_storage",
    "dagster_postgres.event_log.event_log",
)
_dagster_check_alembic_revision = dagster_sql.check_alembic_revision
KEPT_ENGINES = 256  # a run writes 2 files; the webserver reads many: the least recently used go
_engines: OrderedDict[str, object] = OrderedDict()
_engines_lock = threading.Lock()
_head_revisions: dict[tuple[str | None, str | None], str | None] = {}
_head_lock = threading.Lock()


def _interval_to_next_pending_claim_check(self: InstanceConcurrencyContext) -> float:
    if not self._pending_claims:
        return 0.0
    now = time.time()
    waits = [ready_at - now for ready_at in self._pending_timeouts.values()]
    return max(0.0, min(waits)) if waits else 0.0


def head_revision(alembic_config) -> str | None:
    """The newest migration of these scripts, read from disk once per process."""
    key = (alembic_config.config_file_name, alembic_config.get_main_option("script_location"))
    with _head_lock:
        if key not in _head_revisions:
            from alembic.script import ScriptDirectory

            _head_revisions[key] = ScriptDirectory.from_config(alembic_config).as_revision_number("head")
        return _head_revisions[key]


def remember_alembic_heads() -> None:
    """Read the newest migration of every storage module here, once: for a fork server, whose
    run workers would otherwise each load all ~60 migration scripts to learn it (~40 ms of CPU
    a crawl run, for the new event-log file every run opens)."""
    from dagster._core.storage.sql import get_alembic_config

    for name in SQLITE_STORAGE_MODULES[1:]:
        head_revision(get_alembic_config(importlib.import_module(name).__file__))
    if "dagster_postgres.utils" in sys.modules:
        from dagster_postgres.utils import pg_alembic_config

        for name in POSTGRES_ALEMBIC_CHECK_USERS:
            if name in sys.modules:
                head_revision(pg_alembic_config(sys.modules[name].__file__))


def check_alembic_revision(alembic_config, conn):
    """(the database's revision, the newest one): what Dagster's function returns, the second remembered."""
    from alembic.runtime.migration import MigrationContext

    with dagster_sql._alembic_lock:
        db_revision = MigrationContext.configure(conn).get_current_revision()
    return (db_revision, head_revision(alembic_config))


class HeldConnectionPool(QueuePool):
    """A pool that outlives Dagster's `engine.dispose()` after every use: one connection per file
    stays open for the process's life, another is opened only while the first is in use."""

    def dispose(self) -> None:  # Dagster disposes the engine after every connection
        pass

    def recreate(self) -> "HeldConnectionPool":
        return self

    def release(self) -> None:
        QueuePool.dispose(self)


# The instance's files every process uses (runs, ticks and sensor state, the event index), as
# opposed to the file of each run's events.
SHARED_FILES = frozenset({"runs.db", "schedules.db", "index.db"})
_held_files: frozenset[str] | None = None  # None: hold nothing; empty: hold every file
_inherited: list[object] = []  # engines a forked process got from its parent: never closed here


def hold_sqlite_connections(only: frozenset[str] | None = frozenset()) -> None:
    """From now on this process keeps one connection per SQLite file open (see the module's docstring),
    for every file, or only for the files named in `only` (e.g. SHARED_FILES); None stops holding.

    A run worker holds them all: its files are written ~30 times in a second, and each connection
    Dagster closes is the file's last, so SQLite checkpoints and deletes the write-ahead log every
    time. The daemon and the webserver hold the shared files, which their threads read and write
    all day. Engines this process inherited by fork are set aside, never closed: closing a SQLite
    connection opened by another process would drop that process's locks on the file.
    """
    global _held_files
    with _engines_lock:
        _held_files = only
        _inherited.extend(_engines.values())
        _engines.clear()


POSTGRES_POOL_RECYCLE_SECONDS = 3600  # dagster-webserver's default
NO_STATEMENT_TIMEOUT = 0  # PostgreSQL: 0 disables it, as Dagster's daemon and run workers have it


def hold_postgres_connections(instance) -> bool:
    """When `instance` keeps its storage on PostgreSQL, its storages keep their connections open
    from now on (see the module's docstring); False, and nothing changed, on any other storage.
    A process calls it for the instance it opened itself: connections must not cross a fork."""
    try:
        from dagster_postgres.run_storage import PostgresRunStorage
    except ImportError:  # pragma: no cover - a dependency; without it there is no PostgreSQL instance
        return False
    if not isinstance(instance.run_storage, PostgresRunStorage):
        return False
    instance.optimize_for_webserver(
        statement_timeout=NO_STATEMENT_TIMEOUT, pool_recycle=POSTGRES_POOL_RECYCLE_SECONDS, max_overflow=-1
    )
    return True


def _sync_wal_commits_normally(dbapi_connection, _record) -> None:
    """A held connection commits many small transactions (ticks, a run's events): in WAL mode,
    fsync at checkpoints rather than at every commit. SQLite's documented trade: the database is
    never corrupted, and a power cut may lose the last transactions (a tick, a run's last events,
    which run monitoring then settles); the landing zone, fsynced, stays the record of the crawl.
    A file not in WAL mode keeps full syncs."""
    cursor = dbapi_connection.cursor()
    try:
        (mode,) = cursor.execute("PRAGMA journal_mode").fetchone()
        if str(mode).lower() == "wal":
            cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()


def _holds(url: str) -> bool:
    if _held_files is None:
        return False
    return not _held_files or url.rsplit("/", 1)[-1] in _held_files


def release_sqlite_connections() -> None:
    """Close what `hold_sqlite_connections` kept open (a run worker's end)."""
    with _engines_lock:
        for engine in _engines.values():
            _release(engine)


def _release(engine) -> None:
    if isinstance(engine.pool, HeldConnectionPool):
        engine.pool.release()


def create_engine(url, **kwargs):
    """SQLAlchemy's `create_engine`, the same engine again for the same SQLite file and arguments
    when it pools nothing (what Dagster's SQLite storages ask for); anything else is created anew."""
    if kwargs.get("poolclass") is not NullPool or not str(url).startswith("sqlite:"):
        return sqlalchemy_create_engine(url, **kwargs)
    key = repr((str(url), sorted((name, repr(value)) for name, value in kwargs.items())))
    with _engines_lock:
        engine = _engines.get(key)
        if engine is None:
            if _holds(str(url)):
                held = {**kwargs, "poolclass": HeldConnectionPool, "pool_size": 1, "max_overflow": -1}
                engine = _engines[key] = sqlalchemy_create_engine(url, **held)
                sqlalchemy_event.listen(engine, "connect", _sync_wal_commits_normally)
            else:
                engine = _engines[key] = sqlalchemy_create_engine(url, **kwargs)
            while len(_engines) > KEPT_ENGINES:
                _release(_engines.popitem(last=False)[1])
        else:
            _engines.move_to_end(key)
        return engine


def _remembering_yes(method):
    """`method` (a table or index check of a storage) answering True from memory once it said True."""
    if getattr(method, "remembers_yes", False):
        return method

    @functools.wraps(method)
    def check(self, *args):
        key = (method.__name__, *(arg for arg in args if isinstance(arg, str)))  # not the connection
        seen = self.__dict__.setdefault("_listory_seen", set())
        if key in seen:
            return True
        answer = method(self, *args)
        if answer:
            seen.add(key)
        return answer

    check.remembers_yes = True
    return check


# Checks whose yes cannot turn into a no while a process runs, by the storage class defining them.
REMEMBERED_CHECKS = {
    "SqlScheduleStorage": (
        "_has_instigators_table",
        "_has_asset_daemon_asset_evaluations_table",
        "has_secondary_index_table",
        "has_built_index",
    ),
    "SqlRunStorage": ("has_built_index",),
}


def _get_runs_count(self, filters=None) -> int:
    """`SqlRunStorage.get_runs_count`, counting the matching runs' ids rather than their bodies."""
    from dagster._core.storage.sqlalchemy_compat import db_select, db_subquery
    from sqlalchemy import func

    subquery = db_subquery(self._runs_query(filters=filters, columns=["id"]))
    row = self.fetchone(db_select([func.count().label("count")]).select_from(subquery))
    return row["count"] if row else 0


RUN_BODIES_KEPT = 512  # a few runs pages (26 runs each) and the daemon's queue, a few MB at most


@functools.lru_cache(maxsize=RUN_BODIES_KEPT)
def _parsed_run(run_body: str, status: str):
    """The run a body's text and the status column describe (the column wins, as in Dagster)."""
    from dagster._core.storage.dagster_run import DagsterRun, DagsterRunStatus
    from dagster_shared.serdes import deserialize_value

    return deserialize_value(run_body, DagsterRun).with_status(DagsterRunStatus(status))


def _row_to_run(self, row: dict):
    """`SqlRunStorage._row_to_run`, parsed once per body text and status (runs are immutable records)."""
    return _parsed_run(row["run_body"], row["status"])


EVENT_BATCH_SIZE = 100  # more than a run ever plans: a run's planned events are one write


def _event_batch_size(_self) -> int:
    configured = os.environ.get("DAGSTER_EVENT_BATCH_SIZE", "").strip()
    return int(configured) if configured else EVENT_BATCH_SIZE


def apply_dagster_fixes() -> None:
    """Idempotent; safe to call from every entry point (code locations, fork servers)."""
    from dagster._core.storage.runs.sql_run_storage import SqlRunStorage
    from dagster._core.storage.schedules.sql_schedule_storage import SqlScheduleStorage

    SqlRunStorage.get_runs_count = _get_runs_count
    SqlRunStorage._row_to_run = _row_to_run
    for storage in (SqlScheduleStorage, SqlRunStorage):
        for name in REMEMBERED_CHECKS[storage.__name__]:
            setattr(storage, name, _remembering_yes(getattr(storage, name)))
    InstanceConcurrencyContext.interval_to_next_pending_claim_check = _interval_to_next_pending_claim_check
    EventMethods._get_event_batch_size = _event_batch_size
    sqlite_modules = [importlib.import_module(name) for name in SQLITE_STORAGE_MODULES]
    postgres_modules = [sys.modules[name] for name in POSTGRES_ALEMBIC_CHECK_USERS if name in sys.modules]
    for module in [*sqlite_modules, *postgres_modules]:
        if getattr(module, "check_alembic_revision", None) is _dagster_check_alembic_revision:
            module.check_alembic_revision = check_alembic_revision
    for module in sqlite_modules:
        if getattr(module, "create_engine", None) is sqlalchemy_create_engine:
            module.create_engine = create_engine
