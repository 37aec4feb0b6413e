"""The code location: one `Definitions` object, nothing heavy imported or opened here."""

from dagster import Definitions

from listory_pipeline.defs.catalog.assets import artist_genres
from listory_pipeline.defs.crawl.assets import CORE_TABLES_OF_THE_LOAD, landing_recently_played, load_core_from_landing
from listory_pipeline.defs.crawl.jobs import crawl_user_job
from listory_pipeline.defs.crawl.sensors import adaptive_crawl_sensor
from listory_pipeline.defs.history.assets import imported_track_catalog, landing_extended_history
from listory_pipeline.defs.history.jobs import import_history_job, resolve_imported_tracks_job
from listory_pipeline.defs.history.sensors import history_drop_sensor, track_resolution_sensor
from listory_pipeline.defs.maintenance.jobs import dagster_retention_job, dagster_retention_schedule
from listory_pipeline.defs.publication.sensors import warehouse_publish_sensor
from listory_pipeline.defs.resources import build_resources
from listory_pipeline.runner.dagster_fixes import apply_dagster_fixes
from listory_pipeline.settings import keep_private

keep_private()  # whoever starts this code location (daemon, webserver, run worker): files stay private
apply_dagster_fixes()  # pool waits that sleep, migration scripts read once, SQLite engines reused

defs = Definitions(
    assets=[
        landing_recently_played,
        load_core_from_landing,
        *CORE_TABLES_OF_THE_LOAD,
        artist_genres,
        landing_extended_history,
        imported_track_catalog,
    ],
    jobs=[crawl_user_job, import_history_job, resolve_imported_tracks_job, dagster_retention_job],
    schedules=[dagster_retention_schedule],
    sensors=[adaptive_crawl_sensor, history_drop_sensor, track_resolution_sensor, warehouse_publish_sensor],
    resources=build_resources(),
)
