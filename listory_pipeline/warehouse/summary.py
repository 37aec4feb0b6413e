"""Read-only views of what the warehouse holds, for the command line."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from listory_pipeline.sqlfiles import sql_file
from listory_pipeline.warehouse.connection import reading_warehouse

_SQL = sql_file(__file__, "summary.sql")


@dataclass
class WarehouseSummary:
    per_user: list[tuple]
    catalog: dict[str, int]
    newest: list[tuple]


def summarize(path: Path, *, newest: int = 5, wait_seconds: float = 30.0) -> WarehouseSummary:
    with reading_warehouse(path, wait_seconds=wait_seconds) as conn:
        per_user = conn.execute(_SQL["per_user"]).fetchall()
        cursor = conn.execute(_SQL["catalog_counts"])
        names = [d[0] for d in cursor.description]
        catalog = dict(zip(names, cursor.fetchone()))
        latest = conn.execute(_SQL["newest_listens"], {"limit": newest}).fetchall()
    return WarehouseSummary(per_user, catalog, latest)


def top_artists(path: Path, user_id: str, preset: str, *, limit: int = 10, wait_seconds: float = 30.0) -> list[tuple]:
    with reading_warehouse(path, wait_seconds=wait_seconds) as conn:
        return conn.execute(_SQL["top_artists"], {"user_id": user_id, "preset": preset, "limit": limit}).fetchall()


@dataclass(frozen=True)
class HistoryState:
    open_gaps: int
    filled_gaps: int
    imports: int


def history_per_user(path: Path, *, wait_seconds: float = 2.0) -> dict[str, HistoryState] | None:
    """Gaps and imports by user; None when the warehouse is missing, unmigrated or busy for longer than the wait."""
    import duckdb

    from listory_pipeline.warehouse.connection import WarehouseLockedError

    if not Path(path).exists():
        return None
    try:
        with reading_warehouse(path, wait_seconds=wait_seconds) as conn:
            rows = conn.execute(_SQL["history_per_user"]).fetchall()
    except (WarehouseLockedError, duckdb.CatalogException):
        return None
    return {user_id: HistoryState(int(o), int(f), int(i)) for user_id, o, f, i in rows}
