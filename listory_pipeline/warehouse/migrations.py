"""Versioned DDL: `sql/migrations/NNNN_name.sql`, applied once each, in order, in one transaction."""

from __future__ import annotations

from pathlib import Path

import duckdb

from listory_pipeline.sqlfiles import sql_file

_SQL = sql_file(__file__, "meta.sql")
MIGRATIONS_DIR = Path(__file__).resolve().parent / "sql" / "migrations"


def migration_files() -> list[tuple[int, Path]]:
    found = []
    for path in sorted(MIGRATIONS_DIR.glob("*.sql")):
        number = int(path.name.split("_", 1)[0])
        found.append((number, path))
    numbers = [number for number, _ in found]
    if numbers != list(range(1, len(numbers) + 1)):
        raise RuntimeError(f"migration numbers must run 1, 2, 3, ... without gaps; found {numbers}")
    return found


def current_version(conn: duckdb.DuckDBPyConnection) -> int:
    conn.execute("CREATE SCHEMA IF NOT EXISTS meta")
    conn.execute(_SQL["create_migrations_table"])
    row = conn.execute(_SQL["current_version"]).fetchone()
    return int(row[0])


def apply_migrations(conn: duckdb.DuckDBPyConnection) -> int:
    """Bring the file to the newest schema; returns the version it is at."""
    version = current_version(conn)
    pending = [(number, path) for number, path in migration_files() if number > version]
    if not pending:
        return version
    conn.execute("BEGIN TRANSACTION")
    try:
        for number, path in pending:
            conn.execute(path.read_text(encoding="utf-8"))
            conn.execute(_SQL["record_migration"], {"version": number})
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return pending[-1][0]
