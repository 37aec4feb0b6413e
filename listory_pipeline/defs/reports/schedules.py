"""When reports rebuild: every hour, on the hour.

Presets roll over at each user's local midnight (the as-of date defaults to the user's local
today), and every time zone's midnight falls within an hour of an hourly run, so reports are
at most an hour stale while plays arrive, without a rebuild on every one-minute crawl.
"""

from __future__ import annotations

from dagster import AssetSelection, DefaultScheduleStatus, ScheduleDefinition, define_asset_job

from listory_pipeline.defs.reports.assets import listory_dbt_models, report_charts

build_reports_job = define_asset_job(
    "build_reports_job",
    selection=AssetSelection.assets(listory_dbt_models, report_charts),
    description="dbt build of every report model (full rebuild from core.*), then the chart previews.",
)

reports_hourly_schedule = ScheduleDefinition(
    name="reports_hourly_schedule",
    job=build_reports_job,
    cron_schedule="0 * * * *",
    execution_timezone="UTC",
    default_status=DefaultScheduleStatus.RUNNING,
    description="Rebuilds every report hourly: at most an hour stale, and each user's presets roll over within the hour after their local midnight.",
)
