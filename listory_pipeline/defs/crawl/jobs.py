"""The per-user crawl job: land → load → enrich, in one process (a run every minute must be cheap)."""

from dagster import AssetSelection, define_asset_job, in_process_executor

crawl_user_job = define_asset_job(
    "crawl_user_job",
    selection=AssetSelection.groups("crawl", "catalog"),
    executor_def=in_process_executor,
    description="Crawl one user: land their last 50 plays, load them into core.*, fetch missing artist genres.",
)
