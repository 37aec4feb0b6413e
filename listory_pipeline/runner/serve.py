"""What `listory ui` runs in place of `dagster dev`: the webserver and the daemon, each with
the code locations loaded in its own process (runner/workspace.py), and nothing else.

Both are children of this process, in its process group (`listory ui` stops the group, see
runner/supervise.py). If either ends, the other is stopped and this process ends with an
error, as `dagster dev` does, so that a service manager restarts the whole.

Usage: python -m listory_pipeline.runner.serve --host H --port P   (DAGSTER_HOME set)
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time

from listory_pipeline.runner.instance import open_and_close_instance

STOP_WAIT_SECONDS = 30.0


def commands(host: str, port: int) -> dict[str, list[str]]:
    return {
        "webserver": [sys.executable, "-m", "listory_pipeline.runner.webserver", "--host", host, "--port", str(port)],
        "daemon": [sys.executable, "-m", "listory_pipeline.runner.daemon"],
    }


def stop(processes: dict[str, subprocess.Popen]) -> None:
    """SIGINT (Dagster's clean shutdown) to whatever still runs, then wait a bounded time."""
    for process in processes.values():
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
    deadline = time.monotonic() + STOP_WAIT_SECONDS
    for process in processes.values():
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()


def _prepare_reports_manifest() -> None:
    """The reports location is defined from dbt's manifest: written here once, before both processes
    load the location (a fresh clone has none; `dagster dev` used to run `dbt parse` for it)."""
    from listory_pipeline.reports.dbt_runner import DbtParseError, ensure_project_manifest
    from listory_pipeline.settings import ConfigError, load_settings

    try:
        ensure_project_manifest(load_settings())
    except (ConfigError, DbtParseError) as exc:  # the UI then shows the reports location's load error
        print(f"listory ui: the dbt manifest could not be prepared: {exc}", file=sys.stderr)


def _create_the_instance_storage() -> None:
    """Open and close the instance once, before both processes open it. On a new instance each
    would create the SQLite files at the same moment, and Dagster's run storage, finding the
    tables another process has just made but not yet stamped, stamps an older migration beside
    the newest: with two versions recorded, every later opening of the instance fails."""
    open_and_close_instance("listory ui: the Dagster instance could not be opened")


def _interrupt(_signum, _frame) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m listory_pipeline.runner.serve")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3000)
    args = parser.parse_args(argv)
    # Ctrl-C and `listory ui`'s stop reach the whole group: end here too, even when started with
    # SIGINT ignored (a background job of a non-interactive shell inherits that).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _interrupt)
    _prepare_reports_manifest()
    _create_the_instance_storage()
    processes: dict[str, subprocess.Popen] = {}
    try:
        for name, command in commands(args.host, args.port).items():
            processes[name] = subprocess.Popen(command)
        by_pid = {process.pid: name for name, process in processes.items()}
        while True:
            pid, status = os.wait()  # blocked until a child ends (or a signal ends us)
            if pid in by_pid:
                processes[by_pid[pid]].returncode = os.waitstatus_to_exitcode(status)
                print(f"listory ui: the {by_pid[pid]} ended (exit code {processes[by_pid[pid]].returncode}); stopping",
                      file=sys.stderr)
                return 1
    except KeyboardInterrupt:
        return 0
    finally:
        stop(processes)


if __name__ == "__main__":
    sys.exit(main())
