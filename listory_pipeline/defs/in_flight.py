"""Runs still queued or running, as the sensors ask for them: found by their status, then by job.

Dagster's run filter by job name and status becomes a query that SQLite answers from the
index on (job name, id): without table statistics its planner prefers it to the status index,
so every kept run of the job is read to find the few in flight. With a week's history (3,500
crawl runs kept) that was ~9 ms of each crawl sensor tick against ~0.02 ms by status alone,
and it grows with the retention window. Runs in flight are few (at most the run queue's
backlog, which Dagster's queue daemon reads whole anyway), so the job is filtered here.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from dagster import DagsterInstance, DagsterRun, DagsterRunStatus, RunsFilter
from dagster._core.storage.tags import PARTITION_NAME_TAG

IN_FLIGHT = (
    DagsterRunStatus.QUEUED,
    DagsterRunStatus.NOT_STARTED,
    DagsterRunStatus.STARTING,
    DagsterRunStatus.STARTED,
)


def runs_in_flight(
    instance: DagsterInstance, job_names: Collection[str], statuses: Sequence[DagsterRunStatus] = IN_FLIGHT
) -> list[DagsterRun]:
    """Runs of these jobs with one of these statuses, newest first."""
    return [run for run in instance.get_runs(RunsFilter(statuses=list(statuses))) if run.job_name in job_names]


def users_in_flight(instance: DagsterInstance, job_names: Collection[str]) -> set[str]:
    """Users with a run of these jobs queued or running: they get no second one."""
    return {run.tags[PARTITION_NAME_TAG] for run in runs_in_flight(instance, job_names) if PARTITION_NAME_TAG in run.tags}
