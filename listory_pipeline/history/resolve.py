"""Completing the catalog of imported tracks: albums, credited artists, then their genres.

An export names a track by id and three names; its duration, album and credits come from
Spotify. Resolution asks `GET /tracks?ids=` 50 at a time where the app may, and one track at a
time where Spotify refuses the several-ids form (development mode), within a request budget,
because live polling comes first. It works in chunks, each written in its own short
transaction with the DuckDB lock released during HTTP calls, so an interrupted resolution
(killed run, 429 with hours of `Retry-After`, budget spent) has kept everything it fetched
and continues with the tracks still pending. Artists that resolution brings get their genres
through the crawl's own enrichment step, within the same budget.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from listory_pipeline.crawl import steps as crawl
from listory_pipeline.spotify.client import BULK_CHUNK_SIZES, SpotifyClient, UserSession
from listory_pipeline.spotify.errors import RateLimitedError
from listory_pipeline.sqlfiles import sql_file
from listory_pipeline.warehouse import loader as pull_loader
from listory_pipeline.publication.snapshot import Publication
from listory_pipeline.warehouse.connection import Warehouse, open_warehouse
from listory_pipeline.warehouse.enrichment import BULK_RECHECK_INTERVAL
from listory_pipeline.warehouse.parse import CatalogRows, MalformedPullError, add_track

_SQL = sql_file(__file__, "resolve.sql")
_LOAD_SQL = sql_file(pull_loader.__file__, "load.sql")
# Tracks per chunk (one transaction each): ten bulk requests, or 200 single ones (a few
# seconds of requests): what an interruption can cost, against a commit per chunk.
BULK_CHUNK_TRACKS = 10 * BULK_CHUNK_SIZES["tracks"]
SINGLE_CHUNK_TRACKS = 200

# (tracks done, tracks pending when resolution started)
ResolveProgress = Callable[[int, int], None]


@dataclass
class ResolutionOutcome:
    pending_before: int = 0
    resolved: int = 0
    not_found: int = 0
    malformed: int = 0
    pending_after: int = 0
    track_requests: int = 0
    artists_checked: int = 0
    artist_requests: int = 0
    requests: dict[str, int] = field(default_factory=dict)
    bulk_refused: bool = False
    deferred_reason: str | None = None
    write_statements: dict[str, int] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        return self.pending_after == 0


def apply_resolved_tracks(
    warehouse: Warehouse, tracks: list[dict[str, Any]], missing_ids: list[str], *, now: datetime
) -> tuple[int, list[str]]:
    """Write fetched tracks as a crawl would, mark unknown ids; (tracks written, ids malformed)."""
    catalog = CatalogRows()
    malformed: list[str] = []
    for index, track in enumerate(tracks):
        try:
            add_track(catalog, track, f"tracks[{index}]")
        except MalformedPullError:
            track_id = track.get("id") if isinstance(track, dict) else None
            if isinstance(track_id, str):
                malformed.append(track_id)
    params = {"now": now}
    with warehouse.transaction():
        for table, statement, rows in (
            ("core.albums", "upsert_albums", catalog.albums),
            ("core.artists", "upsert_artists", catalog.artists),
            ("core.tracks", "upsert_tracks", catalog.tracks),
            ("core.track_artists", "insert_track_artists", catalog.track_artists),
            ("core.album_artists", "insert_album_artists", catalog.album_artists),
        ):
            if rows:
                warehouse.write(table, _LOAD_SQL[statement], {**params, "rows": json.dumps(list(rows.values()))})
        # A malformed answer for one track must not be asked again forever: it stays by name.
        unknown = [*missing_ids, *malformed]
        if unknown:
            warehouse.write("core.tracks", _SQL["mark_not_found"], {**params, "track_ids": unknown})
    return len(catalog.tracks), malformed


def remove_replaced_stand_ins(warehouse: Warehouse) -> None:
    """Stand-ins no longer needed once their tracks are complete; harmless until then (reports
    use a provisional credit only for a track without real ones), so this runs once per resolution."""
    with warehouse.transaction():
        warehouse.write("core.provisional_credits", _SQL["delete_resolved_provisional_credits"])
        warehouse.write("core.albums", _SQL["delete_orphan_placeholder_albums"])
        warehouse.write("core.artists", _SQL["delete_orphan_placeholder_artists"])


def _relinked(tracks: list[dict[str, Any]], asked: set[str]) -> list[dict[str, Any]]:
    """Spotify may answer an id with a relinked track (`linked_from`): store it under the id we hold."""
    out = []
    for track in tracks:
        linked = track.get("linked_from") if isinstance(track, dict) else None
        if isinstance(linked, dict) and linked.get("id") in asked and track.get("id") not in asked:
            track = {**track, "id": linked["id"]}
        out.append(track)
    return out


def _seed_bulk_memory(warehouse: Warehouse, client: SpotifyClient, app_key: str, now: datetime) -> None:
    rows = warehouse.read(_SQL["select_bulk_state"], {"app_key": app_key})
    if rows:
        kinds, checked_at = rows[0]
        if checked_at is not None and now - checked_at <= BULK_RECHECK_INTERVAL:
            for kind in kinds or ():
                client.remember_bulk_refused(kind)


def resolve_imported_tracks(
    warehouse_path: Path,
    client: SpotifyClient,
    session: UserSession,
    app_key: str,
    *,
    user_id: str,
    max_requests: int,
    lock_wait_seconds: float,
    publication: Publication | None = None,
    progress: ResolveProgress | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
) -> ResolutionOutcome:
    """Resolve the user's pending imported tracks, then the genres of the artists they brought."""
    outcome = ResolutionOutcome()
    counted = session.counter.snapshot()
    with open_warehouse(warehouse_path, wait_seconds=lock_wait_seconds) as warehouse:
        before = warehouse.writes.snapshot()
        # Read once: the chunks below only write, so the lock is free between them for crawl loads.
        pending = [row[0] for row in warehouse.read(_SQL["select_pending_tracks"], {"user_id": user_id, "limit": None})]
        _seed_bulk_memory(warehouse, client, app_key, now())
    outcome.pending_before = len(pending)
    writes: dict[str, int] = {}
    budget = max_requests
    done = 0
    if progress and pending:
        progress(0, len(pending))
    while budget > 0 and pending:
        chunk = BULK_CHUNK_TRACKS if client.bulk_allowed("tracks") is not False else SINGLE_CHUNK_TRACKS
        ids, pending = pending[:chunk], pending[chunk:]
        try:
            fetched = session.tracks(ids, max_requests=budget)
        except RateLimitedError as exc:
            outcome.deferred_reason = f"rate limited until {exc.retry_at:%Y-%m-%d %H:%M:%S} UTC; resolution continues then"
            break
        budget -= fetched.requests
        outcome.track_requests += fetched.requests
        with open_warehouse(warehouse_path, wait_seconds=lock_wait_seconds, publication=publication) as warehouse:
            snapshot = warehouse.writes.snapshot()
            written, malformed = apply_resolved_tracks(
                warehouse, _relinked(fetched.items, set(ids)), fetched.missing_ids, now=now()
            )
            _add(writes, warehouse.writes.since(snapshot))
        outcome.resolved += written
        outcome.not_found += len(fetched.missing_ids)
        outcome.malformed += len(malformed)
        done += written + len(fetched.missing_ids) + len(malformed)
        if progress:
            progress(done, outcome.pending_before)
        if fetched.deferred_ids:
            break  # the budget ran out inside this chunk
    outcome.bulk_refused = client.bulk_allowed("tracks") is False
    if outcome.bulk_refused:
        with open_warehouse(warehouse_path, wait_seconds=lock_wait_seconds) as warehouse:
            warehouse.write(
                "meta.enrichment_state",
                _SQL["remember_bulk_refusals"],
                {"app_key": app_key, "bulk_refused_kinds": ["tracks"], "now": now()},
            )
    # Genres of the artists the resolved tracks brought, with what is left of the budget.
    while budget > 0 and outcome.deferred_reason is None:
        enriched = crawl.enrich_artists(
            warehouse_path,
            client,
            session,
            app_key,
            max_requests=budget,
            lock_wait_seconds=lock_wait_seconds,
            publication=publication,
        )
        spent = enriched.requests.get("artist", 0) + enriched.requests.get("artists_bulk", 0)
        budget -= max(spent, 1)
        outcome.artist_requests += spent
        if enriched.result:
            outcome.artists_checked += enriched.result.artists_checked
        if enriched.skipped_reason and enriched.skipped_reason.startswith("rate limited"):
            outcome.deferred_reason = enriched.skipped_reason
        if not enriched.result or not enriched.result.artists_checked or enriched.result.deferred:
            break
    with open_warehouse(warehouse_path, wait_seconds=lock_wait_seconds, publication=publication) as warehouse:
        remove_replaced_stand_ins(warehouse)  # also those a killed run left behind
        outcome.pending_after = warehouse.read(_SQL["count_pending_tracks"], {"user_id": user_id})[0][0]
        _add(writes, warehouse.writes.since(before))
    outcome.requests = session.counter.diff(counted)
    outcome.write_statements = writes
    return outcome


def _add(total: dict[str, int], more: dict[str, int]) -> None:
    for key, value in more.items():
        total[key] = total.get(key, 0) + value
