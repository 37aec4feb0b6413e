"""One report build at a time per LISTORY_HOME, across processes.

`listory reports build` and a scheduled report run may start together; both would write the
same DuckDB file (the second fails on its writer lock after dbt's retries) and the same dbt
state in `dbt-target/`. A file lock there makes the second wait, and say so.
"""

from __future__ import annotations

import fcntl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from listory_pipeline.reports.project import dbt_target_path
from listory_pipeline.settings import Settings


@dataclass(frozen=True)
class Waiting:
    """Another process is building this home's reports; this build starts when that one ends."""

    message: str


class BuildCancelled(RuntimeError):
    """The build was cancelled while it waited for another build of the same home."""


@contextmanager
def home_build_lock(
    settings: Settings,
    on_wait: Callable[[Waiting], None] | None = None,
    cancelled: threading.Event | None = None,
) -> Iterator[None]:
    """Hold `LISTORY_HOME/dbt-target/build.lock` (released by the OS if the holder dies)."""
    target = dbt_target_path(settings)
    target.mkdir(parents=True, exist_ok=True)
    stop = cancelled or threading.Event()  # never set: waits like a sleep
    with open(target / "build.lock", "a") as handle:
        told = False
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not told and on_wait is not None:
                    on_wait(Waiting(f"another report build is running in {settings.home}; waiting for it to end"))
                told = True
                if stop.wait(0.2):
                    raise BuildCancelled("cancelled while waiting for another report build") from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
