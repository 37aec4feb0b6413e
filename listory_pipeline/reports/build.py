"""`build_reports`: one `dbt build` of every report table in the configured warehouse.

A full rebuild from whatever core.* holds (DuckDB rebuilds millions of plays in seconds, see
benchmarks/reports.py), so late plays, loaded after their played_at, are always in the next
build: nothing is decided by played_at.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from listory_pipeline.reports.project import DBT_PROJECT_DIR, REPORT_TABLES, dbt_vars_arg
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


def _run_results_summary(run_results: dict) -> tuple[list[str], dict[str, int]]:
    failures: list[str] = []
    counts: dict[str, int] = {}
    for result in run_results.get("results", []):
        status = str(result.get("status"))
        counts[status] = counts.get(status, 0) + 1
        if status not in ("success", "pass"):
            message = (result.get("message") or "").strip().splitlines()
            failures.append(f"{status} {result.get('unique_id')}: {message[0] if message else ''}")
    return failures, counts


def table_row_counts(warehouse_path: Path) -> dict[tuple[str, str], int]:
    """Rows of every table dbt builds, by (schema, table); read-only, after dbt released the file."""
    from listory_pipeline.warehouse.connection import connect_with_retry

    conn = connect_with_retry(warehouse_path, read_only=True, wait_seconds=60)
    try:
        tables = conn.execute(
            "select schema_name, table_name from duckdb_tables() "
            "where schema_name in ('marts', 'reports') order by all"
        ).fetchall()
        # identifiers come from the catalog itself, quoted; no value is interpolated
        return {
            (schema, table): conn.execute(f'select count(*) from "{schema}"."{table}"').fetchall()[0][0]
            for schema, table in tables
        }
    finally:
        conn.close()


def report_row_counts(warehouse_path: Path) -> dict[str, int]:
    """Rows per report table of the public contract."""
    counts = table_row_counts(warehouse_path)
    return {table: counts[("reports", table)] for table in REPORT_TABLES if ("reports", table) in counts}


def build_reports(settings: Settings, as_of: date | None = None, *, select: str | None = None) -> BuildResult:
    """Run `dbt build` (models, data tests, unit tests) for the reports; never raises on dbt failures."""
    from dagster_dbt import DbtCliResource

    started = time.monotonic()
    settings.warehouse_path.parent.mkdir(parents=True, exist_ok=True)
    ensure_core_schema(settings)
    dbt = DbtCliResource(project_dir=str(DBT_PROJECT_DIR), profiles_dir=str(DBT_PROJECT_DIR))
    args = ["build", *dbt_vars_arg(settings, as_of)]
    if select:
        args += ["--select", select]
    invocation = dbt.cli(args, raise_on_error=False)
    invocation.wait()
    try:
        failures, node_counts = _run_results_summary(invocation.get_artifact("run_results.json"))
    except Exception as exc:  # no run_results: dbt failed before running anything (profile, parse)
        failures, node_counts = [f"dbt failed before running: {exc}"], {}
    success = invocation.is_successful() and not failures
    if not success and not failures:
        failures = [f"dbt exited unsuccessfully: {invocation.get_error()}"]
    return BuildResult(
        success=success,
        as_of=as_of,
        seconds=time.monotonic() - started,
        warehouse_path=settings.warehouse_path,
        row_counts=report_row_counts(settings.warehouse_path),
        failures=failures,
        node_counts=node_counts,
    )


def ensure_core_schema(settings: Settings) -> None:
    """Apply the core migrations first, so a fresh home builds (empty) reports instead of failing."""
    from listory_pipeline.warehouse.connection import open_warehouse

    with open_warehouse(settings.warehouse_path, wait_seconds=settings.warehouse_lock_wait_seconds):
        pass
