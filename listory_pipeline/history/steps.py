"""The steps of a history import as plain functions: land, load (resolution is `resolve`).

The CLI, the Dagster assets and the benchmark call these, as the crawl's callers call
`listory_pipeline.crawl`. Landing needs no warehouse; loading holds the DuckDB lock only for
its transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Sequence

from listory_pipeline.history.classify import ImportRules
from listory_pipeline.history.loader import HistoryLoadResult, load_pending_imports
from listory_pipeline.history.reader import ExportSet, FileProgress, export_from_manifest, identify_export, read_export
from listory_pipeline.landing.history import HistoryLanding, LandedImport
from listory_pipeline.publication.snapshot import Publication
from listory_pipeline.warehouse.connection import open_warehouse
from listory_pipeline.warehouse.loader import UserRow, mirror_users_rows


@dataclass
class LandedExport:
    export: ExportSet
    landed: LandedImport
    new: bool  # False: these files were landed before (a re-import); nothing was written


def land_export(
    landing: HistoryLanding,
    paths: Sequence[Path | str],
    *,
    user_id: str,
    rules: ImportRules = ImportRules(),
    allow_other_username: bool = False,
    now: datetime | None = None,
    progress: FileProgress | None = None,
) -> LandedExport:
    """Parse and check the whole file set, then land it; a bad file raises before anything is written.

    Files landed before (the same content under the same rules) are recognised by their hashes
    before any parsing: a re-import costs one read of the files and stores nothing.
    """
    import_id = identify_export(paths, user_id=user_id, rules=rules)
    existing = landing.find(user_id, import_id)
    if existing is not None:
        return LandedExport(export_from_manifest(existing.manifest()), existing, False)
    export = read_export(
        paths, user_id=user_id, rules=rules, now=now, allow_other_username=allow_other_username, progress=progress
    )
    landed, new = landing.land(export)
    return LandedExport(export, landed, new)


def load_history(
    warehouse_path: Path,
    landing: HistoryLanding,
    user_id: str,
    *,
    lock_wait_seconds: float,
    user: UserRow | None = None,
    publication: Publication | None = None,
) -> HistoryLoadResult:
    """Load every landed, not yet loaded import of the user, each in one transaction.

    `user`: the registry's row, mirrored into `core.users` first, so a user known only from an
    import gets reports in their own time zone (a crawl's load mirrors it the same way).
    """
    with open_warehouse(warehouse_path, wait_seconds=lock_wait_seconds, publication=publication) as warehouse:
        if user is not None:
            mirror_users_rows(warehouse, [user])
        return load_pending_imports(warehouse, landing, user_id)
