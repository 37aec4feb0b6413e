"""Runs launched the way the daemon launches them, through the fork-server run launcher."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
from dagster import DagsterInstance, DagsterRunStatus
from dagster._core.definitions.reconstruct import ReconstructableRepository
from dagster._core.launcher.base import LaunchRunContext, WorkerStatus
from dagster._daemon.monitoring.run_monitoring import monitor_started_run

from listory_pipeline.definitions import defs
from listory_pipeline.reports.project import DBT_PROJECT_DIR
from listory_pipeline.runner.instance import ensure_dagster_home
from listory_pipeline.defs.in_flight import users_in_flight
from listory_pipeline.runner.launcher import (
    CPU_TAG, CRAWL_PRELOAD, PID_TAG, WORKER_TAG, ForkserverRunLauncher, preload_for, worker_alive, worker_identity,
)
from listory_pipeline.settings import load_settings
from listory_pipeline.warehouse.connection import open_warehouse


def _wait(instance, run_id, timeout=60, until=lambda run: run.is_finished):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = instance.get_run_by_id(run_id)
        if until(run):
            return run
        time.sleep(0.05)
    raise AssertionError(f"run {run_id} still {instance.get_run_by_id(run_id).status} after {timeout} s")


def _new_run(instance, user_id):
    repository = ReconstructableRepository.for_module("listory_pipeline.definitions", "defs", working_directory=os.getcwd())
    origin = repository.get_reconstructable_job("crawl_user_job").get_python_origin()
    return instance.create_run_for_job(
        defs.resolve_job_def("crawl_user_job"), tags={"dagster/partition": user_id}, job_code_origin=origin
    )


def test_the_embedded_instance_launches_crawls_in_forked_workers(crawl_env, tmp_path, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))
    ensure_dagster_home(crawl_env.settings)
    with DagsterInstance.get() as instance:
        assert isinstance(instance.run_launcher, ForkserverRunLauncher)
        user_id = crawl_env.user_ids[0]
        instance.add_dynamic_partitions("spotify_users", [user_id])
        run = _new_run(instance, user_id)
        instance.run_launcher.launch_run(LaunchRunContext(run, None))
        finished = _wait(instance, run.run_id)
        assert finished.status == DagsterRunStatus.SUCCESS
        assert int(finished.tags[PID_TAG]) != os.getpid()
        # The worker reports its own CPU time a moment after the run ends.
        tagged = _wait(instance, run.run_id, timeout=10, until=lambda r: CPU_TAG in r.tags)
        assert 0 < float(tagged.tags[CPU_TAG]) < 30
        with duckdb.connect(str(crawl_env.settings.warehouse_path), read_only=True) as conn:
            assert conn.execute("select count(*) from core.listens").fetchone()[0] == 50


def test_a_launched_run_can_be_terminated(crawl_env, tmp_path, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))
    ensure_dagster_home(crawl_env.settings)
    with open_warehouse(crawl_env.settings.warehouse_path):
        pass
    holder = duckdb.connect(str(crawl_env.settings.warehouse_path))  # the load waits on this lock
    try:
        with DagsterInstance.get() as instance:
            user_id = crawl_env.user_ids[1]
            instance.add_dynamic_partitions("spotify_users", [user_id])
            run = _new_run(instance, user_id)
            instance.run_launcher.launch_run(LaunchRunContext(run, None))
            _wait(instance, run.run_id, until=lambda r: r.status == DagsterRunStatus.STARTED)
            assert instance.run_launcher.terminate(run.run_id)
            ended = _wait(instance, run.run_id)
            assert ended.status == DagsterRunStatus.CANCELED
    finally:
        holder.close()


def test_a_run_whose_worker_was_killed_is_failed_by_run_monitoring_and_its_user_crawled_again(crawl_env, tmp_path, monkeypatch):
    """SIGKILL, out of memory or a power cut leave a run STARTED; the crawl sensors start no second run
    for a user with one in flight, so without monitoring that user would never be crawled again."""
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))
    ensure_dagster_home(crawl_env.settings)
    with open_warehouse(crawl_env.settings.warehouse_path):
        pass
    holder = duckdb.connect(str(crawl_env.settings.warehouse_path))  # the load waits on this lock
    try:
        with DagsterInstance.get() as instance:
            assert instance.run_monitoring_enabled
            user_id = crawl_env.user_ids[0]
            instance.add_dynamic_partitions("spotify_users", [user_id])
            run = _new_run(instance, user_id)
            instance.run_launcher.launch_run(LaunchRunContext(run, None))
            started = _wait(instance, run.run_id, until=lambda r: r.status == DagsterRunStatus.STARTED)
            assert instance.run_launcher.check_run_worker_health(started).status == WorkerStatus.RUNNING
            monitor_started_run(instance, None, instance.get_run_record_by_id(run.run_id), logging.getLogger("test"))
            assert instance.get_run_by_id(run.run_id).status == DagsterRunStatus.STARTED  # alive: left alone
            assert users_in_flight(instance, {"crawl_user_job"}) == {user_id}

            os.kill(int(started.tags[PID_TAG]), signal.SIGKILL)
            _wait(instance, run.run_id, timeout=10, until=lambda r: not worker_alive(r.tags[WORKER_TAG]))
            assert instance.get_run_by_id(run.run_id).status == DagsterRunStatus.STARTED  # what Dagster alone leaves
            assert instance.run_launcher.check_run_worker_health(started).status == WorkerStatus.NOT_FOUND
            monitor_started_run(instance, None, instance.get_run_record_by_id(run.run_id), logging.getLogger("test"))
            assert instance.get_run_by_id(run.run_id).status == DagsterRunStatus.FAILURE
            assert users_in_flight(instance, {"crawl_user_job"}) == set()
            assert not instance.run_launcher.terminate(run.run_id)  # its pid is nobody's to signal now
    finally:
        holder.close()


def test_a_worker_identity_does_not_survive_a_restart_or_pid_reuse():
    me = worker_identity(os.getpid())
    assert worker_alive(me)
    boot, pid, started = me.rsplit(":", 2)
    assert not worker_alive(f"other-boot:{pid}:{started}")  # the machine restarted since
    assert not worker_alive(f"{boot}:{pid}:{int(started) + 1}")  # another process got the pid
    assert worker_identity(2**22 + 7) is None  # no such process


def test_the_reports_fork_server_preload_parses_and_warms_dbt(tmp_path):
    # what the fork server does before the first fork; a forked report run then finds dbt warm,
    # and no thread is running when it forks
    probe = (
        "import listory_pipeline.runner.preload_reports, sys; "
        "from listory_pipeline.reports import dbt_runner; from listory_pipeline.settings import load_settings; "
        "import os; threads = len(os.listdir('/proc/self/task')); "
        "sys.exit(0 if dbt_runner.is_warm(load_settings()) and 'listory_pipeline.reports_definitions' in sys.modules "
        "and threads == 1 else f'warm {dbt_runner.is_warm(load_settings())}, {threads} threads')"
    )
    env = {**os.environ, "LISTORY_HOME": str(tmp_path / "home")}
    done = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "dbt parsed and warmed" in done.stderr
    assert not (tmp_path / "home" / "warehouse.duckdb").exists()  # the warm-up used a scratch warehouse


def test_the_crawl_fork_server_stays_free_of_dbt(tmp_path):
    probe = "import sys, listory_pipeline.runner.preload_crawl; sys.exit(3 if 'dbt' in sys.modules else 0)"
    env = {**os.environ, "LISTORY_HOME": str(tmp_path / "home")}
    done = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


WORKER_IMPORTS_PROBE = """
import json, os, sys
import listory_pipeline.runner.preload_crawl
from dagster import DagsterInstance
from listory_pipeline.runner.launcher import run_worker
loaded = set(sys.modules)
with DagsterInstance.get() as instance:
    ref = instance.get_ref()
run_worker(os.environ["PROBE_RUN_ID"], ref, dict(os.environ))
with DagsterInstance.get() as instance:
    status = instance.get_run_by_id(os.environ["PROBE_RUN_ID"]).status.value
print(json.dumps({"status": status, "imported": sorted(set(sys.modules) - loaded)}))
"""


def test_a_crawl_run_imports_nothing_its_fork_server_has_not_loaded(crawl_env, tmp_path, monkeypatch):
    """Every module a run imports is imported again by every forked worker (tens of ms each):
    the crawl server's preload must hold them all. A repeat crawl here, as most crawls are."""
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))
    ensure_dagster_home(crawl_env.settings)
    with DagsterInstance.get() as instance:
        user_id = crawl_env.user_ids[0]
        instance.add_dynamic_partitions("spotify_users", [user_id])
        first = _new_run(instance, user_id)
        instance.run_launcher.launch_run(LaunchRunContext(first, None))
        assert _wait(instance, first.run_id).status == DagsterRunStatus.SUCCESS
        repeat = _new_run(instance, user_id)
    env = {**os.environ, "PROBE_RUN_ID": repeat.run_id}
    done = subprocess.run([sys.executable, "-c", WORKER_IMPORTS_PROBE], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    outcome = json.loads(done.stdout.strip().splitlines()[-1])
    assert outcome["status"] == "SUCCESS"
    assert outcome["imported"] == []


def test_crawl_and_report_runs_fork_from_their_own_servers():
    crawl = ReconstructableRepository.for_module("listory_pipeline.definitions", "defs", working_directory=os.getcwd())
    reports = ReconstructableRepository.for_module("listory_pipeline.reports_definitions", "defs", working_directory=os.getcwd())

    class Run:
        def __init__(self, repository, job):
            self.job_code_origin = repository.get_reconstructable_job(job).get_python_origin()

    assert preload_for(Run(crawl, "crawl_user_job")) == CRAWL_PRELOAD
    assert preload_for(Run(reports, "build_reports_job")) == ["listory_pipeline.runner.preload_reports"]


def test_a_report_run_is_built_by_a_forked_worker(tmp_path, monkeypatch):
    from tests.unit.reports.builders import seed
    from tests.unit.reports.hand_built import AS_OF, hand_built_catalog

    home = tmp_path / "home"
    monkeypatch.setenv("LISTORY_HOME", str(home))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))
    settings = load_settings()
    seed(settings.warehouse_path, hand_built_catalog())
    ensure_dagster_home(settings)
    subprocess.run(
        [str(Path(sys.executable).parent / "dbt"), "parse", "--quiet", "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR)],
        check=True, cwd=DBT_PROJECT_DIR,
    )
    from listory_pipeline.reports_definitions import defs as reports_defs

    repository = ReconstructableRepository.for_module(
        "listory_pipeline.reports_definitions", "defs", working_directory=os.getcwd()
    )
    origin = repository.get_reconstructable_job("build_reports_job").get_python_origin()
    with DagsterInstance.get() as instance:
        run = instance.create_run_for_job(
            reports_defs.resolve_job_def("build_reports_job"),
            run_config={"ops": {"listory_dbt_models": {"config": {"as_of": AS_OF.isoformat()}}}},
            job_code_origin=origin,
        )
        instance.run_launcher.launch_run(LaunchRunContext(run, None))
        finished = _wait(instance, run.run_id, timeout=120)
        assert finished.status == DagsterRunStatus.SUCCESS
        assert int(finished.tags[PID_TAG]) != os.getpid()
        logs = [e.user_message for e in instance.all_logs(run.run_id)]
        assert any(m.startswith("dbt build --no-use-colors") for m in logs)
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as conn:
        assert conn.execute("select count(distinct user_id) from reports.top_artists").fetchone()[0] == 3
