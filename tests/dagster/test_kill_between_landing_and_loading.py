"""A crawl run killed after landing and before loading loses no play."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import duckdb

from listory_pipeline import runtime
from listory_pipeline.crawl import steps as crawl
from listory_pipeline.warehouse.connection import open_warehouse
from listory_pipeline.warehouse.loader import UserRow


def test_killed_run_leaves_its_pull_for_the_next_load(crawl_env, tmp_path):
    user_id = crawl_env.user_ids[0]
    settings = crawl_env.settings
    with open_warehouse(settings.warehouse_path):
        pass  # create the file so this process can hold its lock
    holder = duckdb.connect(str(settings.warehouse_path))  # holds the write lock: the run's load must wait
    env = dict(os.environ, DAGSTER_HOME=str(tmp_path / "dagster"), LISTORY_WAREHOUSE_LOCK_WAIT_SECONDS="120")
    process = subprocess.Popen(
        [sys.executable, "-m", "listory_pipeline.cli", "crawl", "--user", user_id],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    landing = runtime.landing_zone(settings)
    try:
        deadline = time.monotonic() + 60
        while not list(landing.pulls(user_id)) and time.monotonic() < deadline:
            assert process.poll() is None, "the crawl run ended before landing"
            time.sleep(0.1)
        assert list(landing.pulls(user_id)), "the run never landed its pull"
        time.sleep(0.5)  # it is now waiting for the warehouse lock
        assert process.poll() is None
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
        holder.close()

    with duckdb.connect(str(settings.warehouse_path), read_only=True) as conn:
        assert conn.execute("select count(*) from core.listens").fetchone()[0] == 0

    user = runtime.user_registry(settings).get(user_id)
    result, checks = crawl.load_landed(
        settings.warehouse_path,
        landing,
        UserRow(user.user_id, user.display_name, user.timezone, user.status),
        lock_wait_seconds=10,
    )
    assert result.pulls_loaded == 1
    assert result.new_listens == 50
    assert all(check.passed for check in checks)
