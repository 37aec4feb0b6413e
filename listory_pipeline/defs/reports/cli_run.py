"""A report build started from the command line, run as `build_reports_job` on the embedded instance.

Built outside Dagster, the reports would look unbuilt in the UI: every report asset "Never
materialized", no checks, no charts. Run in the CLI's own process instead, the build is a run
like the hourly schedule's, so the UI shows its lineage, check results and chart previews, and
the CLI prints what the run did.
"""

from __future__ import annotations

import contextlib
import io
import time
from dataclasses import dataclass, field
from datetime import date

from listory_pipeline.settings import Settings

# The terminal gets warnings and dbt's one line per node; the step's DEBUG lines stay in the UI.
_QUIET_LOGGERS = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
LAUNCHED_BY_TAG = "listory/launched_by"


@dataclass(frozen=True)
class ReportRun:
    success: bool
    run_id: str
    seconds: float
    row_counts: dict[str, int] = field(default_factory=dict)
    # one line per reason the run failed: the dbt nodes that did not pass, else the run's error
    failures: list[str] = field(default_factory=list)
    materialized: int = 0
    checks_passed: int = 0
    checks_failed: int = 0


def build_reports_as_run(
    settings: Settings,
    as_of: date | None = None,
    *,
    tests: bool = True,
    launched_by: str = "listory reports build",
    quiet: bool = False,
) -> ReportRun:
    """Run `build_reports_job` (every dbt model, its checks, the charts) in this process; never raises on a failed build.

    quiet=True keeps dbt's line per node off the terminal (they stay in the run's logs).
    """
    from dagster import DagsterInstance

    from listory_pipeline.defs.run_results import failure_reason
    from listory_pipeline.reports.build import report_row_counts
    from listory_pipeline.reports.dbt_runner import ensure_project_manifest
    from listory_pipeline.runner.instance import ensure_dagster_home

    started = time.monotonic()
    ensure_project_manifest(settings)
    ensure_dagster_home(settings)
    from listory_pipeline.reports_definitions import defs  # needs the manifest

    job = defs.resolve_job_def("build_reports_job")
    if not tests:  # the tables only: no asset checks in the run, rather than each one reported as skipped
        job = job.get_subset(asset_selection=set(job.asset_layer.selected_asset_keys), asset_check_selection=set())
    run_config = {
        **_QUIET_LOGGERS,
        "ops": {"listory_dbt_models": {"config": {"as_of": as_of.isoformat() if as_of else None, "tests": tests}}},
    }
    with DagsterInstance.get() as instance, contextlib.redirect_stdout(io.StringIO()) if quiet else contextlib.nullcontext():
        result = job.execute_in_process(
            instance=instance, run_config=run_config, raise_on_error=False, tags={LAUNCHED_BY_TAG: launched_by}
        )
    checks = [event.event_specific_data for event in result.all_events if event.event_type_value == "ASSET_CHECK_EVALUATION"]
    failures = [] if result.success else (_dbt_failures(result) or [failure_reason(result)])
    return ReportRun(
        success=result.success,
        run_id=result.run_id,
        seconds=time.monotonic() - started,
        row_counts=report_row_counts(settings.warehouse_path),
        failures=failures,
        materialized=len(result.get_asset_materialization_events()),
        checks_passed=sum(1 for check in checks if check.passed),
        checks_failed=sum(1 for check in checks if not check.passed),
    )


def _dbt_failures(result) -> list[str]:
    """The dbt nodes the build step names in its failure (defs/reports/assets.py), if it got that far."""
    for event in result.all_events:
        if event.is_step_failure and event.step_failure_data is not None:
            user_failure = event.step_failure_data.user_failure_data
            failures = user_failure.metadata.get("failures") if user_failure is not None else None
            if failures is not None:
                return [str(line) for line in failures.value]
    return []
