"""What `listory import-history` did, recorded in the Dagster instance as the import job would.

The CLI runs the import's plain functions (with progress bars) instead of a Dagster run; it
then reports the same materializations, so the UI shows the import in the assets' history and
`track_resolution_sensor` resumes a resolution the CLI could not finish.
"""

from __future__ import annotations

from dagster import AssetKey, AssetMaterialization, DagsterInstance, MetadataValue

from listory_pipeline.defs.crawl.assets import FROM_HISTORY_ONLY, HISTORY_LANDING_KEY, LISTENS_KEY
from listory_pipeline.defs.history.assets import IMPORTED_CATALOG_KEY
from listory_pipeline.defs.partitions import spotify_users


def record_cli_import(settings, user_id: str, landed, loaded, resolution, *, reports_built: bool) -> None:
    from listory_pipeline.runner.instance import ensure_dagster_home

    ensure_dagster_home(settings)
    export = landed.export
    with DagsterInstance.get() as instance:
        if user_id not in set(instance.get_dynamic_partitions(spotify_users.name)):
            instance.add_dynamic_partitions(spotify_users.name, [user_id])
        source = {"recorded_by": "listory import-history"}
        instance.report_runless_asset_event(
            AssetMaterialization(
                asset_key=HISTORY_LANDING_KEY,
                partition=user_id,
                metadata={
                    **source,
                    "import_id": export.import_id,
                    "new": landed.new,
                    "entries": export.counts["entries"],
                    "listens": export.counts["listens"],
                    "skips": export.counts["skips"],
                    "path": MetadataValue.path(str(landed.landed.folder)),
                },
            )
        )
        if loaded.imports:
            instance.report_runless_asset_event(
                AssetMaterialization(
                    asset_key=LISTENS_KEY,
                    partition=user_id,
                    metadata={
                        **source,
                        "history_imports_loaded": len(loaded.imports),
                        "history_listens_new": loaded.listens_new,
                        "rebuild_reports": not reports_built,
                    },
                )
            )
            for name in FROM_HISTORY_ONLY:  # the load step's other outputs, as the import job materializes them
                instance.report_runless_asset_event(
                    AssetMaterialization(asset_key=AssetKey(["core", name]), partition=user_id, metadata=source)
                )
        if resolution is not None or loaded.imports:
            # Without a resolution here, every track the import brought is pending: the sensor resolves them.
            pending = resolution.pending_after if resolution is not None else sum(one.tracks_new for one in loaded.imports)
            instance.report_runless_asset_event(
                AssetMaterialization(
                    asset_key=IMPORTED_CATALOG_KEY,
                    partition=user_id,
                    metadata={
                        **source,
                        "pending_tracks": pending,
                        "resolved_tracks": resolution.resolved if resolution is not None else 0,
                        "track_requests": resolution.track_requests if resolution is not None else 0,
                        "deferred_reason": (resolution.deferred_reason or "") if resolution is not None else "not run",
                        "rebuild_reports": not reports_built,
                    },
                )
            )
