"""Catalog enrichment: artist genres, the one thing the recently-played payload lacks."""


from dagster import AssetExecutionContext, AssetKey, DagsterEventType, MaterializeResult, MetadataValue, asset

from listory_pipeline.crawl import steps as crawl
from listory_pipeline.defs.crawl.assets import ARTIST_GENRES_DUE, LISTENS_KEY
from listory_pipeline.defs.partitions import spotify_users
from listory_pipeline.defs.resources import RegistryResource, SpotifyResource, WarehouseResource


@asset(
    key=AssetKey(["core", "artist_genres"]),
    # core/artists names what it reads; core/listens (the load step's output) orders it after the load
    deps=[AssetKey(["core", "artists"]), AssetKey(["core", "listens"])],
    partitions_def=spotify_users,
    group_name="catalog",
    kinds={"spotify", "duckdb"},
    pool="duckdb",
    output_required=False,  # not materialized by a crawl that found every artist checked already
    description=(
        "Genres of artists not yet checked, fetched in bulk where the app may and one by one where "
        "it may not, within LISTORY_ENRICHMENT_MAX_REQUESTS a run; deferred work waits for the next crawl."
    ),
)
def artist_genres(
    context: AssetExecutionContext,
    spotify: SpotifyResource,
    warehouse: WarehouseResource,
    registry: RegistryResource,
):
    if due_after_this_run_s_load(context) is False:
        return  # the load just asked the warehouse: no artist awaits genres (most crawls)
    user_id = context.partition_key
    users = registry.registry()
    with spotify.user_session(users.get(user_id), users) as (client, session, app_key):
        outcome = crawl.enrich_artists(
            warehouse.path(),
            client,
            session,
            app_key,
            max_requests=spotify.enrichment_budget(),
            lock_wait_seconds=warehouse.lock_wait_seconds(),
            publication=warehouse.publication(),
        )
    if outcome.skipped_reason == crawl.NOTHING_TO_ENRICH and not outcome.requests:
        return  # nothing was asked or written: no materialization (a crawl a minute would add two events each)
    if outcome.skipped_reason:
        context.log.info("enrichment: %s", outcome.skipped_reason)
    result = outcome.result
    yield MaterializeResult(
        metadata={
            "artists_checked": result.artists_checked if result else 0,
            "artists_with_genres": result.artists_with_genres if result else 0,
            "genres_written": result.genres_written if result else 0,
            "deferred_artists": result.deferred if result else 0,
            "genres_unavailable_for_app": bool(result and result.genres_unavailable),
            "bulk_refused": ", ".join(outcome.bulk_refused_kinds) or "none",
            "skipped_reason": outcome.skipped_reason or "",
            "spotify_requests": MetadataValue.json(outcome.requests),
            "spotify_requests_total": outcome.requests.get("total", 0),
        }
    )


def due_after_this_run_s_load(context: AssetExecutionContext) -> bool | None:
    """What this run's load of core/listens said about artists awaiting genres, read from the run's
    own events; None when the run loaded nothing (the asset materialized on its own)."""
    records = context.instance.get_records_for_run(context.run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION)
    for record in records.records:
        materialization = record.event_log_entry.asset_materialization
        if materialization is not None and materialization.asset_key == LISTENS_KEY:
            value = materialization.metadata.get(ARTIST_GENRES_DUE)
            return None if value is None else bool(value.value)
    return None
