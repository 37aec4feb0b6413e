"""Reading what an in-process Dagster run materialized, for the Dagster-tier tests."""

from __future__ import annotations

from dagster import AssetKey


def materialization_metadata(result, key: list[str]) -> dict:
    """The metadata values of the run's materialization of `key`; fails the test if there is none."""
    for event in result.all_events:
        if event.is_step_materialization:
            materialization = event.event_specific_data.materialization
            if materialization.asset_key == AssetKey(key):
                return {name: value.value for name, value in materialization.metadata.items()}
    raise AssertionError(f"no materialization of {key}")
