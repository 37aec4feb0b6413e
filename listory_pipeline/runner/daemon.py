"""The Dagster daemon of `listory ui`, with both code locations loaded in its own process.

What `dagster-daemon run` does (sensors, schedules, the run queue, backfills, each daemon's
heartbeat), except that sensors are evaluated here instead of over gRPC in a code server
(runner/workspace.py), and the workspace is not reloaded every minute: a location loaded in
process cannot change without a restart, so that reload only rebuilt the same snapshots.
Its idle loops wake less often (runner/idle_wakeups.py).

Usage: python -m listory_pipeline.runner.daemon   (DAGSTER_HOME set; `listory ui` starts it)
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

from listory_pipeline.runner.dagster_fixes import apply_dagster_fixes

if TYPE_CHECKING:
    from dagster import DagsterInstance

THREAD_CHECK_SECONDS = 5  # as Dagster's own controller loop
HEARTBEAT_CHECK_SECONDS = 60


def watch(controller) -> None:
    """Dagster's controller loop without its workspace refresh: raise if a daemon thread died,
    warn about daemons whose heartbeats stopped."""
    from dagster._utils.interrupts import raise_interrupts_as

    started = last_heartbeat_check = time.monotonic()
    while True:
        with raise_interrupts_as(KeyboardInterrupt):  # a SIGINT held by capture_interrupts ends the loop here
            time.sleep(THREAD_CHECK_SECONDS)
        controller.check_daemon_threads()  # raises when a thread is gone: the process ends
        now = time.monotonic()
        settled = now - started > 2 * controller._heartbeat_interval_seconds
        if settled and now - last_heartbeat_check > HEARTBEAT_CHECK_SECONDS:
            controller.check_daemon_heartbeats()
            last_heartbeat_check = now


@contextlib.contextmanager
def daemon_instance() -> Iterator[DagsterInstance]:
    """The instance of `DAGSTER_HOME` that the daemon's threads share all day (sensor ticks, the run
    queue, heartbeats): on PostgreSQL its storages keep their connections (dagster_fixes)."""
    from dagster import DagsterInstance

    from listory_pipeline.runner.dagster_fixes import hold_postgres_connections

    with DagsterInstance.get() as instance:
        hold_postgres_connections(instance)
        yield instance


def main() -> int:
    from dagster._daemon.controller import DEFAULT_DAEMON_HEARTBEAT_TOLERANCE_SECONDS, daemon_controller_from_instance
    from dagster._utils.interrupts import capture_interrupts

    from listory_pipeline.runner.dagster_fixes import SHARED_FILES, hold_sqlite_connections
    from listory_pipeline.runner.idle_wakeups import purge_ticks_less_often, sleep_interval_daemons_through
    from listory_pipeline.runner.workspace import in_process_load_target, share_the_instance_with_sensors

    apply_dagster_fixes()
    hold_sqlite_connections(only=SHARED_FILES)  # read and written all day by this process's threads
    share_the_instance_with_sensors()
    sleep_interval_daemons_through()
    tolerance = int(os.environ.get("DAGSTER_DAEMON_HEARTBEAT_TOLERANCE") or DEFAULT_DAEMON_HEARTBEAT_TOLERANCE_SECONDS)
    try:
        with capture_interrupts(), daemon_instance() as instance:
            purge_ticks_less_often(instance)
            with daemon_controller_from_instance(
                instance,
                workspace_load_target=in_process_load_target(),
                heartbeat_tolerance_seconds=tolerance,
                log_level="info",
            ) as controller:
                logging.getLogger("dagster").info("listory daemon: code locations loaded in process %s", os.getpid())
                watch(controller)
    except KeyboardInterrupt:
        return 0
    return 1


if __name__ == "__main__":
    sys.exit(main())
