"""Delete old runs with their events and compute logs, keeping what the pipeline still reads (policy.py).

Deletion goes through Dagster's own `DagsterInstance.delete_run` (the run row, its events in
the run's shard and the index, the asset event tags), so it works on SQLite and PostgreSQL
alike. On the embedded SQLite storage each run also has an event-log file of its own
(`history/runs/<run id>.db`, ~220 KB for a crawl run), which Dagster leaves behind emptied:
it is removed here, as are the run's captured stdout/stderr, and the run's asset check
executions, which `delete_run` leaves in place (check_executions.py).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

from dagster import AssetRecordsFilter, DagsterEventType, DagsterInstance, DagsterRunStatus, RunsFilter
from dagster._core.storage.tags import PARTITION_NAME_TAG

from listory_pipeline.retention.check_executions import delete_orphaned_check_executions
from listory_pipeline.retention.policy import PURGED_JOBS, RetentionPolicy

FINISHED_OK = [DagsterRunStatus.SUCCESS]
FINISHED_BADLY = [DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED]
RUN_PAGE = 500


@dataclass
class PurgeOutcome:
    deleted_runs: int = 0
    deleted_by_status: dict[str, int] = field(default_factory=dict)
    kept_protected: int = 0
    shard_files_removed: int = 0
    shard_bytes_removed: int = 0
    check_executions_removed: int = 0
    seconds: float = 0.0


def protected_run_ids(instance: DagsterInstance) -> set[str]:
    """Runs holding the latest materialization of an asset (partition), or the newest success of a job (partition)."""
    protected: set[str] = set()
    for key in instance.get_asset_keys():
        latest = instance.get_latest_materialization_event(key)
        if latest is not None and latest.run_id:
            protected.add(latest.run_id)
        by_partition = instance.get_latest_storage_id_by_partition(key, DagsterEventType.ASSET_MATERIALIZATION)
        storage_ids = sorted(by_partition.values())
        for start in range(0, len(storage_ids), RUN_PAGE):
            page = storage_ids[start : start + RUN_PAGE]
            records = instance.fetch_materializations(AssetRecordsFilter(asset_key=key, storage_ids=page), limit=len(page))
            protected.update(record.run_id for record in records.records if record.run_id)
    newest: dict[tuple[str, str], str] = {}
    for job_name in PURGED_JOBS:
        for record in _records(instance, RunsFilter(job_name=job_name, statuses=FINISHED_OK)):
            run = record.dagster_run
            newest.setdefault((job_name, run.tags.get(PARTITION_NAME_TAG, "")), run.run_id)  # newest first
    protected.update(newest.values())
    return protected


def purge_candidates(instance: DagsterInstance, policy: RetentionPolicy, now: datetime) -> Iterator[tuple[str, str]]:
    """(run id, status) of every finished run of a purged job older than its status's retention age."""
    for statuses, cutoff in ((FINISHED_OK, policy.success_cutoff(now)), (FINISHED_BADLY, policy.failure_cutoff(now))):
        for job_name in PURGED_JOBS:
            for record in _records(instance, RunsFilter(job_name=job_name, statuses=statuses, updated_before=cutoff)):
                yield record.dagster_run.run_id, record.dagster_run.status.value


def purge_old_runs(
    instance: DagsterInstance,
    policy: RetentionPolicy,
    now: datetime,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> PurgeOutcome:
    """Delete every candidate run that is not protected; safe to run at any time, and again."""
    started = time.monotonic()
    outcome = PurgeOutcome()
    protected = protected_run_ids(instance)
    candidates = list(purge_candidates(instance, policy, now))
    for done, (run_id, status) in enumerate(candidates, start=1):
        if run_id in protected:
            outcome.kept_protected += 1
            continue
        instance.delete_run(run_id)
        _remove_run_files(instance, run_id, outcome)
        outcome.deleted_runs += 1
        outcome.deleted_by_status[status] = outcome.deleted_by_status.get(status, 0) + 1
        if progress is not None and (done % 200 == 0 or done == len(candidates)):
            progress(done, len(candidates))
    outcome.check_executions_removed = delete_orphaned_check_executions(instance)
    outcome.seconds = time.monotonic() - started
    return outcome


def _remove_run_files(instance: DagsterInstance, run_id: str, outcome: PurgeOutcome) -> None:
    shard_path = getattr(instance.event_log_storage, "path_for_shard", None)
    if shard_path is not None:  # SQLite: the run's own event-log file, emptied by delete_run
        path = shard_path(run_id)
        try:
            size = os.path.getsize(path)
            os.remove(path)
        except FileNotFoundError:
            pass
        else:
            outcome.shard_files_removed += 1
            outcome.shard_bytes_removed += size
    try:
        instance.compute_log_manager.delete_logs(prefix=[run_id])
    except NotImplementedError:  # a log manager that keeps no logs, or deletes them its own way
        pass


def _records(instance: DagsterInstance, filters: RunsFilter):
    """Run records matching `filters`, newest first, page by page."""
    cursor = None
    while True:
        page = instance.get_run_records(filters=filters, limit=RUN_PAGE, cursor=cursor)
        yield from page
        if len(page) < RUN_PAGE:
            return
        cursor = page[-1].dagster_run.run_id
