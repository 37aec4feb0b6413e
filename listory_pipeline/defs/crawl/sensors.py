"""Sensors that decide who is crawled; they read the registry and Dagster's instance, never DuckDB."""


from dagster import (
    DefaultScheduleStatus,
    DefaultSensorStatus,
    RunRequest,
    ScheduleEvaluationContext,
    SensorEvaluationContext,
    SensorResult,
    schedule,
    sensor,
)

from listory_pipeline import scheduling
from listory_pipeline.defs.crawl.jobs import crawl_user_job
from listory_pipeline.defs.partitions import spotify_users
from listory_pipeline.defs.resources import RegistryResource

CRAWL_INTERVAL_SECONDS = 600


@sensor(
    job=crawl_user_job,
    minimum_interval_seconds=5,
    default_status=DefaultSensorStatus.RUNNING,
    description="Adds a partition for each newly registered user and starts their first crawl at once.",
)
def new_users_sensor(context: SensorEvaluationContext, registry: RegistryResource) -> SensorResult:
    existing = context.instance.get_dynamic_partitions(spotify_users.name)
    new_user_ids = scheduling.users_needing_partitions(registry.registry().list(), existing)
    return SensorResult(
        dynamic_partitions_requests=[spotify_users.build_add_request(new_user_ids)] if new_user_ids else [],
        run_requests=[
            RunRequest(partition_key=user_id, run_key=scheduling.first_crawl_run_key(user_id))
            for user_id in new_user_ids
        ],
    )


@schedule(
    job=crawl_user_job,
    cron_schedule="*/10 * * * *",
    default_status=DefaultScheduleStatus.RUNNING,
    description="Crawls every active user every 10 minutes: 50 plays cannot happen in 10 minutes.",
)
def crawl_all_users_schedule(context: ScheduleEvaluationContext, registry: RegistryResource):
    existing = context.instance.get_dynamic_partitions(spotify_users.name)
    tick = context.scheduled_execution_time.timestamp()
    return [
        RunRequest(
            partition_key=user_id,
            run_key=scheduling.periodic_crawl_run_key(user_id, tick, CRAWL_INTERVAL_SECONDS),
        )
        for user_id in scheduling.crawlable_users(registry.registry().list(), existing)
    ]
