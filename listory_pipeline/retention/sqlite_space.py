"""Give the space of deleted rows back to the file system on the embedded SQLite instance.

SQLite keeps freed pages inside the file; only VACUUM returns them. It needs a moment of
exclusive access, which the daemon and the webserver give between their writes: a database
busy for longer than the timeout is left for the next run and said so. PostgreSQL reclaims
space with its own autovacuum, so nothing is done there.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from dagster import DagsterInstance

# The embedded instance's shared databases, relative to DAGSTER_HOME (per-run files are removed whole).
SHARED_DATABASES = ("history/runs.db", "history/runs/index.db", "schedules/schedules.db")
BUSY_TIMEOUT_SECONDS = 30.0


@dataclass
class SpaceOutcome:
    bytes_before: int = 0
    bytes_after: int = 0
    vacuumed: list[str] = field(default_factory=list)
    busy: list[str] = field(default_factory=list)


def sqlite_databases(instance: DagsterInstance) -> list[Path]:
    """The shared SQLite files of this instance; empty for PostgreSQL (or any storage not kept in them)."""
    if not getattr(instance.event_log_storage, "is_run_sharded", False):
        return []
    root = Path(instance.root_directory)
    return [root / name for name in SHARED_DATABASES if (root / name).is_file()]


def reclaim_space(instance: DagsterInstance, *, timeout_seconds: float = BUSY_TIMEOUT_SECONDS) -> SpaceOutcome:
    outcome = SpaceOutcome()
    for path in sqlite_databases(instance):
        before = os.path.getsize(path)
        outcome.bytes_before += before
        try:
            connection = sqlite3.connect(path, timeout=timeout_seconds, isolation_level=None)
            try:
                connection.execute("VACUUM")
            finally:
                connection.close()
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
            outcome.busy.append(path.name)
        else:
            outcome.vacuumed.append(path.name)
        outcome.bytes_after += os.path.getsize(path)
    return outcome
