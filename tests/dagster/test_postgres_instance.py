"""The production shape: the same code location on a PostgreSQL-backed Dagster instance."""

from __future__ import annotations

import time

import sqlalchemy
from dagster import DagsterInstance, DagsterRunStatus, build_sensor_context
from dagster._core.launcher.base import LaunchRunContext

from listory_pipeline.definitions import defs
from listory_pipeline.defs.crawl.sensors import adaptive_crawl_sensor
from listory_pipeline.defs.resources import RegistryResource
from tests.dagster.test_run_launcher import _new_run, _wait


def test_crawl_and_sensor_tick_on_a_postgres_instance(production_dagster_home, crawl_env):
    with DagsterInstance.from_config(str(production_dagster_home)) as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
        assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
        user_id = crawl_env.user_ids[0]
        instance.add_dynamic_partitions("spotify_users", [user_id])
        result = defs.resolve_job_def("crawl_user_job").execute_in_process(instance=instance, partition_key=user_id)
        assert result.success
        runs = instance.get_runs()
        assert [run.tags.get("dagster/partition") for run in runs] == [user_id]

        context = build_sensor_context(
            instance=instance, resources={"registry": RegistryResource(listory_home=str(crawl_env.home))}
        )
        tick = adaptive_crawl_sensor(context)
        # The user just crawled has a fresh materialisation on record; the other has no partition here.
        from listory_pipeline.crawl.scheduling import SchedulerCursor

        cursor = SchedulerCursor.from_json(tick.cursor)
        assert cursor.users[user_id].last_success is not None
        assert cursor.materialization_storage_id is not None


def _sessions_opened(instance) -> int:
    """Server sessions ever established to the instance's database (PostgreSQL 14+ counts them)."""
    with instance.run_storage._engine.connect() as conn:
        conn.execute(sqlalchemy.text("select pg_stat_clear_snapshot()"))
        return int(conn.execute(sqlalchemy.text(
            "select sessions from pg_stat_database where datname = current_database()")).scalar())


def test_a_forked_crawl_run_opens_a_few_server_sessions_not_one_per_storage_call(production_dagster_home, crawl_env):
    """Dagster opens a connection for every storage call (~130 in a crawl run), each a backend process the
    server forks; the run worker keeps a pooled one per storage for the run (dagster_fixes.hold_postgres_connections)."""
    with DagsterInstance.from_config(str(production_dagster_home)) as instance:
        user_id = crawl_env.user_ids[0]
        instance.add_dynamic_partitions("spotify_users", [user_id])
        run = _new_run(instance, user_id)
        # this test's own polling on one pooled session, so that the count is the run's
        instance.optimize_for_webserver(statement_timeout=0, pool_recycle=3600, max_overflow=-1)
        before = _sessions_opened(instance)
        instance.run_launcher.launch_run(LaunchRunContext(run, None))
        assert _wait(instance, run.run_id).status == DagsterRunStatus.SUCCESS
        instance.run_launcher.join()
        time.sleep(0.5)  # a session is counted when it ends
        during = _sessions_opened(instance) - before
        assert len(instance.all_logs(run.run_id)) > 20
        # opening the storages (table and revision checks), then one pooled session per storage:
        # 11 here, against 156 with a session per storage call
        assert during < 20, f"{during} sessions for one crawl run"


def test_the_daemons_sensor_ticks_reuse_its_server_sessions(production_dagster_home, crawl_env, monkeypatch):
    """The daemon ticks sensors, reads the run queue and writes heartbeats all day: with a new server session
    for every storage call, the PostgreSQL server forked a backend process for each (~40 a crawl sensor tick)."""
    from dagster._daemon.types import DaemonHeartbeat

    from listory_pipeline.runner import daemon

    monkeypatch.setenv("DAGSTER_HOME", str(production_dagster_home))
    resources = {"registry": RegistryResource(listory_home=str(crawl_env.home))}
    with daemon.daemon_instance() as instance:
        instance.add_dynamic_partitions("spotify_users", crawl_env.user_ids)
        cursor = adaptive_crawl_sensor(build_sensor_context(instance=instance, resources=resources)).cursor
        before = _sessions_opened(instance)
        for _ in range(5):
            tick = adaptive_crawl_sensor(build_sensor_context(instance=instance, cursor=cursor, resources=resources))
            cursor = tick.cursor
            instance.get_runs(limit=25)
            instance.add_daemon_heartbeat(DaemonHeartbeat(time.time(), "SENSOR", None, None))
        time.sleep(0.5)  # a session is counted when it ends
        opened = _sessions_opened(instance) - before
    # the held sessions end only when the daemon does: none is counted while it runs
    assert opened <= 2, f"{opened} server sessions for 5 sensor ticks"
