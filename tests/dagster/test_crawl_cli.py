"""`listory crawl` when runs fail: one line per user, a non-zero exit, never a traceback."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from listory_pipeline.cli import main
from listory_pipeline.settings import load_settings

HOLD_WRITER = textwrap.dedent(
    """
    import sys, time, duckdb
    conn = duckdb.connect(sys.argv[1])  # another pipeline writer, stuck
    print("holding", flush=True)
    time.sleep(120)
    """
)


def test_failed_crawls_are_reported_per_user_and_the_rest_still_run(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LISTORY_HOME", str(tmp_path / "home"))
    for name in ("DAGSTER_HOME", "LISTORY_SIMULATOR_URL", "SPOTIFY_CLIENT_ID", "SPOTIFY_CLIENT_SECRET"):
        monkeypatch.delenv(name, raising=False)
    assert main(["demo", "--users", "2", "--no-reports", "--no-history"]) == 0
    capsys.readouterr()
    monkeypatch.setenv("LISTORY_WAREHOUSE_LOCK_WAIT_SECONDS", "1")
    writer = subprocess.Popen(
        [sys.executable, "-c", HOLD_WRITER, str(load_settings().warehouse_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert writer.stdout.readline().strip() == "holding"
        code = main(["crawl"])
    finally:
        writer.kill()
        writer.wait()
    out, err = capsys.readouterr()
    assert code == 1, out + err
    assert "Traceback" not in out + err
    failed = [line for line in out.splitlines() if ": FAILED: " in line]
    assert [line.split(":")[0] for line in failed] == ["sim-alice", "sim-bruno"], out + err  # both tried
    assert all("locked" in line for line in failed), out
    assert len([line for line in err.splitlines() if line.startswith("    failed: ")]) == 2
