"""The three steps of a crawl as plain functions: land, load, enrich.

Dagster assets, the CLI and the benchmarks all call these; each step opens what
it needs and closes it again, so the DuckDB lock is held only while writing and
never while waiting on Spotify.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from listory_pipeline.history.loader import load_pending_imports
from listory_pipeline.landing.history import HistoryLanding
from listory_pipeline.landing.store import LandedPull, LandingZone
from listory_pipeline.publication.snapshot import Publication
from listory_pipeline.spotify.client import SpotifyClient, UserSession
from listory_pipeline.spotify.errors import RateLimitedError
from listory_pipeline.warehouse.checks import CheckOutcome, run_listen_checks
from listory_pipeline.warehouse.connection import open_warehouse
from listory_pipeline.warehouse.enrichment import EnrichmentOutcome, apply_enrichment, plan_enrichment
from listory_pipeline.warehouse.loader import LoadResult, UserRow, gap_counts, load_user_pulls


@dataclass
class LandOutcome:
    pull: LandedPull
    plays_in_pull: int
    newest_played_at: str | None
    requests: dict[str, int]


# Most crawls find every artist checked already: said in the metadata, not logged.
NOTHING_TO_ENRICH = "no artist needs genres"


@dataclass
class EnrichOutcome:
    requests: dict[str, int] = field(default_factory=dict)
    result: EnrichmentOutcome | None = None
    skipped_reason: str | None = None
    bulk_refused_kinds: tuple[str, ...] = ()


def land_recent_plays(session: UserSession, landing: LandingZone, user_id: str) -> LandOutcome:
    """Ask for the last 50 plays and write the raw answer before anything else happens."""
    before = session.counter.snapshot()
    fetched_at = datetime.now(timezone.utc)
    payload = session.recently_played()
    requests = session.counter.diff(before)
    pull = landing.land(user_id, payload, fetched_at=fetched_at, request_counts=requests)
    items = payload.get("items") or []
    played = [item.get("played_at") for item in items if isinstance(item, dict) and isinstance(item.get("played_at"), str)]
    return LandOutcome(pull, len(items), max(played) if played else None, requests)


def load_landed(
    warehouse_path: Path,
    landing: LandingZone,
    user: UserRow,
    *,
    lock_wait_seconds: float,
    mirror_users: list[UserRow] | None = None,
    history: HistoryLanding | None = None,
    publication: Publication | None = None,
    enrichment_app_key: str | None = None,
) -> tuple[LoadResult, list[CheckOutcome]]:
    """Load the user's pending pulls (and landed history imports), then check their listens.

    Pulls load in one transaction, each history import in one of its own, on one connection;
    a landed import is loaded by whichever run of the user comes first, crawl or import.
    With `enrichment_app_key`, the same session also says whether an artist awaits genres for
    that app (`artist_genres_due`): the enrichment step then opens the warehouse only when one does.
    """
    with open_warehouse(warehouse_path, wait_seconds=lock_wait_seconds, publication=publication) as warehouse:
        result = load_user_pulls(warehouse, landing, user, mirror_users=mirror_users)
        if history is not None:
            result.history = load_pending_imports(warehouse, history, user.user_id)
            if result.history.imports:
                result.open_gaps, result.filled_gaps = gap_counts(warehouse, user.user_id)
        if enrichment_app_key is not None:
            plan = plan_enrichment(warehouse, enrichment_app_key, now=datetime.now(timezone.utc), max_artists=1)
            result.artist_genres_due = bool(plan.artist_ids)
        if not changed_what_readers_see(result):
            warehouse.only_bookkeeping()  # a repeat: the read copy is not taken again for it
        return result, run_listen_checks(warehouse, user.user_id)


def changed_what_readers_see(result: LoadResult) -> bool:
    """Whether a load wrote what readers query (new plays, catalog or user rows, an import, a
    possible gap they are told about), not only which pulls were read and how far."""
    imported = result.history is not None and bool(result.history.imports)
    return imported or result.possible_gap or result.new_listens > 0 or any(result.rows_changed.values())


def enrich_artists(
    warehouse_path: Path,
    client: SpotifyClient,
    session: UserSession,
    app_key: str,
    *,
    max_requests: int,
    lock_wait_seconds: float,
    publication: Publication | None = None,
) -> EnrichOutcome:
    """Fetch genres for artists not yet checked, within a request budget; a 429 defers the rest."""
    now = datetime.now(timezone.utc)
    with open_warehouse(warehouse_path, wait_seconds=lock_wait_seconds) as warehouse:
        # At most `max_requests` single lookups, or that many bulk batches of 50.
        plan = plan_enrichment(warehouse, app_key, now=now, max_artists=max_requests * 50)
    if not plan.artist_ids:
        return EnrichOutcome(skipped_reason=plan.skipped_reason or NOTHING_TO_ENRICH)
    for kind in plan.state.remembered_refusals(now):
        client.remember_bulk_refused(kind)
    bulk_known_before = client.bulk_allowed("artists")
    before = session.counter.snapshot()
    skipped_reason = None
    try:
        fetched = session.artists(plan.artist_ids, max_requests=max_requests)
        items, missing, deferred = fetched.items, fetched.missing_ids, fetched.deferred_ids
    except RateLimitedError as exc:
        # The client's shared gate has recorded the pause for every process of the app.
        items, missing, deferred = [], [], plan.artist_ids
        skipped_reason = f"rate limited until {exc.retry_at:%Y-%m-%d %H:%M:%S} UTC; enrichment deferred"
    requests = session.counter.diff(before)
    refused = tuple(sorted(client.bulk_refused_kinds))
    with open_warehouse(warehouse_path, wait_seconds=lock_wait_seconds, publication=publication) as warehouse:
        result = apply_enrichment(
            warehouse,
            app_key,
            plan,
            fetched=items,
            missing_ids=missing,
            deferred_ids=deferred,
            bulk_refused_kinds=refused,
            bulk_checked=bulk_known_before is None and client.bulk_allowed("artists") is not None,
            now=now,
        )
    return EnrichOutcome(
        requests=requests,
        result=result,
        skipped_reason=skipped_reason,
        bulk_refused_kinds=refused,
    )

