"""A run launcher that forks run workers from a warm process.

Dagster's default launcher asks the code server to spawn a fresh Python for
every run, which then imports dagster, its storage layer and the code location
again: about two CPU-seconds before the crawl does anything. Crawl runs happen
every minute for every listening user, so that start-up is most of the
pipeline's running cost. This launcher keeps one `multiprocessing` fork server
that has imported all of that once; each run worker is forked from it
(copy-on-write), opens the instance from its ref and executes the run exactly as
`dagster api execute_run` would. Runs stay isolated in their own processes.

Configure it in dagster.yaml:

    run_launcher:
      module: listory_pipeline.run_launcher
      class: ForkserverRunLauncher

It runs the job from the run's Python origin (`listory_pipeline.definitions`),
so it suits a single-machine deployment where the daemon and the code share an
environment; beyond one machine use Dagster's own distributed launchers.
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import signal
import threading
from collections.abc import Mapping
from typing import Any

from dagster import _check as check
from dagster._core.launcher.base import LaunchRunContext, RunLauncher
from dagster._serdes import ConfigurableClass, ConfigurableClassData

PID_TAG = "listory/run_worker_pid"
CPU_TAG = "listory/run_worker_cpu_seconds"
PRELOAD = ["listory_pipeline.run_worker_preload"]

_context_lock = threading.Lock()
_context: Any = None


def _forkserver_context():
    """One fork server per launching process, started on first use with the heavy modules preloaded."""
    global _context
    with _context_lock:
        if _context is None:
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(PRELOAD)
            _context = context
        return _context


def run_worker(run_id: str, instance_ref, environment: Mapping[str, str]) -> None:
    """Body of a forked run worker: execute the run as Dagster's own run worker does.

    The worker takes the launching process's environment (LISTORY_HOME, credentials), as a
    subprocess started by the launcher would, not the one the fork server was started with.
    """
    from dagster import DagsterInstance

    os.environ.clear()
    os.environ.update(environment)
    from dagster._cli.api import _execute_run_command_body

    with DagsterInstance.from_ref(instance_ref) as instance:
        _execute_run_command_body(run_id, instance, lambda _event: None, set_exit_code_on_failure=False)
        usage = resource.getrusage(resource.RUSAGE_SELF)
        # The worker's own CPU since the fork: what one run costs (shown as a run tag).
        instance.add_run_tags(run_id, {CPU_TAG: f"{usage.ru_utime + usage.ru_stime:.3f}"})

class ForkserverRunLauncher(RunLauncher, ConfigurableClass):
    def __init__(self, inst_data: ConfigurableClassData | None = None) -> None:
        self._inst_data = inst_data
        self._processes: dict[str, Any] = {}
        super().__init__()

    @property
    def inst_data(self) -> ConfigurableClassData | None:
        return self._inst_data

    @classmethod
    def config_type(cls) -> dict:
        return {}

    @classmethod
    def from_config_value(cls, inst_data: ConfigurableClassData, config_value: Mapping[str, Any]):
        return cls(inst_data=inst_data)

    def launch_run(self, context: LaunchRunContext) -> None:
        run = context.dagster_run
        check.invariant(run.job_code_origin is not None, f"run {run.run_id} has no Python origin to execute")
        process = _forkserver_context().Process(
            target=run_worker, args=(run.run_id, self._instance.get_ref(), dict(os.environ)), name=f"dagster-run-{run.run_id[:8]}"
        )
        process.start()
        self._processes[run.run_id] = process
        self._instance.add_run_tags(run.run_id, {PID_TAG: str(process.pid)})
        self._reap_finished()

    def _reap_finished(self) -> None:
        for run_id in [rid for rid, proc in self._processes.items() if not proc.is_alive()]:
            self._processes.pop(run_id).join(timeout=0)

    def terminate(self, run_id: str) -> bool:
        run = self._instance.get_run_by_id(run_id)
        if run is None or run.is_finished:
            return False
        pid = run.tags.get(PID_TAG)
        if not pid:
            return False
        self._instance.report_run_canceling(run)
        try:
            os.kill(int(pid), signal.SIGINT)  # Dagster's run worker turns SIGINT into a clean cancellation
        except ProcessLookupError:
            return False
        return True

    def join(self, timeout: float = 30) -> None:
        for process in list(self._processes.values()):
            process.join(timeout=timeout)
        self._reap_finished()
