"""Reports rebuilt after a history import, not only on the hour: the past shows up at once."""

from __future__ import annotations

import json

from dagster import (
    AssetKey,
    DagsterRunStatus,
    DefaultSensorStatus,
    RunRequest,
    SensorEvaluationContext,
    SensorResult,
    sensor,
)

from listory_pipeline.defs.events import materializations_after
from listory_pipeline.defs.in_flight import runs_in_flight

# The crawl location's resolution asset (defs/history/assets.py): named here, not imported, so
# this location loads nothing of the crawl's.
IMPORTED_CATALOG_KEY = AssetKey(["core", "imported_track_catalog"])
LISTENS_KEY = AssetKey(["core", "listens"])
# The job by name (defs/reports/schedules.py): importing it would need the dbt manifest.
BUILD_REPORTS_JOB = "build_reports_job"
WAITING = [DagsterRunStatus.QUEUED, DagsterRunStatus.NOT_STARTED]


def _asks_for_rebuild(record) -> bool:
    """An import's load (new imported listens) or resolution asks for reports, unless it says it built them."""
    metadata = record.asset_materialization.metadata if record.asset_materialization else {}
    flag = metadata.get("rebuild_reports")
    if flag is not None:
        return bool(flag.value)
    loaded = metadata.get("history_listens_new")
    return loaded is not None and bool(loaded.value)


def imports_needing_reports(context: SensorEvaluationContext) -> tuple[str, list[int]]:
    """(the new cursor, ids of materializations that ask for a rebuild) since the cursor.

    Two positions: the loads of `core/listens` (an import's plays are in the reports at once, by
    name) and the resolutions of `core/imported_track_catalog` (then with their real artists).
    """
    cursor = json.loads(context.cursor) if context.cursor else {}
    wanted = []
    for name, key in (("listens", LISTENS_KEY), ("catalog", IMPORTED_CATALOG_KEY)):
        for record in materializations_after(context.instance, key, cursor.get(name)):
            cursor[name] = record.storage_id
            if _asks_for_rebuild(record):
                wanted.append(record.storage_id)
    return json.dumps(cursor, sort_keys=True), sorted(wanted)


@sensor(
    job_name=BUILD_REPORTS_JOB,
    minimum_interval_seconds=60,
    default_status=DefaultSensorStatus.RUNNING,
    description=(
        "Rebuilds every report after a history import is loaded or its tracks are resolved, so the imported past "
        "shows without waiting for the hourly schedule."
    ),
)
def history_reports_sensor(context: SensorEvaluationContext) -> SensorResult:
    cursor, wanted = imports_needing_reports(context)
    if not wanted:
        return SensorResult(cursor=cursor, skip_reason="no history import since the last rebuild")
    # A build still waiting to start will read the new rows anyway: one is enough.
    if runs_in_flight(context.instance, {BUILD_REPORTS_JOB}, WAITING):
        return SensorResult(cursor=cursor, skip_reason="a report build is already queued")
    return SensorResult(run_requests=[RunRequest(run_key=f"history-reports:{wanted[-1]}")], cursor=cursor)
