"""Loading landed pulls into `core.*`: one transaction, one statement per table.

The loader reads every landed pull of a user that the warehouse has not recorded
in `meta.loaded_pulls`, parses them in Python (cheap: 50 plays a pull), merges
the rows across pulls, then writes each table with a single set-based statement.
Listens are keyed on (user_id, track_id, played_at), so a pull loaded twice, or
two overlapping pulls, store each play once. Malformed pulls are recorded as
rejected, with the reason, and stay untouched in the landing zone.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from listory_pipeline.landing.store import LandedPull, LandingError, LandingZone
from listory_pipeline.sqlfiles import sql_file
from listory_pipeline.warehouse.connection import Warehouse
from listory_pipeline.warehouse.parse import MalformedPullError, ParsedPull, parse_recently_played

_SQL = sql_file(__file__, "load.sql")
RECENTLY_PLAYED_LIMIT = 50
# How far behind the newest loaded pull the next load starts looking: far longer than any crawl
# can take between stamping a pull and landing it (timeouts, bounded retries, inline 429 waits).
WATERMARK_SLACK = timedelta(hours=1)
# Beyond any tolerance of the same play from the export (history/sql/history_load.sql).
SAME_PLAY_WINDOW = timedelta(seconds=90)


@dataclass(frozen=True)
class UserRow:
    """What `core.users` mirrors from the registry: never a token."""

    user_id: str
    display_name: str | None
    timezone: str
    status: str


@dataclass
class LoadResult:
    user_id: str
    pulls_loaded: int = 0
    # of which repeats of an answer already loaded whole: recorded, not read again (nothing to add)
    repeats_already_loaded: int = 0
    # loaded pulls that were not repeats of an earlier answer (landing/store.py): only these can change the catalog
    new_answers: int = 0
    pulls_rejected: list[tuple[str, str]] = field(default_factory=list)
    plays_in_pulls: int = 0
    new_listens: int = 0
    newest_played_at: datetime | None = None
    possible_gap: bool = False
    # plays dated after their pull's fetch (beyond the clock-skew allowance): not stored
    future_plays: list[str] = field(default_factory=list)
    # gaps recorded for the user so far: still open, and filled by an imported export
    open_gaps: int = 0
    filled_gaps: int = 0
    history: Any = None  # HistoryLoadResult when landed history imports were loaded too
    write_statements: dict[str, int] = field(default_factory=dict)
    # rows inserted or changed, by table (core.* catalog and users): what a crawl reports as materialized
    rows_changed: dict[str, int] = field(default_factory=dict)
    # whether an artist awaits genres for the user's app after this load (None: not asked)
    artist_genres_due: bool | None = None

    @property
    def write_statement_count(self) -> int:
        return sum(self.write_statements.values())


def _json_rows(rows: list[dict[str, Any]]) -> str:
    return json.dumps([{k: v for k, v in row.items() if not k.endswith("_dt")} for row in rows])


def detect_gaps(previous_newest: datetime | None, pulls: list[ParsedPull]) -> list[dict[str, Any]]:
    """Stretches where plays may be lost: a full pull whose every play is newer than all we had.

    Spotify keeps only the last 50 plays: if a user who already has stored
    listens shows 50 plays all newer than the newest stored one, the plays
    between them fell out of the window before we asked. Each gap runs from the
    newest stored play to the oldest play of that pull.
    """
    newest = previous_newest
    gaps = []
    for pull in pulls:
        played = pull.played_at_values
        if not played:
            continue
        if newest is not None and pull.item_count >= RECENTLY_PLAYED_LIMIT and min(played) > newest:
            gaps.append(
                {
                    "user_id": pull.user_id,
                    "gap_from": newest.isoformat(),
                    "gap_to": min(played).isoformat(),
                    "pull_id": pull.pull_id,
                }
            )
        newest = max(played) if newest is None else max(newest, max(played))
    return gaps


def _merge(pulls: list[ParsedPull], attribute: str, key: tuple[str, ...]) -> list[dict[str, Any]]:
    """Rows of all pulls, one per key; a later pull's catalog data wins."""
    merged: dict[tuple, dict[str, Any]] = {}
    for pull in pulls:
        for row in getattr(pull, attribute):
            merged[tuple(row[k] for k in key)] = row
    return list(merged.values())


def pending_pulls(warehouse: Warehouse, landing: LandingZone, user_id: str) -> list[LandedPull]:
    """Landed pulls not yet loaded or rejected, from the user's watermark on."""
    row = warehouse.read(_SQL["select_watermark"], {"user_id": user_id})
    since: datetime | None = row[0][0] if row else None
    candidates = list(landing.pulls(user_id, since=since))
    if not candidates:
        return []
    done = {
        pull_id
        for (pull_id,) in warehouse.read(
            _SQL["select_loaded_pull_ids"], {"user_id": user_id, "since": since or datetime.min.replace(tzinfo=timezone.utc)}
        )
    }
    return [pull for pull in candidates if pull.pull_id not in done]


def cleanly_loaded(warehouse: Warehouse, user_id: str, pull_ids: set[str]) -> dict[str, int]:
    """Of these pulls, those loaded with every play stored: pull id -> plays."""
    if not pull_ids:
        return {}
    rows = warehouse.read(_SQL["select_cleanly_loaded_pulls"], {"user_id": user_id, "pull_ids": sorted(pull_ids)})
    return {pull_id: int(plays) for pull_id, plays in rows}


def load_user_pulls(
    warehouse: Warehouse,
    landing: LandingZone,
    user: UserRow,
    *,
    now: datetime | None = None,
    mirror_users: list[UserRow] | None = None,
) -> LoadResult:
    """Load every pending pull of one user in a single transaction.

    `core.users` mirrors `mirror_users` (default: this user) in the same
    statement, so a status change of someone who is no longer crawled (revoked,
    disabled) still reaches the warehouse at the next load of anyone.
    """
    now = now or datetime.now(timezone.utc)
    result = LoadResult(user_id=user.user_id)
    before = warehouse.writes.snapshot()
    with warehouse.transaction():
        pending = pending_pulls(warehouse, landing, user.user_id)
        parsed: list[ParsedPull] = []
        outcomes: list[dict[str, Any]] = []
        # A repeat is byte for byte the answer it names: when an earlier load stored that one whole,
        # the repeat adds nothing (most crawls of a user between two songs): it is recorded, not read
        # again. Within one load both are read, so a replay attributes plays as plain copies would.
        loaded_whole = cleanly_loaded(warehouse, user.user_id, {p.same_as for p in pending if p.same_as})
        skipped_plays = 0
        for pull in pending:
            if pull.same_as is not None and pull.same_as in loaded_whole:
                outcomes.append(_outcome(pull, loaded_whole[pull.same_as], "loaded", None))
                result.repeats_already_loaded += 1
                skipped_plays += loaded_whole[pull.same_as]
                continue
            try:
                document = landing.read(pull)
                if document["user_id"] != user.user_id:
                    raise MalformedPullError(
                        f"pull {pull.pull_id} belongs to {document['user_id']!r}, not {user.user_id!r}"
                    )
                one = parse_recently_played(
                    document["payload"], pull_id=pull.pull_id, user_id=user.user_id, fetched_at=pull.fetched_at
                )
            except (MalformedPullError, LandingError) as exc:
                result.pulls_rejected.append((pull.pull_id, str(exc)))
                outcomes.append(_outcome(pull, 0, "rejected", str(exc)))
                continue
            except (TypeError, ValueError, AttributeError, KeyError, OverflowError, RecursionError) as exc:
                # A shape the checks above did not foresee: still this pull's fault, never the queue's.
                error = f"pull {pull.pull_id} cannot be read as a play history ({type(exc).__name__}: {exc})"
                result.pulls_rejected.append((pull.pull_id, error))
                outcomes.append(_outcome(pull, 0, "rejected", error))
                continue
            parsed.append(one)
            if pull.same_as is None:
                result.new_answers += 1
            note = None
            if one.future_plays:
                result.future_plays.extend(f"{pull.pull_id}: {play}" for play in one.future_plays)
                note = f"{len(one.future_plays)} play(s) dated after the fetch not stored: " + ", ".join(one.future_plays)
            outcomes.append(_outcome(pull, len(one.listens), "loaded", note))
        previous_newest_rows = warehouse.read(_SQL["select_newest_played_at"], {"user_id": user.user_id})
        previous_newest = previous_newest_rows[0][0] if previous_newest_rows else None
        gaps = detect_gaps(previous_newest, parsed)
        result.possible_gap = bool(gaps)
        result.pulls_loaded = len(parsed) + result.repeats_already_loaded
        result.plays_in_pulls = sum(len(p.listens) for p in parsed) + skipped_plays
        newest = [max(p.played_at_values) for p in parsed if p.listens]
        result.newest_played_at = max([*newest, *([previous_newest] if previous_newest else [])], default=None)

        params = {"now": now}
        result.rows_changed["core.users"] = mirror_users_rows(warehouse, _with_user(mirror_users, user), now=now)
        if parsed:
            for table, statement, attribute, key in (
                ("core.albums", "upsert_albums", "albums", ("album_id",)),
                ("core.artists", "upsert_artists", "artists", ("artist_id",)),
                ("core.tracks", "upsert_tracks", "tracks", ("track_id",)),
                ("core.track_artists", "insert_track_artists", "track_artists", ("track_id", "artist_id")),
                ("core.album_artists", "insert_album_artists", "album_artists", ("album_id", "artist_id")),
            ):
                rows = _merge(parsed, attribute, key)
                if rows:
                    written = warehouse.write(table, _SQL[statement], {**params, "rows": _json_rows(rows)}).fetchone()
                    result.rows_changed[table] = int(written[0]) if written else 0
            listens = _merge(parsed, "listens", ("track_id", "played_at"))
            if listens:
                played = [listen["played_at_dt"] for listen in listens]
                window = {"window_from": min(played) - SAME_PLAY_WINDOW, "window_to": max(played) + SAME_PLAY_WINDOW}
                inserted = warehouse.write(
                    "core.listens", _SQL["insert_listens"], {**params, **window, "rows": _json_rows(listens)}
                ).fetchone()
                result.new_listens = int(inserted[0]) if inserted else 0
        if gaps:
            warehouse.write("meta.listen_gaps", _SQL["insert_gap"], {**params, "rows": json.dumps(gaps)})
        if outcomes:
            warehouse.write(
                "meta.loaded_pulls", _SQL["insert_loaded_pulls"], {**params, "rows": json.dumps(outcomes)}
            )
            # Every pull found is recorded now, so later loads may start listing near the newest
            # one. The slack covers crawls still in flight: a pull is stamped when its request
            # starts and written when the answer is in (retries and waits included).
            newest_fetch = min(now, max(p.fetched_at for p in pending))
            warehouse.write(
                "meta.landing_watermarks",
                _SQL["upsert_watermark"],
                {"user_id": user.user_id, "first_open_at": newest_fetch - WATERMARK_SLACK},
            )
    result.write_statements = warehouse.writes.since(before)
    result.open_gaps, result.filled_gaps = gap_counts(warehouse, user.user_id)
    return result


def gap_counts(warehouse: Warehouse, user_id: str) -> tuple[int, int]:
    """(gaps still open, gaps an imported export filled) recorded for the user."""
    open_gaps, filled = warehouse.read(_SQL["select_gap_counts"], {"user_id": user_id})[0]
    return int(open_gaps), int(filled)


def mirror_users_rows(warehouse: Warehouse, users: list[UserRow], *, now: datetime | None = None) -> int:
    """`core.users` rows for these registry users (never a token), in one statement; how many changed."""
    written = warehouse.write(
        "core.users",
        _SQL["upsert_users"],
        {"now": now or datetime.now(timezone.utc), "rows": json.dumps([row.__dict__ for row in users])},
    ).fetchone()
    return int(written[0]) if written else 0


def _with_user(rows: list[UserRow] | None, user: UserRow) -> list[UserRow]:
    by_id = {row.user_id: row for row in rows or []}
    by_id[user.user_id] = user
    return list(by_id.values())


def _outcome(pull: LandedPull, play_count: int, outcome: str, error: str | None) -> dict[str, Any]:
    return {
        "pull_id": pull.pull_id,
        "user_id": pull.user_id,
        "fetched_at": pull.fetched_at.isoformat(),
        "play_count": play_count,
        "outcome": outcome,
        "error": error,
    }
