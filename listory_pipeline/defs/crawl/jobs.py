"""The per-user crawl job: land → load → enrich, in one process (a run every minute must be cheap)."""

from dagster import AssetSelection, define_asset_job, in_process_executor

from listory_pipeline.defs.catalog.assets import artist_genres
from listory_pipeline.defs.crawl.assets import landing_recently_played, load_core_from_landing

# Three steps and nothing else: imported tracks are resolved by their own job (track_resolution_sensor).
crawl_user_job = define_asset_job(
    "crawl_user_job",
    selection=AssetSelection.assets(landing_recently_played, load_core_from_landing, artist_genres),
    executor_def=in_process_executor,
    description="Crawl one user: land their last 50 plays, load them into core.*, fetch missing artist genres.",
)
