"""One import's file set: every export file found, parsed, checked and turned into one table.

A file set succeeds or fails whole: the first bad file or entry raises `HistoryInputError`
before anything is landed, so nothing of a broken export is ever stored. The same content
given twice (the zip and its extracted folder) is read once. Exact duplicate rows, which
Spotify's exports contain, are dropped here; rows of the same track at the same moment that
differ otherwise are merged, keeping the longest play.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Sequence

import polars as pl

from listory_pipeline.history.archive import KIND_USERDATA, ArchiveLimits, ExportFile, collect_export_files
from listory_pipeline.history.classify import KEPT_OUTCOMES, OUTCOME_INCOGNITO, ImportRules, classify
from listory_pipeline.history.errors import HistoryInputError
from listory_pipeline.history.formats import (
    CONTENT_AUDIOBOOK,
    CONTENT_LOCAL,
    CONTENT_PODCAST,
    CONTENT_UNKNOWN,
    EntryColumns,
    ParsedFile,
    parse_file,
    read_userdata_username,
)

# (files done, files in all, the file being read)
FileProgress = Callable[[int, int, str], None]

ENTRY_SCHEMA = {
    "played_at_ms": pl.Int64,
    "precision": pl.String,
    "ms_played": pl.Int64,
    "content": pl.String,
    "track_id": pl.String,
    "track_name": pl.String,
    "artist_name": pl.String,
    "album_name": pl.String,
    "reason_start": pl.String,
    "reason_end": pl.String,
    "shuffle": pl.Boolean,
    "skipped": pl.Boolean,
    "offline": pl.Boolean,
    "offline_at_ms": pl.Int64,
    "incognito": pl.Boolean,
}
# What is landed and loaded: the entries minus everything the reports never need.
LANDED_COLUMNS = [
    "played_at",
    "precision",
    "track_id",
    "track_name",
    "artist_name",
    "album_name",
    "ms_played",
    "outcome",
    "reason_start",
    "reason_end",
    "shuffle",
    "skipped",
    "offline",
    "offline_at",
]


@dataclass(frozen=True)
class FileSummary:
    name: str
    format: str
    entries: int
    sha256: str


@dataclass
class ExportSet:
    """A parsed file set, ready to land: `entries` holds only music listens and skips."""

    user_id: str
    import_id: str
    rules: ImportRules
    files: list[FileSummary]
    entries: pl.DataFrame
    counts: dict[str, int]
    covered_from: datetime | None
    covered_to: datetime | None
    duplicate_files: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _frame(columns: EntryColumns) -> pl.DataFrame:
    data = {name: getattr(columns, name) for name in ENTRY_SCHEMA if name != "precision"}
    frame = pl.DataFrame(data, schema={k: v for k, v in ENTRY_SCHEMA.items() if k != "precision"})
    return frame.with_columns(precision=pl.lit(columns.precision))


def _check_usernames(user_id: str, parsed: list[ParsedFile], userdata: list[tuple[ExportFile, str]]) -> list[str]:
    """Names of another account in the export; older exports carry the username in every entry."""
    found = [(p.file.display_name, f"entry {index}", name) for p in parsed for name, index in p.usernames.items()]
    found += [(file.display_name, "username", name) for file, name in userdata]
    return [f"{where}, {what}: username is {name!r}" for where, what, name in found if name != user_id]


def _content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def import_identity(user_id: str, hashes: Sequence[str], rules: ImportRules) -> str:
    """The same files under the same rules for the same user are the same import, whatever their names."""
    digest = hashlib.sha256()
    for part in (user_id, str(rules.min_listen_ms), str(rules.include_incognito), *sorted(hashes)):
        digest.update(part.encode())
        digest.update(b"\0")
    return digest.hexdigest()[:20]


def identify_export(
    paths: Sequence[Path | str], *, user_id: str, rules: ImportRules, limits: ArchiveLimits = ArchiveLimits()
) -> str:
    """The import id of these files without parsing them: a re-import is known in a fraction of a second."""
    files = [f for f in collect_export_files(paths, limits) if f.kind != KIND_USERDATA]
    return import_identity(user_id, list({_content_hash(f.read_bytes()) for f in files}), rules)


def export_from_manifest(manifest: dict) -> ExportSet:
    """What a landed import was made of, from its manifest (its entries stay on disk)."""
    rules = manifest.get("rules") or {}
    return ExportSet(
        user_id=manifest["user_id"],
        import_id=manifest["import_id"],
        rules=ImportRules(
            min_listen_ms=int(rules.get("min_listen_ms", ImportRules().min_listen_ms)),
            include_incognito=bool(rules.get("include_incognito", False)),
        ),
        files=[FileSummary(**file) for file in manifest.get("files", [])],
        entries=pl.DataFrame(),
        counts=dict(manifest["counts"]),
        covered_from=_parse_time(manifest.get("covered_from")),
        covered_to=_parse_time(manifest.get("covered_to")),
        duplicate_files=list(manifest.get("duplicate_files", [])),
        warnings=list(manifest.get("warnings", [])),
    )


def _parse_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def read_export(
    paths: Sequence[Path | str],
    *,
    user_id: str,
    rules: ImportRules = ImportRules(),
    now: datetime | None = None,
    allow_other_username: bool = False,
    limits: ArchiveLimits = ArchiveLimits(),
    progress: FileProgress | None = None,
) -> ExportSet:
    """Find, parse and check every history file under `paths`; raises before storing anything."""
    now = now or datetime.now(timezone.utc)
    files = collect_export_files(paths, limits)
    history_files = [f for f in files if f.kind != KIND_USERDATA]
    if not history_files:
        raise HistoryInputError(
            f"no streaming history in {', '.join(str(p) for p in paths)}: only account files were found"
        )
    userdata = [(f, name) for f in files if f.kind == KIND_USERDATA if (name := read_userdata_username(f))]
    parsed: list[ParsedFile] = []
    frames: list[pl.DataFrame] = []
    summaries: list[FileSummary] = []
    seen: dict[str, str] = {}
    duplicate_files: list[str] = []
    for number, file in enumerate(history_files):
        if progress:
            progress(number, len(history_files), file.display_name)
        data = file.read_bytes()
        digest = _content_hash(data)
        if digest in seen:
            duplicate_files.append(f"{file.display_name} (same content as {seen[digest]})")
            continue
        seen[digest] = file.display_name
        one = parse_file(file, now=now, data=data)
        del data
        summaries.append(FileSummary(file.display_name, one.format, len(one.columns), digest))
        # Columns as Python objects weigh ten times their table: convert each file at once.
        frames.append(_frame(one.columns))
        one.columns = None
        parsed.append(one)
    if progress:
        progress(len(history_files), len(history_files), "")

    mismatches = _check_usernames(user_id, parsed, userdata)
    warnings = []
    if mismatches:
        message = f"this export is not {user_id!r}'s: " + "; ".join(mismatches[:3])
        if not allow_other_username:
            raise HistoryInputError(
                message + ". Import it for the right user, or pass --allow-other-username if this account was renamed"
            )
        warnings.append(message + " (imported anyway, as asked)")

    frame = pl.concat(frames, how="vertical") if frames else pl.DataFrame(schema=ENTRY_SCHEMA)
    del frames
    frame = classify(frame, rules)
    counts = _count(frame)
    covered = frame.select(pl.col("played_at_ms").min().alias("lo"), pl.col("played_at_ms").max().alias("hi")).row(0)
    kept = frame.filter(pl.col("outcome").is_in(KEPT_OUTCOMES))
    del frame
    rows_before = kept.height
    kept = _without_exact_duplicates(kept)
    counts["duplicate_rows"] = rows_before - kept.height
    rows_before = kept.height
    # The same track at the same moment twice is one play: keep the longest (a listen over a blip).
    kept = _one_row_per_moment(kept)
    counts["same_moment_rows_merged"] = rows_before - kept.height
    kept = kept.sort("played_at_ms")  # by time: readers of the Parquet file skip by row-group statistics
    counts["listens"] = kept.filter(pl.col("outcome") == "listen").height
    counts["skips"] = kept.filter(pl.col("outcome") == "skip").height
    entries = kept.with_columns(
        played_at=pl.from_epoch("played_at_ms", time_unit="ms").dt.replace_time_zone("UTC"),
        offline_at=pl.from_epoch("offline_at_ms", time_unit="ms").dt.replace_time_zone("UTC"),
    ).select(LANDED_COLUMNS)
    return ExportSet(
        user_id=user_id,
        import_id=import_identity(user_id, list(seen), rules),
        rules=rules,
        files=summaries,
        entries=entries,
        counts=counts,
        covered_from=_from_ms(covered[0]),
        covered_to=_from_ms(covered[1]),
        duplicate_files=duplicate_files,
        warnings=warnings,
    )


def _without_exact_duplicates(frame: pl.DataFrame) -> pl.DataFrame:
    """Rows that are not an exact copy of another; only rows sharing a row hash are compared
    whole (a full-row `unique` of a ten-year export costs hundreds of MB)."""
    shared = frame.hash_rows(seed=7).is_duplicated()
    if not shared.any():
        return frame
    return pl.concat([frame.filter(~shared), frame.filter(shared).unique(maintain_order=True)], how="vertical")


MOMENT_KEY = ["played_at_ms", "track_id", "track_name", "artist_name"]


def _one_row_per_moment(frame: pl.DataFrame) -> pl.DataFrame:
    """One row per track and moment, the longest play; only rows sharing a key hash are sorted."""
    shared = frame.select(MOMENT_KEY).hash_rows(seed=11).is_duplicated()
    if not shared.any():
        return frame
    merged = (
        frame.filter(shared)
        .sort("ms_played", descending=True, maintain_order=True)
        .unique(subset=MOMENT_KEY, keep="first", maintain_order=True)
    )
    return pl.concat([frame.filter(~shared), merged], how="vertical")


def _count(frame: pl.DataFrame) -> dict[str, int]:
    by_outcome = dict(frame.group_by("outcome").len().iter_rows())
    return {
        "entries": frame.height,
        "incognito_dropped": by_outcome.get(OUTCOME_INCOGNITO, 0),
        "podcast_episodes": by_outcome.get(CONTENT_PODCAST, 0),
        "audiobook_chapters": by_outcome.get(CONTENT_AUDIOBOOK, 0),
        "local_files": by_outcome.get(CONTENT_LOCAL, 0),
        "unidentified": by_outcome.get(CONTENT_UNKNOWN, 0),
    }


def _from_ms(value: int | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value / 1000, timezone.utc)
