"""History import jobs: the whole import (land → load → resolve), and resolution alone (resumed by a sensor)."""

from dagster import AssetSelection, define_asset_job, in_process_executor

from listory_pipeline.defs.crawl.assets import load_core_from_landing
from listory_pipeline.defs.history.assets import imported_track_catalog, landing_extended_history

import_history_job = define_asset_job(
    "import_history_job",
    selection=AssetSelection.assets(landing_extended_history, load_core_from_landing, imported_track_catalog),
    executor_def=in_process_executor,
    description=(
        "Import one user's Spotify export: land it (config: paths), load it into core.* deduplicated against crawled "
        "plays, resolve its tracks' catalog."
    ),
)

resolve_imported_tracks_job = define_asset_job(
    "resolve_imported_tracks_job",
    selection=AssetSelection.assets(imported_track_catalog),
    executor_def=in_process_executor,
    description="Continue resolving one user's imported tracks (started by track_resolution_sensor).",
)
