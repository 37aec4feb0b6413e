"""The Dagster webserver of `listory ui`, with both code locations loaded in its own process.

What `dagster-webserver` does, on a workspace whose locations are loaded here rather than
served by code servers (runner/workspace.py): nothing polls them while nobody looks at
the UI, and uvicorn's own loop wakes once a second instead of ten times (runner/idle_wakeups.py).

Usage: python -m listory_pipeline.runner.webserver --host H --port P   (DAGSTER_HOME set)
"""

from __future__ import annotations

import argparse
import sys

from listory_pipeline.runner.dagster_fixes import apply_dagster_fixes

# dagster-webserver's own defaults for a long-running server's storage connections
DB_STATEMENT_TIMEOUT_MS = 15000
DB_POOL_RECYCLE_SECONDS = 3600
DB_POOL_MAX_OVERFLOW = 20
LIVE_DATA_POLL_MS = 2000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m listory_pipeline.runner.webserver")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3000)
    args = parser.parse_args(argv)

    from dagster import DagsterInstance
    from dagster._core.workspace.context import WorkspaceProcessContext
    from dagster._utils.log import configure_loggers
    from dagster_webserver.cli import host_dagster_ui_with_workspace_process_context
    from dagster_webserver.version import __version__

    from listory_pipeline.runner.dagster_fixes import SHARED_FILES, hold_sqlite_connections
    from listory_pipeline.runner.idle_wakeups import tick_uvicorn_once_a_second
    from listory_pipeline.runner.workspace import in_process_load_target, share_the_instance_with_sensors

    apply_dagster_fixes()
    tick_uvicorn_once_a_second()
    hold_sqlite_connections(only=SHARED_FILES)  # read and written all day by this process's threads
    share_the_instance_with_sensors()
    configure_loggers(log_level="INFO")
    try:
        with DagsterInstance.get() as instance:
            instance.optimize_for_webserver(DB_STATEMENT_TIMEOUT_MS, DB_POOL_RECYCLE_SECONDS, DB_POOL_MAX_OVERFLOW)
            with WorkspaceProcessContext(
                instance, workspace_load_target=in_process_load_target(), version=__version__, read_only=False
            ) as context:
                host_dagster_ui_with_workspace_process_context(
                    context, args.host, args.port, "", "warning", LIVE_DATA_POLL_MS
                )
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
