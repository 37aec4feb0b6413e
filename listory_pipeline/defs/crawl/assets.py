"""The crawl of one user: land the raw pull, then load it into `core.*`.

Thin wiring around `listory_pipeline.crawl`; what each step does and why is there.
"""


from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AssetMaterialization,
    AssetSpec,
    Failure,
    MaterializeResult,
    MetadataValue,
    asset,
    multi_asset,
)

from listory_pipeline import runtime
from listory_pipeline.crawl import steps as crawl
from listory_pipeline.defs.partitions import spotify_users
from listory_pipeline.defs.resources import LandingResource, RegistryResource, SpotifyResource, WarehouseResource
from listory_pipeline.spotify.errors import AuthError, AuthRevokedError, RateLimitedError
from listory_pipeline.warehouse.checks import LISTEN_CHECKS
from listory_pipeline.users.registry import RegisteredUser, UserRegistry, token_expiry_status
from listory_pipeline.warehouse.loader import UserRow

LANDING_KEY = AssetKey(["landing", "recently_played"])
HISTORY_LANDING_KEY = AssetKey(["landing", "extended_history"])
LISTENS_KEY = AssetKey(["core", "listens"])
# core/listens' metadata: whether an artist awaits genres after the load (the genres step reads it)
ARTIST_GENRES_DUE = "artist_genres_due"
CATALOG_FROM_PAYLOAD = ("tracks", "albums", "artists", "track_artists", "album_artists", "users")
# Written only when a landed history import is loaded: materialized then, not by every crawl.
FROM_HISTORY_ONLY = ("skipped_plays", "provisional_credits")

# The other core.* tables the load step writes. Declared beside it rather than as its outputs: an
# output costs three events in every run (planned, output, materialization) whether the table
# changed or not, and a crawl runs every minute. The step records a materialization of each
# (one event) when its load changed it: rows inserted or updated (a new track, a renamed
# album, a user's new time zone), or a history import loaded. New plays of known tracks
# change core.listens alone.
CORE_TABLES_OF_THE_LOAD = [
    *[
        AssetSpec(
            ["core", name],
            deps=[LANDING_KEY, HISTORY_LANDING_KEY],
            kinds={"duckdb"},
            group_name="crawl",
            partitions_def=spotify_users,
            description=f"core.{name}, upserted from the recently-played payload by core/listens' load step.",
        )
        for name in CATALOG_FROM_PAYLOAD
    ],
    *[
        AssetSpec(
            ["core", name],
            deps=[HISTORY_LANDING_KEY],
            kinds={"duckdb"},
            group_name="crawl",
            partitions_def=spotify_users,
            description=f"core.{name}, written when a landed history import is loaded (core/listens' load step).",
        )
        for name in FROM_HISTORY_ONLY
    ],
]


def tables_changed(result) -> list[str]:
    """The other core.* tables (names) a load wrote rows to: each gets a materialization."""
    history = result.history
    if history is not None and history.imports:  # rare, and it writes every table: all of them
        return [*CATALOG_FROM_PAYLOAD, *FROM_HISTORY_ONLY]
    return [name for name in CATALOG_FROM_PAYLOAD if result.rows_changed.get(f"core.{name}")]


def _active_user(users: UserRegistry, user_id: str) -> RegisteredUser:
    user = users.get(user_id)
    if user.status != "active":
        raise Failure(
            description=f"user {user_id} is {user.status}"
            + (f" ({user.status_reason})" if user.status_reason else "")
            + "; not crawled. "
            + (f"`listory users enable {user_id}` restores crawling." if user.status == "disabled"
               else f"`listory login` as {user_id} restores crawling.")
        )
    return user


def _rejected_app_failure(users: UserRegistry, user: RegisteredUser) -> Failure:
    """Spotify refused the app's credentials (invalid_client) when refreshing this user's token.

    A user's own app (deleted from Spotify's dashboard, secret rotated) stops that user, like a
    revocation, until they log in again with working app credentials; the instance's own app
    is the operator's to fix, and no user is marked for it.
    """
    if user.app_client_id:
        users.set_status(user.user_id, "revoked", reason="Spotify rejected the user's own app credentials (invalid_client)")
        return Failure(
            description=(
                f"Spotify rejected the credentials of {user.user_id}'s own app {user.app_client_id} (invalid_client); "
                "marked revoked. Run `listory login --client-id … --client-secret-file …` with working app credentials."
            )
        )
    return Failure(
        description="Spotify rejected this instance's app credentials (invalid_client): check SPOTIFY_CLIENT_ID and "
        "SPOTIFY_CLIENT_SECRET"
    )


@asset(
    key=LANDING_KEY,
    partitions_def=spotify_users,
    group_name="crawl",
    kinds={"spotify", "json"},
    description=(
        "Raw recently-played answers (last 50 plays), append-only: one gzip JSON file per new answer, a line of the "
        "day's repeats.jsonl naming the earlier pull for an answer identical to the previous one."
    ),
)
def landing_recently_played(
    context: AssetExecutionContext,
    spotify: SpotifyResource,
    landing: LandingResource,
    registry: RegistryResource,
) -> MaterializeResult:
    user_id = context.partition_key
    users = registry.registry()
    user = _active_user(users, user_id)
    expiry = token_expiry_status(user)
    if expiry.status in ("expiring", "expired"):
        context.log.warning(
            "the refresh token of %s is %s: run `listory login` for them before crawling stops", user_id, expiry.describe()
        )
    # A pause of the app recorded by another run makes the client wait, or fail at once
    # without asking Spotify when it is longer than a run may wait inline.
    with spotify.user_session(user, users) as (_client, session, _app_key):
        try:
            outcome = crawl.land_recent_plays(session, landing.zone(), user_id)
        except AuthRevokedError as exc:
            users.set_status(user_id, "revoked", reason="Spotify answered invalid_grant on refresh")
            raise Failure(
                description=f"user {user_id} revoked access to Spotify; marked revoked. Run `listory login` to restore."
            ) from exc
        except AuthError as exc:
            if exc.error_code != "invalid_client":
                raise
            raise _rejected_app_failure(users, user) from exc
        except RateLimitedError as exc:
            raise Failure(
                description=f"Spotify app rate-limited ({exc.reason or '429'}) until {exc.retry_at:%Y-%m-%d %H:%M:%S} UTC; "
                "crawls of this app resume by themselves after that",
                metadata={"retry_at": exc.retry_at.isoformat(), "reason": exc.reason or "rate_limited"},
            ) from exc
    repeat_of = outcome.pull.same_as  # the run's metadata says where it landed: no log line a minute
    return MaterializeResult(
        metadata={
            "plays_in_pull": outcome.plays_in_pull,
            "newest_played_at": outcome.newest_played_at or "",
            "pull_id": outcome.pull.pull_id,
            "repeat_of": repeat_of or "",
            "path": MetadataValue.path(str(outcome.pull.path)),
            "spotify_requests": MetadataValue.json(outcome.requests),
            "spotify_requests_total": outcome.requests.get("total", 0),
            "refresh_token_status": expiry.describe(),
        }
    )


@multi_asset(
    specs=[
        AssetSpec(
            LISTENS_KEY,
            deps=[LANDING_KEY, HISTORY_LANDING_KEY],
            kinds={"duckdb"},
            group_name="crawl",
            description="One row per play, unique on (user_id, track_id, played_at).",
        ),
    ],
    check_specs=[AssetCheckSpec(name, asset=LISTENS_KEY, description=text) for name, (_, text) in LISTEN_CHECKS.items()],
    partitions_def=spotify_users,
    pool="duckdb",
    name="load_core_from_landing",
)
def load_core_from_landing(
    context: AssetExecutionContext,
    landing: LandingResource,
    warehouse: WarehouseResource,
    registry: RegistryResource,
):
    """Loads every landed, not yet loaded pull of the user in one transaction, then any landed history import."""
    user_id = context.partition_key
    everyone = {u.user_id: u for u in registry.registry().list()}
    if user_id not in everyone:
        raise Failure(description=f"user {user_id} is not in the registry (removed?); nothing to load")
    registered = {u.user_id: UserRow(u.user_id, u.display_name, u.timezone, u.status) for u in everyone.values()}
    app_key = runtime.app_key_for_user(registry.settings(), everyone[user_id])
    result, checks = crawl.load_landed(
        warehouse.path(),
        landing.zone(),
        registered[user_id],
        lock_wait_seconds=warehouse.lock_wait_seconds(),
        publication=warehouse.publication(),
        mirror_users=list(registered.values()),
        history=landing.history(),
        enrichment_app_key=app_key,
    )
    history = result.history
    if history is not None and history.imports:
        for one in history.imports:
            context.log.info(
                "history import %s: %s, %s new listens, %s matched stored plays, %s skips",
                one.import_id, one.outcome, one.listens_new, one.listens_matched, one.skips_new,
            )
    if result.future_plays:
        context.log.warning(
            "%s play(s) dated after their fetch were not stored: %s", len(result.future_plays), "; ".join(result.future_plays)
        )
    if result.possible_gap:
        context.log.warning(
            "possible gap for %s: a full pull of 50 plays is entirely newer than the stored listens", user_id
        )
    yield MaterializeResult(
        asset_key=LISTENS_KEY,
        metadata={
            "new_listens": result.new_listens,
            "plays_in_pulls": result.plays_in_pulls,
            "pulls_loaded": result.pulls_loaded,
            "pulls_rejected": len(result.pulls_rejected),
            "future_plays_not_stored": len(result.future_plays),
            "newest_played_at": result.newest_played_at.isoformat() if result.newest_played_at else "",
            "possible_gap": result.possible_gap,
            "open_gaps": result.open_gaps,
            "gaps_filled_by_imports": result.filled_gaps,
            "history_imports_loaded": len(history.imports) if history else 0,
            "history_listens_new": history.listens_new if history else 0,
            "duckdb_write_statements": result.write_statement_count,
            "write_statements_by_table": MetadataValue.json(result.write_statements),
            "rows_changed_by_table": MetadataValue.json(result.rows_changed),
            "repeats_already_loaded": result.repeats_already_loaded,
            ARTIST_GENRES_DUE: bool(result.artist_genres_due),
        },
        check_results=[
            AssetCheckResult(
                check_name=check.name,
                asset_key=LISTENS_KEY,
                passed=check.passed,
                severity=AssetCheckSeverity.ERROR,
                metadata={"offending_rows": check.offending_rows},
            )
            for check in checks
        ],
    )
    for name in tables_changed(result):
        context.log_event(AssetMaterialization(asset_key=["core", name], partition=user_id))
    if result.pulls_rejected:
        details = "; ".join(f"{pull_id}: {error}" for pull_id, error in result.pulls_rejected)
        raise Failure(
            description=f"{len(result.pulls_rejected)} landed pull(s) were malformed and skipped (kept on disk): {details}"
        )
    if history is not None and history.rejected:
        details = "; ".join(f"{one.import_id}: {one.error}" for one in history.rejected)
        raise Failure(description=f"landed history import(s) could not be loaded (kept on disk): {details}")
