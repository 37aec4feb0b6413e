"""`build_reports`: one `dbt build` of every report table in the configured warehouse.

A full rebuild from whatever core.* holds (DuckDB rebuilds millions of plays in seconds, see
benchmarks/reports.py), so late plays, loaded after their played_at, are always in the next
build: nothing is decided by played_at.

dbt runs in this process (reports/dbt_runner.py), told the warehouse and the as-of date
through environment variables, and keeps its state in `LISTORY_HOME/dbt-target` (see
reports/project.py): each new process reuses dbt's partial-parse state instead of re-parsing
the whole project, and a process that builds twice parses once.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from listory_pipeline.reports.project import REPORT_TABLES
from listory_pipeline.settings import Settings


@dataclass(frozen=True)
class BuildResult:
    success: bool
    as_of: date | None
    seconds: float
    warehouse_path: Path
    row_counts: dict[str, int] = field(default_factory=dict)
    # "status node: message" for every model, test or unit test that did not pass
    failures: list[str] = field(default_factory=list)
    node_counts: dict[str, int] = field(default_factory=dict)


def table_row_counts(warehouse_path: Path) -> dict[tuple[str, str], int]:
    """Rows of every table dbt builds, by (schema, table); read-only, after dbt released the file."""
    from listory_pipeline.warehouse.connection import reading_warehouse

    with reading_warehouse(warehouse_path, wait_seconds=60) as conn:
        tables = conn.execute(
            "select schema_name, table_name from duckdb_tables() "
            "where schema_name in ('marts', 'reports') order by all"
        ).fetchall()
        # identifiers come from the catalog itself, quoted; no value is interpolated
        return {
            (schema, table): conn.execute(f'select count(*) from "{schema}"."{table}"').fetchall()[0][0]
            for schema, table in tables
        }


def report_row_counts(warehouse_path: Path) -> dict[str, int]:
    """Rows per report table of the public contract."""
    counts = table_row_counts(warehouse_path)
    return {table: counts[("reports", table)] for table in REPORT_TABLES if ("reports", table) in counts}


def build_reports(
    settings: Settings,
    as_of: date | None = None,
    *,
    select: str | None = None,
    tests: bool = True,
    quiet: bool = False,
) -> BuildResult:
    """Run `dbt build` (models, data tests, unit tests) for the reports; never raises on dbt failures.

    tests=False runs `dbt run` instead: the tables only, no data or unit tests. dbt runs in
    this process (reports/dbt_runner.py); a broken project is reported as a failure too.
    """
    from listory_pipeline.publication.snapshot import publish
    from listory_pipeline.reports import dbt_runner

    started = time.monotonic()
    settings.warehouse_path.parent.mkdir(parents=True, exist_ok=True)
    ensure_core_schema(settings)
    command = ["build" if tests else "run", *(["--select", select] if select else [])]
    try:
        outcome = dbt_runner.invoke(settings, as_of, command, quiet=quiet, on_wait=None if quiet else _tell)
        success, failures, node_counts = outcome.success, outcome.failures, outcome.node_counts
    except dbt_runner.DbtParseError as exc:
        success, failures, node_counts = False, [str(exc)], {}
    if success:
        publish(settings.publication, wait_seconds=settings.warehouse_lock_wait_seconds)
    return BuildResult(
        success=success,
        as_of=as_of,
        seconds=time.monotonic() - started,
        warehouse_path=settings.warehouse_path,
        row_counts=report_row_counts(settings.warehouse_path),
        failures=failures,
        node_counts=node_counts,
    )


def _tell(waiting) -> None:
    print(waiting.message, file=sys.stderr, flush=True)


def ensure_core_schema(settings: Settings) -> None:
    """Apply the core migrations first, so a fresh home builds (empty) reports instead of failing."""
    from listory_pipeline.warehouse.connection import open_warehouse

    with open_warehouse(
        settings.warehouse_path, wait_seconds=settings.warehouse_lock_wait_seconds, publication=settings.publication
    ):
        pass
