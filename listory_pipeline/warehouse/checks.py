"""The guarantees `core.listens` makes, as counts of rows that break them (0 = holds)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from listory_pipeline.sqlfiles import sql_file
from listory_pipeline.warehouse.connection import Warehouse

_SQL = sql_file(__file__, "checks.sql")


@dataclass(frozen=True)
class CheckOutcome:
    name: str
    passed: bool
    offending_rows: int
    description: str


LISTEN_CHECKS = {
    "listens_unique_key": ("duplicate_listen_keys", "one row per (user_id, track_id, played_at)"),
    "listens_track_exists": ("listens_without_track", "every listen's track is in core.tracks"),
    "listens_not_in_future": ("listens_in_future", "no played_at after now (5 minutes of clock skew allowed)"),
}


def run_listen_checks(warehouse: Warehouse, user_id: str, now: datetime | None = None) -> list[CheckOutcome]:
    now = now or datetime.now(timezone.utc)
    outcomes = []
    for name, (statement, description) in LISTEN_CHECKS.items():
        (count,) = warehouse.read(_SQL[statement], {"user_id": user_id, "now": now})[0]
        outcomes.append(CheckOutcome(name, count == 0, int(count), description))
    return outcomes
