"""The reports code location: dbt models, chart previews, the hourly schedule.

A second code location (see workspace.yaml) so the one-minute crawl runs never import
dagster_dbt, dbt or Polars. Its sources are the crawl location's `core/*` assets, so the
lineage from the crawl to every report is one graph in the UI.

Every job here (the schedule's and the UI's ad-hoc materializations) runs its steps in the run
worker itself: forked from the prepared fork server, it has dbt imported and the project
parsed, where a step subprocess would import and parse again (~5 s before the first model).
"""

from dagster import Definitions, in_process_executor

from listory_pipeline.defs.reports.assets import listory_dbt_models, report_charts
from listory_pipeline.defs.reports.resources import build_report_resources
from listory_pipeline.defs.reports.schedules import build_reports_job, reports_hourly_schedule
from listory_pipeline.defs.reports.sensors import history_reports_sensor
from listory_pipeline.runner.dagster_fixes import apply_dagster_fixes
from listory_pipeline.settings import keep_private

keep_private()  # whoever starts this code location (daemon, webserver, run worker): files stay private
apply_dagster_fixes()  # pool waits that sleep, migration scripts read once, SQLite engines reused

defs = Definitions(
    assets=[listory_dbt_models, report_charts],
    jobs=[build_reports_job],
    schedules=[reports_hourly_schedule],
    sensors=[history_reports_sensor],
    resources=build_report_resources(),
    executor=in_process_executor,
)
