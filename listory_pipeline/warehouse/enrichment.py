"""Artist genres: the only catalog data a crawl has to ask Spotify for.

Tracks, simplified albums and simplified artists come inside every
recently-played answer; genres do not. Enrichment asks only for artists never
checked (or stale), in bulk where the app may, one by one where it may not, and
within a request budget, because live polling comes first.

Development-mode apps in 2026 often get artists without a `genres` field at
all. That is "no genre", not an error; and when a whole batch comes back that
way the app is marked as getting no genres, so enrichment stops spending
requests and only probes one artist again after `probe_interval`.

The work is split so the DuckDB lock is never held during HTTP calls:
`plan_enrichment` (read), the Spotify calls (caller), `apply_enrichment` (write).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from listory_pipeline.sqlfiles import sql_file
from listory_pipeline.warehouse.connection import Warehouse

_SQL = sql_file(__file__, "enrichment.sql")
STALE_AFTER = timedelta(days=90)
PROBE_INTERVAL = timedelta(days=1)
BULK_RECHECK_INTERVAL = timedelta(days=7)
_PAIR_SEPARATOR = chr(31)


@dataclass(frozen=True)
class EnrichmentState:
    genres_unavailable_until: datetime | None = None
    bulk_refused_kinds: tuple[str, ...] = ()
    bulk_checked_at: datetime | None = None

    def genres_available(self, now: datetime) -> bool:
        return self.genres_unavailable_until is None or self.genres_unavailable_until <= now

    def probing(self, now: datetime) -> bool:
        """Genres were missing before and the pause is over: spend one request to look again."""
        return self.genres_unavailable_until is not None and self.genres_unavailable_until <= now

    def remembered_refusals(self, now: datetime) -> tuple[str, ...]:
        """Bulk refusals are trusted for a week, then the bulk endpoint is tried once more."""
        if self.bulk_checked_at is None or now - self.bulk_checked_at > BULK_RECHECK_INTERVAL:
            return ()
        return self.bulk_refused_kinds


@dataclass
class EnrichmentPlan:
    state: EnrichmentState
    artist_ids: list[str]
    rechecked_ids: frozenset[str] = frozenset()
    skipped_reason: str | None = None


@dataclass
class EnrichmentOutcome:
    artists_checked: int = 0
    artists_with_genres: int = 0
    genres_written: int = 0
    genres_unavailable: bool = False
    deferred: int = 0
    write_statements: dict[str, int] = field(default_factory=dict)


def read_state(warehouse: Warehouse, app_key: str) -> EnrichmentState:
    rows = warehouse.read(_SQL["select_state"], {"app_key": app_key})
    if not rows:
        return EnrichmentState()
    until, kinds, checked = rows[0]
    return EnrichmentState(until, tuple(kinds or ()), checked)


def plan_enrichment(
    warehouse: Warehouse, app_key: str, *, now: datetime, max_artists: int
) -> EnrichmentPlan:
    state = read_state(warehouse, app_key)
    if not state.genres_available(now):
        return EnrichmentPlan(state, [], skipped_reason=f"genres unavailable for this app until {state.genres_unavailable_until:%Y-%m-%d %H:%M} UTC")
    limit = 1 if state.probing(now) else max_artists
    rows = warehouse.read(
        _SQL["select_artists_needing_genres"],
        {"genres_available": True, "stale_before": now - STALE_AFTER, "limit": limit},
    )
    return EnrichmentPlan(
        state,
        [artist_id for artist_id, _ in rows],
        rechecked_ids=frozenset(artist_id for artist_id, rechecked in rows if rechecked),
    )


def interpret_artists(artists: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """Artist rows and (artist, genre) pairs; an artist with no `genres` key is 'unavailable'."""
    rows, pairs = [], []
    for artist in artists:
        if not isinstance(artist, dict) or not isinstance(artist.get("id"), str):
            continue
        genres = artist.get("genres")
        has_genres = isinstance(genres, list)
        followers = artist.get("followers")
        images = artist.get("images") or []
        rows.append(
            {
                "artist_id": artist["id"],
                "name": artist.get("name") if isinstance(artist.get("name"), str) else None,
                "popularity": artist.get("popularity") if isinstance(artist.get("popularity"), int) else None,
                "followers": followers.get("total") if isinstance(followers, dict) else None,
                "image_url": images[0].get("url") if images and isinstance(images[0], dict) else None,
                "genres_status": "found" if has_genres else "unavailable",
            }
        )
        if has_genres:
            for genre in dict.fromkeys(g.strip().lower() for g in genres if isinstance(g, str) and g.strip()):
                pairs.append({"artist_id": artist["id"], "genre": genre})
    return rows, pairs


def apply_enrichment(
    warehouse: Warehouse,
    app_key: str,
    plan: EnrichmentPlan,
    *,
    fetched: list[dict[str, Any]],
    missing_ids: list[str],
    deferred_ids: list[str],
    bulk_refused_kinds: tuple[str, ...],
    bulk_checked: bool,
    now: datetime,
) -> EnrichmentOutcome:
    """Write what was fetched in one transaction; unknown ids count as checked with no genres."""
    rows, pairs = interpret_artists(fetched)
    known = {row["artist_id"] for row in rows}
    rows += [
        {"artist_id": artist_id, "name": None, "popularity": None, "followers": None, "image_url": None, "genres_status": "found"}
        for artist_id in missing_ids
        if artist_id not in known
    ]
    outcome = EnrichmentOutcome(
        artists_checked=len(rows),
        artists_with_genres=len({pair["artist_id"] for pair in pairs}),
        genres_written=len(pairs),
        deferred=len(deferred_ids),
    )
    fetched_rows = [row for row in rows if row["artist_id"] in known]
    outcome.genres_unavailable = bool(fetched_rows) and all(r["genres_status"] == "unavailable" for r in fetched_rows)
    if outcome.genres_unavailable:
        unavailable_until = now + PROBE_INTERVAL
    elif fetched_rows:
        unavailable_until = None
    else:
        unavailable_until = plan.state.genres_unavailable_until
    before = warehouse.writes.snapshot()
    with warehouse.transaction():
        if rows:
            warehouse.write("core.artists", _SQL["update_artists"], {"rows": json.dumps(rows), "now": now})
            checked = [
                row["artist_id"]
                for row in rows
                if row["genres_status"] == "found" and row["artist_id"] in plan.rechecked_ids
            ]
            if checked:
                warehouse.write(
                    "core.artist_genres",
                    _SQL["delete_stale_genres"],
                    {"checked_ids": checked, "pairs": [p["artist_id"] + _PAIR_SEPARATOR + p["genre"] for p in pairs]},
                )
            if pairs:
                warehouse.write("core.artist_genres", _SQL["insert_genres"], {"rows": json.dumps(pairs)})
        warehouse.write(
            "meta.enrichment_state",
            _SQL["upsert_state"],
            {
                "app_key": app_key,
                "genres_unavailable_until": unavailable_until,
                "bulk_refused_kinds": sorted(bulk_refused_kinds),
                "bulk_checked_at": now if bulk_checked else plan.state.bulk_checked_at,
                "now": now,
            },
        )
    outcome.write_statements = warehouse.writes.since(before)
    return outcome
