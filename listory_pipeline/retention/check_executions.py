"""The asset check executions of deleted runs, which Dagster's `delete_run` leaves behind.

Every crawl run records its three `core/listens` checks in the event log's
`asset_check_executions` table, each row with its evaluation event (~1.7 KB). Deleting a run
deletes its events but not these rows, on SQLite and PostgreSQL alike, so they outlived every
run the retention job deleted: after a simulated week of 5 users, 18,717 rows (31 MB) for
2,577 kept runs, growing ~1.1 MB a user-day for ever. A run deleted by hand in the UI left
its rows behind the same way. Rows whose run no longer exists are deleted here, whoever
deleted the run.
"""

from __future__ import annotations

from dagster import DagsterInstance, RunsFilter

# Run ids per statement. The table has no index leading with run_id, so each delete reads it
# whole: few large batches, for the first purge of an instance that gathered a year of orphans
# (~400,000 crawl runs for 5 users) as for a day's ~1,200. SQLite takes 32,766 parameters.
BATCH = 5000


def orphaned_check_execution_run_ids(instance: DagsterInstance) -> list[str]:
    """Run ids that have check executions recorded but no run any more."""
    from dagster._core.storage.event_log.schema import AssetCheckExecutionsTable
    from dagster._core.storage.sqlalchemy_compat import db_select

    storage = instance.event_log_storage
    if not hasattr(storage, "index_connection") or not storage.has_table("asset_check_executions"):
        return []  # not a SQL event log: nothing of Dagster's schema to read
    with storage.index_connection() as connection:
        recorded = sorted(
            {row[0] for row in connection.execute(db_select([AssetCheckExecutionsTable.c.run_id]).distinct()) if row[0]}
        )
    # The runs are read after the checks: a run created in between has no row among `recorded`.
    existing: set[str] = set()
    for start in range(0, len(recorded), BATCH):
        existing.update(instance.get_run_ids(RunsFilter(run_ids=recorded[start : start + BATCH])))
    return [run_id for run_id in recorded if run_id not in existing]


def delete_orphaned_check_executions(instance: DagsterInstance) -> int:
    """Delete the check executions of runs that no longer exist; the number of rows deleted."""
    from dagster._core.storage.event_log.schema import AssetCheckExecutionsTable

    orphans = orphaned_check_execution_run_ids(instance)
    deleted = 0
    for start in range(0, len(orphans), BATCH):
        batch = orphans[start : start + BATCH]
        with instance.event_log_storage.index_connection() as connection:
            result = connection.execute(AssetCheckExecutionsTable.delete().where(AssetCheckExecutionsTable.c.run_id.in_(batch)))
            deleted += max(result.rowcount, 0)
    return deleted
