"""Keep the Dagster processes `listory ui` starts tied to its own life.

The serving process (runner/serve.py) runs in a session of its own (so a terminal's Ctrl-C
reaches it once, through us), with the webserver, the daemon and the fork servers in its
process group. A service manager stops us with SIGTERM, a closed terminal with SIGHUP:
for any of them, and for Ctrl-C, the group gets what a terminal's Ctrl-C would give it
(SIGINT, Dagster's clean shutdown), then SIGTERM, then SIGKILL for whatever is still
there, each after a bounded wait. Nothing of the group outlives us.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time

STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)


class _StopRequested(Exception):
    """A stop signal arrived while waiting for the group's leader."""


def start_in_own_group(command: list[str], env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(command, env=env, start_new_session=True)


def supervise(process: subprocess.Popen, *, grace_seconds: float = 30.0) -> int:
    """Wait for `process`; on a stop signal, stop its whole group. Returns its exit code (0 when stopped)."""
    def on_signal(signum, _frame) -> None:
        raise _StopRequested(signum)

    previous = {signum: signal.getsignal(signum) for signum in STOP_SIGNALS}
    try:
        try:
            for signum in STOP_SIGNALS:
                signal.signal(signum, on_signal)
            # Blocked in waitpid until the group's leader ends or a stop signal arrives: a service
            # that runs for months wakes for nothing else (a timed wait polls every few ms).
            return process.wait()
        except _StopRequested:
            for signum in STOP_SIGNALS:  # a second signal must not cut the stop short
                signal.signal(signum, lambda *_: None)
            stop_group(process, grace_seconds=grace_seconds)
            return 0
    finally:
        _signal_group(process.pid, signal.SIGKILL)  # anything of the group left behind
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def stop_group(process: subprocess.Popen, *, grace_seconds: float) -> None:
    """SIGINT to the group, then SIGTERM, then SIGKILL, waiting for the leader between them."""
    for signum, wait in ((signal.SIGINT, grace_seconds), (signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
        _signal_group(process.pid, signum)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if process.poll() is not None and not _group_alive(process.pid):
                return
            time.sleep(0.1)


def _signal_group(pgid: int, signum: int) -> None:
    try:
        os.killpg(pgid, signum)
    except (ProcessLookupError, PermissionError):
        pass


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
