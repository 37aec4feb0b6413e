"""Landed history imports: the parsed entries of one export file set, written once, never changed.

An import is landed before the warehouse is touched, like a pull: whatever happens to the
load, the parsed export is on disk and the next load picks it up. It is stored raw but
compact and without the personal data the reports never need: one Parquet file (zstd; any
DuckDB, Polars, pandas or Spark opens it) of the music entries, listens and skips, plus a
`manifest.json` saying which files it came from, under which rules, and what was dropped.

Layout: `<root>/extended_history/<user>/<import_id>/{entries.parquet,manifest.json}`. The
import id derives from the files' content and the rules, so importing the same export again
finds the import already landed and stores nothing new. A folder is written under a temporary
name and renamed, so a reader sees a whole import or none.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

from listory_pipeline.landing.durable import fsync_folder
from listory_pipeline.landing.store import LandingError, user_folder_name

HISTORY_FORMAT = 1
HISTORY_KIND = "extended_history"
ENTRIES_FILE = "entries.parquet"
MANIFEST_FILE = "manifest.json"


@dataclass(frozen=True)
class LandedImport:
    import_id: str
    user_id: str
    folder: Path

    @property
    def entries_path(self) -> Path:
        return self.folder / ENTRIES_FILE

    def manifest(self) -> dict[str, Any]:
        """The manifest, checked for the fields the loader relies on."""
        path = self.folder / MANIFEST_FILE
        try:
            document = json.loads(path.read_bytes())
        except (OSError, ValueError) as exc:
            raise LandingError(f"landed import {self.folder} has no readable manifest: {exc}") from exc
        if not isinstance(document, dict) or document.get("format") != HISTORY_FORMAT:
            raise LandingError(f"landed import {self.folder} has a manifest of unknown format")
        for key in ("user_id", "import_id", "landed_at", "rows", "counts"):
            if key not in document:
                raise LandingError(f"landed import {self.folder}: the manifest lacks {key!r}")
        if document["user_id"] != self.user_id:
            raise LandingError(
                f"landed import {self.folder} belongs to {document['user_id']!r}, not {self.user_id!r}"
            )
        if not self.entries_path.is_file():
            raise LandingError(f"landed import {self.folder} has no {ENTRIES_FILE}")
        return document


class HistoryLanding:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def _user_dir(self, user_id: str) -> Path:
        return self.root / HISTORY_KIND / user_folder_name(user_id)

    def find(self, user_id: str, import_id: str) -> LandedImport | None:
        folder = self._user_dir(user_id) / import_id
        return LandedImport(import_id, user_id, folder) if folder.is_dir() else None

    def imports(self, user_id: str) -> Iterator[LandedImport]:
        """Every landed import of the user, oldest folder name first; temporary folders skipped."""
        user_dir = self._user_dir(user_id)
        if not user_dir.is_dir():
            return
        for folder in sorted(p for p in user_dir.iterdir() if p.is_dir() and not p.name.startswith(".")):
            yield LandedImport(folder.name, user_id, folder)

    def land(self, export, *, landed_at: datetime | None = None) -> tuple[LandedImport, bool]:
        """Write a parsed `ExportSet` atomically; (where it is, whether it was new)."""
        existing = self.find(export.user_id, export.import_id)
        if existing is not None:
            return existing, False
        landed_at = (landed_at or datetime.now(timezone.utc)).astimezone(timezone.utc)
        user_dir = self._user_dir(export.user_id)
        user_dir.mkdir(parents=True, exist_ok=True)
        temp = user_dir / f".{export.import_id}.{secrets.token_hex(4)}.tmp"
        temp.mkdir()
        try:
            export.entries.write_parquet(temp / ENTRIES_FILE, compression="zstd", statistics=True)
            manifest = _manifest(export, landed_at)
            _write_durably(temp / MANIFEST_FILE, json.dumps(manifest, indent=2, ensure_ascii=False).encode())
            _fsync(temp / ENTRIES_FILE)
            fsync_folder(temp)
            os.rename(temp, user_dir / export.import_id)
        except BaseException:
            shutil.rmtree(temp, ignore_errors=True)
            raise
        fsync_folder(user_dir)
        return LandedImport(export.import_id, export.user_id, user_dir / export.import_id), True

    def remove_user(self, user_id: str) -> int:
        """Delete every landed import of one user (only on a person's explicit request)."""
        user_dir = self._user_dir(user_id)
        if not user_dir.is_dir():
            return 0
        count = sum(1 for p in user_dir.iterdir() if p.is_dir() and not p.name.startswith("."))
        shutil.rmtree(user_dir)
        return count


def _manifest(export, landed_at: datetime) -> dict[str, Any]:
    return {
        "format": HISTORY_FORMAT,
        "kind": HISTORY_KIND,
        "user_id": export.user_id,
        "import_id": export.import_id,
        "landed_at": landed_at.isoformat(),
        "rules": {
            "min_listen_ms": export.rules.min_listen_ms,
            "include_incognito": export.rules.include_incognito,
        },
        "files": [file.__dict__ for file in export.files],
        "duplicate_files": export.duplicate_files,
        "counts": export.counts,
        "rows": export.entries.height,
        "covered_from": export.covered_from.isoformat() if export.covered_from else None,
        "covered_to": export.covered_to.isoformat() if export.covered_to else None,
        "warnings": export.warnings,
        "not_stored": "IP addresses, user agents, platform, country, username, episode and audiobook entries",
    }


def _write_durably(path: Path, data: bytes) -> None:
    with open(path, "xb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def _fsync(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())
