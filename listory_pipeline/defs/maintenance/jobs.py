"""`dagster_retention_job`: Dagster's own history kept bounded (listory_pipeline/retention/), daily."""

from datetime import datetime, timezone

from dagster import (
    Config,
    DefaultScheduleStatus,
    MetadataValue,
    OpExecutionContext,
    Output,
    ScheduleDefinition,
    job,
    op,
)
from pydantic import Field

from listory_pipeline.defs.resources import RegistryResource


class RetentionConfig(Config):
    success_days: float | None = Field(
        default=None, description="Delete successful runs older than this many days. Empty: LISTORY_RETENTION_SUCCESS_DAYS (14)."
    )
    failure_days: float | None = Field(
        default=None, description="Delete failed and canceled runs older than this. Empty: LISTORY_RETENTION_FAILURE_DAYS (90)."
    )


@op(description="Deletes old runs with their events and compute logs, keeping what sensors and the UI read; VACUUMs SQLite.")
def purge_old_dagster_runs(context: OpExecutionContext, config: RetentionConfig, registry: RegistryResource):
    from listory_pipeline.retention.policy import RetentionPolicy
    from listory_pipeline.retention.purge import purge_old_runs
    from listory_pipeline.retention.sqlite_space import reclaim_space

    defaults = RetentionPolicy.from_settings(registry.settings())
    policy = RetentionPolicy(
        success_days=config.success_days or defaults.success_days, failure_days=config.failure_days or defaults.failure_days
    )
    context.log.info("deleting successful runs older than %s days, failed ones older than %s", policy.success_days, policy.failure_days)
    outcome = purge_old_runs(
        context.instance,
        policy,
        datetime.now(timezone.utc),
        progress=lambda done, total: context.log.info("checked %s of %s old runs", done, total),
    )
    space = reclaim_space(context.instance)
    if space.busy:
        context.log.warning("not compacted this time (busy): %s; the next run tries again", ", ".join(space.busy))
    yield Output(
        None,
        metadata={
            "deleted_runs": outcome.deleted_runs,
            "deleted_by_status": MetadataValue.json(outcome.deleted_by_status),
            "kept_as_latest": outcome.kept_protected,
            "run_files_removed": outcome.shard_files_removed,
            "run_file_bytes_removed": outcome.shard_bytes_removed,
            "check_executions_removed": outcome.check_executions_removed,
            "sqlite_bytes_before": space.bytes_before,
            "sqlite_bytes_after": space.bytes_after,
            "seconds": round(outcome.seconds, 2),
        },
    )


@job(description="Deletes old crawl, report and resolution runs (events, compute logs) by the retention policy; safe at any time.")
def dagster_retention_job():
    purge_old_dagster_runs()


dagster_retention_schedule = ScheduleDefinition(
    name="dagster_retention_schedule",
    job=dagster_retention_job,
    cron_schedule="17 3 * * *",
    execution_timezone="UTC",
    default_status=DefaultScheduleStatus.RUNNING,
    description="Daily: keeps Dagster's history to the retention window (README, 'Bounded history').",
)
