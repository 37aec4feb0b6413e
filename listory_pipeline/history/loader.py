"""Loading landed history imports into `core.*`: one transaction per import, set-based.

DuckDB reads the landed Parquet file itself; every step is one statement over the whole
import (`sql/history_load.sql`), so a ten-year export costs the same number of statements
as a one-day one. The same play crawled live and present in the export is stored once (the
matching rule and its tolerance are documented in the SQL file); the export's `ms_played`
fills in what the crawl did not know. Tracks the warehouse does not know are stored by name at
once, so reports include the past before any Spotify request; `resolve` completes them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import duckdb

from listory_pipeline.landing.history import HistoryLanding, LandedImport
from listory_pipeline.landing.store import LandingError
from listory_pipeline.sqlfiles import sql_file
from listory_pipeline.warehouse.connection import Warehouse

_SQL = sql_file(__file__, "history_load.sql")


@dataclass
class ImportLoad:
    """What loading one landed import did."""

    import_id: str
    outcome: str  # "loaded" | "rejected"
    error: str | None = None
    entries_landed: int = 0
    listens_new: int = 0
    listens_matched: int = 0
    listens_replaced: int = 0
    skips_new: int = 0
    tracks_new: int = 0
    gaps_filled: int = 0
    counts: dict[str, int] = field(default_factory=dict)


@dataclass
class HistoryLoadResult:
    user_id: str
    imports: list[ImportLoad] = field(default_factory=list)
    write_statements: dict[str, int] = field(default_factory=dict)

    @property
    def listens_new(self) -> int:
        return sum(one.listens_new for one in self.imports)

    @property
    def rejected(self) -> list[ImportLoad]:
        return [one for one in self.imports if one.outcome == "rejected"]


def pending_imports(warehouse: Warehouse, landing: HistoryLanding, user_id: str) -> list[LandedImport]:
    """Landed imports of the user the warehouse has not recorded yet."""
    landed = list(landing.imports(user_id))
    if not landed:
        return []
    recorded = {row[0] for row in warehouse.read(_SQL["select_recorded_imports"], {"user_id": user_id})}
    return [one for one in landed if one.import_id not in recorded]


def _count(cursor) -> int:
    row = cursor.fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def load_import(warehouse: Warehouse, landed: LandedImport, *, now: datetime | None = None) -> ImportLoad:
    """Merge one landed import in a single transaction; a landed import that cannot be read is
    recorded as rejected (kept on disk) instead of failing every later load."""
    now = now or datetime.now(timezone.utc)
    try:
        manifest = landed.manifest()
    except LandingError as exc:
        return _record_rejected(warehouse, landed, str(exc), now)
    params: dict[str, Any] = {
        "user_id": landed.user_id,
        "import_id": landed.import_id,
        "entries_path": str(landed.entries_path),
        "now": now,
        "landed_at": datetime.fromisoformat(manifest["landed_at"]),
        "covered_from": _time(manifest.get("covered_from")),
        "covered_to": _time(manifest.get("covered_to")),
    }
    result = ImportLoad(landed.import_id, "loaded", entries_landed=int(manifest["rows"]), counts=manifest["counts"])
    problem = _entries_problem(warehouse, landed, result.entries_landed)
    if problem:
        return _record_rejected(warehouse, landed, problem, now)
    with warehouse.transaction():
        warehouse.write("temp.history_staged", _SQL["stage_entries"], params)
        if result.entries_landed:
            warehouse.write("temp.history_staged", _SQL["resolve_names_from_catalog"], params)
            warehouse.write("temp.history_matches", _SQL["match_stored_listens"], params)
            matched, superseded = warehouse.read(_SQL["count_matches"])[0]
            result.listens_matched = int(matched)
            result.listens_replaced = int(superseded)
            warehouse.write("core.listens", _SQL["fill_matched_listens"], params)
            if superseded:
                warehouse.write("core.listens", _SQL["delete_superseded_listens"], params)
            inserted = _count(warehouse.write("core.listens", _SQL["insert_listens"], params))
            result.listens_new = inserted - result.listens_replaced
            result.skips_new = _count(warehouse.write("core.skipped_plays", _SQL["insert_skips"], params))
            # Catalog stand-ins: albums and artists first, so every reference has its row.
            warehouse.write("core.albums", _SQL["insert_placeholder_albums"], params)
            warehouse.write("core.artists", _SQL["insert_placeholder_artists"], params)
            warehouse.write("core.provisional_credits", _SQL["insert_provisional_credits"], params)
            result.tracks_new = _count(warehouse.write("core.tracks", _SQL["insert_pending_tracks"], params))
        if params["covered_from"] is not None and params["covered_to"] is not None:
            result.gaps_filled = _count(warehouse.write("meta.listen_gaps", _SQL["fill_gaps"], params))
        _record(warehouse, result, params)
        for statement in _SQL["drop_staging"].split(";"):
            warehouse.conn.execute(statement)
    return result


def _entries_problem(warehouse: Warehouse, landed: LandedImport, expected_rows: int) -> str | None:
    """Why the landed entries cannot be loaded (damaged or cut short), read from Parquet metadata only."""
    try:
        rows = warehouse.read(_SQL["count_landed_entries"], {"entries_path": str(landed.entries_path)})[0][0]
    except duckdb.Error as exc:
        return f"landed import {landed.folder} has unreadable entries: {exc}"
    if rows != expected_rows:
        return f"landed import {landed.folder} holds {rows} entries, its manifest says {expected_rows}"
    return None


def load_pending_imports(
    warehouse: Warehouse, landing: HistoryLanding, user_id: str, *, now: datetime | None = None
) -> HistoryLoadResult:
    """Every landed import of the user not loaded yet, each in its own transaction."""
    result = HistoryLoadResult(user_id)
    before = warehouse.writes.snapshot()
    for landed in pending_imports(warehouse, landing, user_id):
        result.imports.append(load_import(warehouse, landed, now=now))
    result.write_statements = warehouse.writes.since(before)
    return result


def _record(warehouse: Warehouse, result: ImportLoad, params: dict[str, Any]) -> None:
    warehouse.write(
        "meta.history_imports",
        _SQL["record_import"],
        {
            **params,
            "outcome": result.outcome,
            "error": result.error,
            "entries_landed": result.entries_landed,
            "listens_new": result.listens_new,
            "listens_matched": result.listens_matched,
            "listens_replaced": result.listens_replaced,
            "skips_new": result.skips_new,
            "tracks_new": result.tracks_new,
            "counts": json.dumps(result.counts),
        },
    )


def _record_rejected(warehouse: Warehouse, landed: LandedImport, error: str, now: datetime) -> ImportLoad:
    result = ImportLoad(landed.import_id, "rejected", error=error)
    with warehouse.transaction():
        _record(
            warehouse,
            result,
            {
                "user_id": landed.user_id,
                "import_id": landed.import_id,
                "now": now,
                "landed_at": now,
                "covered_from": None,
                "covered_to": None,
            },
        )
    return result


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None
