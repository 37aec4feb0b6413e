"""A user's past from Spotify's export: land it, (load it with the crawl's load step), resolve its tracks.

Thin wiring around `listory_pipeline.history`; the import's rules and why are there. The
history modules import Polars, which a one-minute crawl run must never pay for, so they are
imported inside the asset bodies.
"""


from dagster import AssetExecutionContext, AssetKey, Config, Failure, MaterializeResult, MetadataValue, asset
from pydantic import Field

from listory_pipeline.defs.crawl.assets import HISTORY_LANDING_KEY, LISTENS_KEY
from listory_pipeline.defs.partitions import spotify_users
from listory_pipeline.defs.resources import LandingResource, RegistryResource, SpotifyResource, WarehouseResource

IMPORTED_CATALOG_KEY = AssetKey(["core", "imported_track_catalog"])
# Progress lines a resolution run writes to the event log at most (every tenth of the way).
PROGRESS_STEPS = 10


class HistoryImportConfig(Config):
    paths: list[str] = Field(
        description="my_spotify_data.zip as Spotify mails it, the folder it unpacks to, or its JSON files (paths on the "
        "machine running the code location)."
    )
    min_listen_seconds: float = Field(
        default=30.0, description="Shorter plays are skips unless they played to their natural end (reason_end trackdone)."
    )
    include_incognito: bool = Field(default=False, description="Import plays made in a private session too.")
    allow_other_username: bool = Field(
        default=False, description="Import even if the export names another username (an account renamed)."
    )


@asset(
    key=HISTORY_LANDING_KEY,
    partitions_def=spotify_users,
    group_name="history",
    kinds={"json", "parquet"},
    description=(
        "The user's Spotify export (Extended Streaming History or Account data), parsed, checked and landed as "
        "Parquet without personal data; a file set lands whole or not at all. Loaded by core/listens."
    ),
)
def landing_extended_history(
    context: AssetExecutionContext, config: HistoryImportConfig, landing: LandingResource
) -> MaterializeResult:
    from listory_pipeline.history import steps
    from listory_pipeline.history.classify import ImportRules
    from listory_pipeline.history.errors import HistoryInputError
    from listory_pipeline.landing.store import LandingError

    user_id = context.partition_key
    try:
        rules = ImportRules(min_listen_ms=int(config.min_listen_seconds * 1000), include_incognito=config.include_incognito)
        landed = steps.land_export(
            landing.history(),
            config.paths,
            user_id=user_id,
            rules=rules,
            allow_other_username=config.allow_other_username,
            progress=lambda done, total, name: context.log.info("reading %s/%s files %s", done, total, name),
        )
    except (HistoryInputError, ValueError) as exc:
        raise Failure(description=f"import refused, nothing was stored: {exc}") from exc
    except LandingError as exc:
        raise Failure(description=f"{exc}; remove that folder to land the files again") from exc
    export = landed.export
    for warning in export.warnings:
        context.log.warning(warning)
    counts = export.counts
    return MaterializeResult(
        metadata={
            "import_id": export.import_id,
            "new": landed.new,
            "files": MetadataValue.json([{"name": f.name, "format": f.format, "entries": f.entries} for f in export.files]),
            "entries": counts["entries"],
            "listens": counts["listens"],
            "skips": counts["skips"],
            "not_imported": MetadataValue.json(
                {key: counts[key] for key in ("incognito_dropped", "podcast_episodes", "audiobook_chapters", "local_files", "unidentified", "duplicate_rows")}
            ),
            "covered_from": export.covered_from.isoformat() if export.covered_from else "",
            "covered_to": export.covered_to.isoformat() if export.covered_to else "",
            "rules": export.rules.describe(),
            "path": MetadataValue.path(str(landed.landed.folder)),
        }
    )


@asset(
    key=IMPORTED_CATALOG_KEY,
    deps=[LISTENS_KEY],
    partitions_def=spotify_users,
    group_name="catalog",
    kinds={"spotify", "duckdb"},
    pool="duckdb",
    description=(
        "Imported tracks completed from Spotify (album, credited artists, then genres): 50 ids a request where the "
        "app may, one by one where it may not, within LISTORY_RESOLVE_MAX_REQUESTS a run; resumes where it stopped."
    ),
)
def imported_track_catalog(
    context: AssetExecutionContext,
    spotify: SpotifyResource,
    warehouse: WarehouseResource,
    registry: RegistryResource,
) -> MaterializeResult:
    from listory_pipeline.history.resolve import resolve_imported_tracks

    user_id = context.partition_key
    users = registry.registry()
    reported = [-1]

    def progress(done: int, total: int) -> None:
        step = done * PROGRESS_STEPS // total if total else PROGRESS_STEPS
        if step > reported[0]:
            reported[0] = step
            context.log.info("resolving imported tracks of %s: %s/%s", user_id, done, total)

    with spotify.user_session(users.get(user_id), users) as (client, session, app_key):
        outcome = resolve_imported_tracks(
            warehouse.path(),
            client,
            session,
            app_key,
            user_id=user_id,
            max_requests=spotify.resolve_budget(),
            lock_wait_seconds=warehouse.lock_wait_seconds(),
            publication=warehouse.publication(),
            progress=progress,
        )
    if outcome.deferred_reason:
        context.log.warning("resolution deferred: %s", outcome.deferred_reason)
    return MaterializeResult(
        metadata={
            "pending_tracks": outcome.pending_after,
            "resolved_tracks": outcome.resolved,
            "not_found_tracks": outcome.not_found,
            "pending_before": outcome.pending_before,
            "track_requests": outcome.track_requests,
            "artist_requests": outcome.artist_requests,
            "artists_checked": outcome.artists_checked,
            "bulk_refused": outcome.bulk_refused,
            "deferred_reason": outcome.deferred_reason or "",
            # an import run, or resolution that completed artists: the reports location rebuilds
            "rebuild_reports": context.job_name == "import_history_job" or outcome.resolved > 0,
            "spotify_requests": MetadataValue.json(outcome.requests),
            "spotify_requests_total": outcome.requests.get("total", 0),
        }
    )
