"""How a forked run worker treats its storage connections and its output.

A crawl run writes ~30 events in under a second, and Dagster opens a connection for each
of its ~130 storage operations. On SQLite each of those connections is the file's last one
when it closes, so SQLite checkpoints the write-ahead log into the database and deletes it
every time: connecting, committing and closing were a third of a crawl run's CPU. On
PostgreSQL each is a new server session (a backend process forked on the server). A run
worker lives for one run, so it keeps its connections open until the run ends: one per
SQLite file (see `dagster_fixes.hold_sqlite_connections`), and on PostgreSQL one per
storage (`dagster_fixes.hold_postgres_connections`, as the daemon and the webserver do).

Dagster's local compute log manager also starts two `tail -F` processes and two Python
watchdogs per run to mirror the captured stdout/stderr onto the worker's own, that is the
daemon's output: ~35 ms of CPU a run, to copy crawl output into the service's journal.
The worker writes its output to the captured files only; the UI shows them as before.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from listory_pipeline.runner import dagster_fixes


def prepare_worker_process() -> None:
    """Before the run's instance is opened: keep SQLite connections, capture output without mirroring it."""
    from dagster._core.execution import compute_logs

    dagster_fixes.hold_sqlite_connections(only=frozenset())  # every file: the run's own and the shared ones
    compute_logs.tail_to_stream = _no_mirror


@contextlib.contextmanager
def _no_mirror(_path, _stream) -> Iterator[tuple[None, None]]:
    """Dagster's `tail_to_stream` without the tail: what it yields are the pids it started (none)."""
    yield (None, None)


def release_connections() -> None:
    dagster_fixes.release_sqlite_connections()
