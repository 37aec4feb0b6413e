"""A private PostgreSQL cluster on 127.0.0.1 for the production-instance tests.

Uses the Debian package's binaries (installed by .ci/run), runs as the
`postgres` system user when started as root, listens on a free port with its
socket in the temp folder, and is stopped at the end.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from tests.support.ports import free_port


@dataclass(frozen=True)
class PostgresServer:
    host: str
    port: int
    user: str
    database: str


def postgres_bin_dir() -> Path:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    for candidate in candidates:
        if (Path(candidate) / "pg_ctl").exists():
            return Path(candidate)
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).parent
    raise RuntimeError("PostgreSQL server binaries not found: `apt-get install -y postgresql` (.ci/run does this)")


def _as_postgres(command: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *command]
    return command


@contextmanager
def running_postgres(base_dir: Path) -> Iterator[PostgresServer]:
    bin_dir = postgres_bin_dir()
    data_dir = base_dir / "pgdata"
    base_dir.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        account = pwd.getpwnam("postgres")
        os.chown(base_dir, account.pw_uid, account.pw_gid)
        base_dir.chmod(0o755)
        # runuser needs to reach the folder through every parent.
        for parent in base_dir.parents:
            if str(parent).startswith(("/tmp", "/var/tmp")) and parent != Path("/tmp"):
                parent.chmod(parent.stat().st_mode | 0o005)
    port = free_port()
    subprocess.run(
        _as_postgres([str(bin_dir / "initdb"), "-D", str(data_dir), "-A", "trust", "-U", "postgres", "--no-sync"]),
        check=True,
        capture_output=True,
    )
    log = base_dir / "postgres.log"
    subprocess.run(
        _as_postgres(
            [
                str(bin_dir / "pg_ctl"),
                "-D", str(data_dir),
                "-l", str(log),
                "-o", f"-c listen_addresses=127.0.0.1 -p {port} -k {base_dir} -c fsync=off",
                "-w", "start",
            ]
        ),
        check=True,
        capture_output=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            probe = subprocess.run(
                [str(bin_dir / "pg_isready"), "-h", "127.0.0.1", "-p", str(port)], capture_output=True
            )
            if probe.returncode == 0:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"PostgreSQL did not start; see {log}")
            time.sleep(0.2)
        subprocess.run(
            [str(bin_dir.parent / "bin" / "psql"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres",
             "-c", "CREATE DATABASE dagster"],
            check=True,
            capture_output=True,
        )
        yield PostgresServer("127.0.0.1", port, "postgres", "dagster")
    finally:
        subprocess.run(
            _as_postgres([str(bin_dir / "pg_ctl"), "-D", str(data_dir), "-m", "fast", "-w", "stop"]),
            capture_output=True,
        )
