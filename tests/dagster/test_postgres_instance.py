"""The production shape: the same code location on a PostgreSQL-backed Dagster instance."""

from __future__ import annotations

from dagster import DagsterInstance, build_sensor_context

from listory_pipeline.definitions import defs
from listory_pipeline.defs.crawl.sensors import adaptive_crawl_sensor
from listory_pipeline.defs.resources import RegistryResource


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
        from listory_pipeline.scheduling import SchedulerCursor

        cursor = SchedulerCursor.from_json(tick.cursor)
        assert cursor.users[user_id].last_success is not None
        assert cursor.materialization_storage_id is not None
