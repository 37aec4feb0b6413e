"""Reading Dagster's event log the way every sensor here does: new materializations, page by page."""

from __future__ import annotations

from typing import Iterator

from dagster import AssetKey, AssetRecordsFilter, DagsterInstance, EventLogRecord

EVENT_PAGE = 1000


def materializations_after(instance: DagsterInstance, key: AssetKey, after: int | None) -> Iterator[EventLogRecord]:
    """Materializations of `key` with a storage id above `after`, oldest first (a sensor's cursor)."""
    while True:
        result = instance.fetch_materializations(
            AssetRecordsFilter(asset_key=key, after_storage_id=after), limit=EVENT_PAGE, ascending=True
        )
        for record in result.records:
            after = record.storage_id
            yield record
        if not result.has_more:
            return
