"""`build_reports`: one `dbt build` of every report table in the configured warehouse.

A full rebuild from whatever core.* holds (DuckDB rebuilds millions of plays in seconds, see
benchmarks/reports.py), so late plays, loaded after their played_at, are always in the next
build: nothing is decided by played_at.

dbt is told the warehouse and the as-of date through environment variables and keeps its
artifacts in `LISTORY_HOME/dbt-target` (see reports/project.py), so the second and later
builds reuse dbt's partial-parse state instead of re-parsing the project.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from listory_pipeline.reports.project import DBT_PROJECT_DIR, REPORT_TABLES, dbt_env, prepare_target_path
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


def dbt_executable() -> str:
    """The `dbt` beside this interpreter (the project's environment), else the one on PATH."""
    beside = Path(sys.executable).parent / "dbt"
    return str(beside) if beside.exists() else (shutil.which("dbt") or "dbt")


def build_reports(
    settings: Settings,
    as_of: date | None = None,
    *,
    select: str | None = None,
    tests: bool = True,
    quiet: bool = False,
) -> BuildResult:
    """Run `dbt build` (models, data tests, unit tests) for the reports; never raises on dbt failures.

    tests=False runs `dbt run` instead: the tables only, no data or unit tests.
    """
    started = time.monotonic()
    settings.warehouse_path.parent.mkdir(parents=True, exist_ok=True)
    ensure_core_schema(settings)
    target = prepare_target_path(settings)
    args = [dbt_executable(), "build" if tests else "run", "--project-dir", str(DBT_PROJECT_DIR),
            "--profiles-dir", str(DBT_PROJECT_DIR), "--target-path", str(target), "--log-path", str(target)]
    if quiet:
        args.append("--quiet")
    if select:
        args += ["--select", select]
    # dbt itself, not through DbtCliResource: that would first run `dbt --version` and import dbt
    # into this process to build an adapter handle (about 3 s per build), for nothing used here
    env = {**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false", **dbt_env(settings, as_of)}
    tail: deque[str] = deque(maxlen=20)
    with subprocess.Popen(
        args, cwd=DBT_PROJECT_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as process:
        assert process.stdout is not None
        for line in process.stdout:
            tail.append(line.rstrip())
            if not quiet:
                sys.stdout.write(line)
        returncode = process.wait()
    try:
        failures, node_counts = _run_results_summary(json.loads((target / "run_results.json").read_text()))
    except Exception as exc:  # no run_results: dbt failed before running anything (profile, parse)
        failures, node_counts = [f"dbt failed before running: {exc}; " + " | ".join(tail)], {}
    success = returncode == 0 and not failures
    if not success and not failures:
        failures = [f"dbt exited with {returncode}: " + " | ".join(tail)]
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
