"""Production's Dagster storage for the benchmarks: a private PostgreSQL cluster (the tests' own,
tests/dagster/postgres_server.py) and a DAGSTER_HOME set up on it as the README tells an operator."""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]


def start_postgres(stack: contextlib.ExitStack, base_dir: Path):
    """A private cluster under `base_dir`, stopped when `stack` closes."""
    sys.path.insert(0, str(REPOSITORY))
    from tests.dagster.postgres_server import running_postgres

    return stack.enter_context(running_postgres(base_dir))


def postgres_dagster_home(dagster_home: Path, server) -> None:
    """The shipped deploy/dagster-postgres.yaml in `dagster_home`, its DAGSTER_PG_* variables pointing
    at `server` in this process's environment (and so in the processes it starts)."""
    dagster_home.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPOSITORY / "deploy" / "dagster-postgres.yaml", dagster_home / "dagster.yaml")
    for name, value in (("USERNAME", server.user), ("PASSWORD", ""), ("HOST", server.host),
                        ("PORT", str(server.port)), ("DB", server.database)):
        os.environ[f"DAGSTER_PG_{name}"] = value


def scalar(server, statement: str) -> int:
    """One number from Dagster's database, on a connection of its own."""
    import psycopg2

    connection = psycopg2.connect(host=server.host, port=server.port, user=server.user, dbname=server.database)
    try:
        with connection.cursor() as cursor:
            cursor.execute(statement)
            return int(cursor.fetchone()[0])
    finally:
        connection.close()
