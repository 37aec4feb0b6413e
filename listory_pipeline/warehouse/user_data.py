"""One user's rows in the warehouse, outside a crawl: mirror registry changes, delete on request.

`core.users` mirrors the registry's non-secret columns. A crawl refreshes the mirror on
every load, but a disabled or removed user is no longer crawled, so the CLI writes the
change itself when it can get the DuckDB lock within a short wait.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from listory_pipeline.sqlfiles import sql_file
from listory_pipeline.publication.snapshot import Publication
from listory_pipeline.warehouse.connection import open_warehouse
from listory_pipeline.warehouse.loader import UserRow

_REMOVE_SQL = sql_file(__file__, "remove_user.sql")
_LOAD_SQL = sql_file(__file__, "load.sql")

# (table, statement) in the order they run; listens first, the bookkeeping last.
_REMOVE_STATEMENTS = (
    ("core.listens", "delete_listens"),
    ("core.skipped_plays", "delete_skipped_plays"),
    ("core.users", "delete_user"),
    ("meta.loaded_pulls", "delete_loaded_pulls"),
    ("meta.landing_watermarks", "delete_landing_watermark"),
    ("meta.history_imports", "delete_history_imports"),
    ("meta.listen_gaps", "delete_listen_gaps"),
)


@dataclass(frozen=True)
class RemovedRows:
    by_table: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.by_table.values())


def remove_user_rows(
    warehouse_path: Path, user_id: str, *, wait_seconds: float, publication: Publication | None = None
) -> RemovedRows:
    """Delete the user's listens, mirror row and load bookkeeping in one transaction.

    Shared catalog rows stay. A warehouse that does not exist yet holds nothing to delete.
    """
    if not Path(warehouse_path).exists():
        return RemovedRows({table: 0 for table, _ in _REMOVE_STATEMENTS})
    removed: dict[str, int] = {}
    with open_warehouse(warehouse_path, wait_seconds=wait_seconds, publication=publication) as warehouse:
        with warehouse.transaction():
            for table, name in _REMOVE_STATEMENTS:
                row = warehouse.write(table, _REMOVE_SQL[name], {"user_id": user_id}).fetchone()
                removed[table] = int(row[0]) if row else 0
    return RemovedRows(removed)


def mirror_user(
    warehouse_path: Path, user: UserRow, *, wait_seconds: float, publication: Publication | None = None
) -> bool:
    """Write the user's registry row to `core.users`; False when there is no warehouse yet."""
    if not Path(warehouse_path).exists():
        return False
    with open_warehouse(warehouse_path, wait_seconds=wait_seconds, publication=publication) as warehouse:
        warehouse.write(
            "core.users",
            _LOAD_SQL["upsert_users"],
            {"now": datetime.now(timezone.utc), "rows": json.dumps([user.__dict__])},
        )
    return True
