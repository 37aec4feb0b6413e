"""Listens as Parquet, CSV or JSON (one object a line), with track, album and artist names and ids.

DuckDB writes them (COPY), a month of plays at a time into a scratch folder beside the target,
so a long export can show progress; the months are then joined into the target, which
appears whole (renamed into place) or not at all.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from datetime import timedelta, timezone
from pathlib import Path
from typing import Callable

import duckdb

from listory_pipeline.export.range import ExportRange
from listory_pipeline.sqlfiles import sql_file
from listory_pipeline.warehouse.connection import reading_warehouse

_SQL = sql_file(__file__, "export.sql")
FORMATS = ("parquet", "csv", "json")
# CSV has no lists: credited artists are joined.
_CSV_SELECT = (
    "SELECT * REPLACE (array_to_string(artist_ids, '; ') AS artist_ids, "
    "array_to_string(artist_names, '; ') AS artist_names) FROM ({listens})"
)
_COPY_OPTIONS = {
    "parquet": "(FORMAT parquet, COMPRESSION zstd)",
    "csv": "(FORMAT csv, HEADER {header})",
    "json": "(FORMAT json)",
}

# (listens written, listens in the export)
ExportProgress = Callable[[int, int], None]


@dataclass(frozen=True)
class ExportResult:
    path: Path
    listens: int
    seconds: float


def _months(conn: duckdb.DuckDBPyConnection, user_id: str, span: ExportRange) -> list[tuple[ExportRange, int]]:
    chunks = []
    for month, count in conn.execute(_SQL["months"], span.params(user_id)).fetchall():
        month = month.replace(tzinfo=timezone.utc) if month.tzinfo is None else month
        following = (month + timedelta(days=32)).replace(day=1)
        chunks.append((ExportRange(max(month, span.start), min(following, span.end)), count))
    return chunks


def export_listens(
    warehouse_path: Path,
    user_id: str,
    target: Path,
    *,
    fmt: str,
    first=None,
    last=None,
    progress: ExportProgress | None = None,
    wait_seconds: float = 30.0,
) -> ExportResult:
    """Write the user's listens with local dates in [first, last] (None: unbounded) to `target`."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; expected one of {', '.join(FORMATS)}")
    started = time.monotonic()
    target = Path(target)
    scratch = target.parent / f".{target.name}.parts"
    temp = target.parent / f".{target.name}.partial"
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    try:
        with reading_warehouse(warehouse_path, wait_seconds=wait_seconds) as conn:
            timezone_name = conn.execute(_SQL["user_timezone"], {"user_id": user_id}).fetchone()[0]
            span = ExportRange.of_local_dates(first, last, timezone_name)
            chunks = _months(conn, user_id, span)
            total = sum(count for _, count in chunks)
            listens = _SQL["listens"] if fmt != "csv" else _CSV_SELECT.format(listens=_SQL["listens"])
            parts, done = [], 0
            if progress:
                progress(0, total)
            for number, (chunk, count) in enumerate(chunks or [(span, 0)]):
                part = scratch / f"{number:05d}.{fmt}"
                options = _COPY_OPTIONS[fmt].format(header="true" if number == 0 else "false")
                # values are bound parameters; the options are fixed text above
                conn.execute(f"COPY ({listens}) TO $path {options}", {**chunk.params(user_id), "path": str(part)})
                parts.append(part)
                done += count
                if progress:
                    progress(done, total)
            if fmt == "parquet":
                conn.execute(
                    f"COPY (SELECT * FROM read_parquet($parts)) TO $path {_COPY_OPTIONS['parquet']}",
                    {"parts": [str(p) for p in parts], "path": str(temp)},
                )
        if fmt != "parquet":
            with open(temp, "wb") as joined:
                for part in parts:
                    with open(part, "rb") as piece:
                        shutil.copyfileobj(piece, joined)
        temp.replace(target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return ExportResult(target, total, time.monotonic() - started)
