"""A run launcher that forks run workers from a warm process.

Dagster's default launcher asks the code server to spawn a fresh Python for
every run, which then imports dagster, its storage layer and the code location
again: about two CPU-seconds before the crawl does anything. Crawl runs happen
every minute for every listening user, so that start-up is most of the
pipeline's running cost. This launcher keeps `multiprocessing` fork servers
that have imported all of that once; each run worker is forked from one
(copy-on-write), takes the launching process's environment, opens the instance
from its ref and executes the run exactly as `dagster api execute_run` would.
Runs stay isolated in their own processes.

Two servers: crawl runs fork from one that holds the crawl location; report runs
from one that also has dbt imported and the project parsed (a report build then
starts running models at once; see listory_pipeline/reports/dbt_runner.py).

Configure it in dagster.yaml:

    run_launcher:
      module: listory_pipeline.runner.launcher
      class: ForkserverRunLauncher

It runs the job from the run's Python origin (the code location's module),
so it suits a single-machine deployment where the daemon and the code share an
environment; beyond one machine use Dagster's own distributed launchers.
"""

from __future__ import annotations

import io
import os
import resource
import signal
import threading
import time
from collections.abc import Mapping
from multiprocessing import context as mp_context
from multiprocessing import forkserver, popen_forkserver, reduction, spawn, util
from typing import Any

from dagster import _check as check
from dagster._core.launcher.base import CheckRunHealthResult, LaunchRunContext, RunLauncher, WorkerStatus
from dagster._serdes import ConfigurableClass, ConfigurableClassData

from listory_pipeline.runner.dagster_fixes import apply_dagster_fixes

# Whatever process loads the instance (the daemon and the webserver too, which load no project
# code otherwise) gets the project's corrections to Dagster's storages (see dagster_fixes).
apply_dagster_fixes()

PID_TAG = "listory/run_worker_pid"
CPU_TAG = "listory/run_worker_cpu_seconds"
# Which process the worker is, beyond its pid (reused after a restart): "<boot id>:<pid>:<start time>".
WORKER_TAG = "listory/run_worker"
# A run reported started whose worker is not tagged yet (the tag follows the fork by milliseconds).
UNTAGGED_GRACE_SECONDS = 60.0

# What each fork server imports before its first fork, by the module of the run's code location.
# Report runs get their own server: it imports dbt and parses the project (~5 s at start-up),
# which the crawl server must not wait for (a new user's first crawl) nor carry.
CRAWL_PRELOAD = ["listory_pipeline.runner.preload_crawl"]
PRELOAD_BY_LOCATION = {"listory_pipeline.reports_definitions": ["listory_pipeline.runner.preload_reports"]}


class _ServerPopen(popen_forkserver.Popen):
    """`popen_forkserver.Popen` of CPython 3.11, asking a given fork server instead of the module's.

    `multiprocessing` runs a single fork server per process, with one preload list; this
    launcher keeps one `multiprocessing.forkserver.ForkServer` per preload instead.
    """

    def __init__(self, process_obj, server: forkserver.ForkServer) -> None:
        self._server = server
        super().__init__(process_obj)

    def _launch(self, process_obj) -> None:
        prep_data = spawn.get_preparation_data(process_obj._name)
        buf = io.BytesIO()
        mp_context.set_spawning_popen(self)
        try:
            reduction.dump(prep_data, buf)
            reduction.dump(process_obj, buf)
        finally:
            mp_context.set_spawning_popen(None)
        self.sentinel, w = self._server.connect_to_new_process(self._fds)
        parent_w = os.dup(w)  # the child's sentinel of this parent, as in CPython
        self.finalizer = util.Finalize(self, util.close_fds, (parent_w, self.sentinel))
        with open(w, "wb", closefd=True) as f:
            f.write(buf.getbuffer())
        self.pid = forkserver.read_signed(self.sentinel)


class _ServerProcess(mp_context.ForkServerProcess):
    """A process forked from the fork server of its `preload`."""

    def __init__(self, *args, preload: list[str], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.preload = tuple(preload)

    @staticmethod
    def _Popen(process_obj):
        return _ServerPopen(process_obj, _fork_server(process_obj.preload))


_servers_lock = threading.Lock()
_servers: dict[tuple[str, ...], forkserver.ForkServer] = {}


def _fork_server(preload: tuple[str, ...]) -> forkserver.ForkServer:
    """The fork server for this preload, in this launching process; it starts on first use."""
    with _servers_lock:
        if preload not in _servers:
            server = forkserver.ForkServer()
            server.set_forkserver_preload(list(preload))
            _servers[preload] = server
        return _servers[preload]


def _boot_id() -> str:
    with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as handle:
        return handle.read().strip()


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot, None when there is no such process (or a zombie)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            fields = handle.read().decode(errors="replace").rsplit(")", 1)[1].split()
    except OSError:
        return None
    return None if fields[0] == "Z" else fields[19]


def worker_identity(pid: int) -> str | None:
    """"<boot id>:<pid>:<start time>" of a live process, None where /proc cannot tell."""
    try:
        started = _start_time(pid)
        return f"{_boot_id()}:{pid}:{started}" if started is not None else None
    except OSError:
        return None


def worker_alive(identity: str) -> bool:
    """Whether the process `identity` names still runs: same boot, same pid, same start time."""
    boot, pid, started = identity.rsplit(":", 2)
    try:
        return boot == _boot_id() and _start_time(int(pid)) == started
    except (OSError, ValueError):
        return False


def preload_for(run) -> list[str]:
    """The preload of the server a run is forked from: by the module of its code location."""
    pointer = run.job_code_origin.repository_origin.code_pointer
    return PRELOAD_BY_LOCATION.get(getattr(pointer, "module", None), CRAWL_PRELOAD)


def run_worker(run_id: str, instance_ref, environment: Mapping[str, str]) -> None:
    """Body of a forked run worker: execute the run as Dagster's own run worker does.

    The worker takes the launching process's environment (LISTORY_HOME, credentials), as a
    subprocess started by the launcher would, not the one the fork server was started with.
    It holds its storage connections for the run and does not mirror its captured output
    (runner/worker_io.py).
    """
    from dagster import DagsterInstance

    os.environ.clear()
    os.environ.update(environment)
    from dagster._cli.api import _execute_run_command_body

    from listory_pipeline.runner import dagster_fixes, worker_io

    worker_io.prepare_worker_process()
    try:
        with DagsterInstance.from_ref(instance_ref) as instance:
            dagster_fixes.hold_postgres_connections(instance)
            _execute_run_command_body(run_id, instance, lambda _event: None, set_exit_code_on_failure=False)
            usage = resource.getrusage(resource.RUSAGE_SELF)
            # The worker's own CPU since the fork: what one run costs (shown as a run tag).
            instance.add_run_tags(run_id, {CPU_TAG: f"{usage.ru_utime + usage.ru_stime:.3f}"})
    finally:
        worker_io.release_connections()


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
        process = _ServerProcess(
            target=run_worker,
            args=(run.run_id, self._instance.get_ref(), dict(os.environ)),
            name=f"dagster-run-{run.run_id[:8]}",
            preload=preload_for(run),
        )
        process.start()
        self._processes[run.run_id] = process
        tags = {PID_TAG: str(process.pid)}
        identity = worker_identity(process.pid)
        if identity is not None:
            tags[WORKER_TAG] = identity
        self._instance.add_run_tags(run.run_id, tags)
        self._reap_finished()

    def _reap_finished(self) -> None:
        for run_id in [rid for rid, proc in self._processes.items() if not proc.is_alive()]:
            self._processes.pop(run_id).join(timeout=0)

    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def check_run_worker_health(self, run) -> CheckRunHealthResult:
        """Whether the run's worker process still exists (Dagster's run monitoring asks).

        A worker killed outright (SIGKILL, out of memory, power cut) leaves its run STARTED for
        ever, and the crawl sensors never start a second run for a user with one in flight: with
        `run_monitoring` enabled in dagster.yaml, the daemon marks such a run failed instead.
        """
        identity = run.tags.get(WORKER_TAG)
        if identity is None:
            record = self._instance.get_run_record_by_id(run.run_id)
            started = (record.start_time if record else None) or 0.0
            if time.time() - started < UNTAGGED_GRACE_SECONDS:
                return CheckRunHealthResult(WorkerStatus.RUNNING, "the worker was just started")
            return CheckRunHealthResult(WorkerStatus.NOT_FOUND, "no run worker was recorded for this run")
        if worker_alive(identity):
            return CheckRunHealthResult(WorkerStatus.RUNNING)
        return CheckRunHealthResult(
            WorkerStatus.NOT_FOUND,
            f"run worker {run.tags.get(PID_TAG, '?')} is gone without finishing the run "
            "(killed, out of memory, or the machine restarted)",
        )

    def terminate(self, run_id: str) -> bool:
        run = self._instance.get_run_by_id(run_id)
        if run is None or run.is_finished:
            return False
        pid = run.tags.get(PID_TAG)
        if not pid:
            return False
        if WORKER_TAG in run.tags and not worker_alive(run.tags[WORKER_TAG]):
            return False  # gone already; the pid may be another process's by now
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
