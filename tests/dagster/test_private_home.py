"""LISTORY_HOME is its user's alone, whatever the umask the command was started with."""

from __future__ import annotations

import os
import stat
import subprocess
import sys


def test_the_demo_under_umask_000_leaves_nothing_readable_or_writable_by_others(tmp_path):
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if k not in ("DAGSTER_HOME", "LISTORY_SIMULATOR_URL", "SPOTIFY_CLIENT_ID", "SPOTIFY_CLIENT_SECRET")}
    env["LISTORY_HOME"] = str(home)
    done = subprocess.run(
        [sys.executable, "-m", "listory_pipeline.cli", "demo", "--users", "1", "--no-reports"],
        env=env,
        preexec_fn=lambda: os.umask(0),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    open_to_others = []
    for root, dirs, files in os.walk(home):
        for name in dirs + files:
            path = os.path.join(root, name)
            if stat.S_IMODE(os.lstat(path).st_mode) & 0o077:
                open_to_others.append(f"{oct(stat.S_IMODE(os.lstat(path).st_mode))} {os.path.relpath(path, home)}")
    assert open_to_others == []
    assert (home / "warehouse.duckdb").exists() and (home / "token-cache.sqlite").exists()
