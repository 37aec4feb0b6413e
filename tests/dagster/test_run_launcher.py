"""Crawl runs launched the way the daemon launches them, through the fork-server run launcher."""

from __future__ import annotations

import os
import time

import duckdb
from dagster import DagsterInstance, DagsterRunStatus
from dagster._core.definitions.reconstruct import ReconstructableRepository
from dagster._core.launcher.base import LaunchRunContext

from listory_pipeline.dagster_home import ensure_dagster_home
from listory_pipeline.definitions import defs
from listory_pipeline.run_launcher import CPU_TAG, PID_TAG, ForkserverRunLauncher
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
