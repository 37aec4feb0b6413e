"""Reports rebuilt after a history import, not only on the hour: the past shows up at once."""

from __future__ import annotations

from dagster import (
    AssetKey,
    DagsterRunStatus,
    DefaultSensorStatus,
    RunRequest,
    RunsFilter,
    SensorEvaluationContext,
    SensorResult,
    sensor,
)

from listory_pipeline.defs.events import materializations_after

# The crawl location's resolution asset (defs/history/assets.py): named here, not imported, so
# this location loads nothing of the crawl's.
IMPORTED_CATALOG_KEY = AssetKey(["core", "imported_track_catalog"])
# The job by name (defs/reports/schedules.py): importing it would need the dbt manifest.
BUILD_REPORTS_JOB = "build_reports_job"
WAITING = [DagsterRunStatus.QUEUED, DagsterRunStatus.NOT_STARTED]


def imports_needing_reports(context: SensorEvaluationContext) -> tuple[int | None, list[int]]:
    """(newest event id read, ids of materializations that ask for a rebuild) since the cursor."""
    after = int(context.cursor) if context.cursor else None
    wanted = []
    for record in materializations_after(context.instance, IMPORTED_CATALOG_KEY, after):
        after = record.storage_id
        metadata = record.asset_materialization.metadata if record.asset_materialization else {}
        flag = metadata.get("rebuild_reports")
        if flag is not None and flag.value:
            wanted.append(record.storage_id)
    return after, wanted


@sensor(
    job_name=BUILD_REPORTS_JOB,
    minimum_interval_seconds=30,
    default_status=DefaultSensorStatus.RUNNING,
    description=(
        "Rebuilds every report after a history import is loaded or its tracks are resolved, so the imported past "
        "shows without waiting for the hourly schedule."
    ),
)
def history_reports_sensor(context: SensorEvaluationContext) -> SensorResult:
    after, wanted = imports_needing_reports(context)
    cursor = str(after) if after is not None else context.cursor
    if not wanted:
        return SensorResult(cursor=cursor, skip_reason="no history import since the last rebuild")
    # A build still waiting to start will read the new rows anyway: one is enough.
    if context.instance.get_runs(RunsFilter(job_name=BUILD_REPORTS_JOB, statuses=WAITING), limit=1):
        return SensorResult(cursor=cursor, skip_reason="a report build is already queued")
    return SensorResult(run_requests=[RunRequest(run_key=f"history-reports:{wanted[-1]}")], cursor=cursor)
