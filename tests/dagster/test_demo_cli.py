"""The README's first command: `listory demo` on a fresh LISTORY_HOME with the embedded simulator."""

from __future__ import annotations

import duckdb
from dagster import DagsterInstance

from listory_pipeline.cli import main


def test_demo_crawls_through_dagster_and_builds_reports(tmp_path, monkeypatch, capsys):
    home = tmp_path / "home"
    monkeypatch.setenv("LISTORY_HOME", str(home))
    for name in ("DAGSTER_HOME", "LISTORY_SIMULATOR_URL", "SPOTIFY_CLIENT_ID", "SPOTIFY_CLIENT_SECRET"):
        monkeypatch.delenv(name, raising=False)
    assert main(["demo", "--users", "2"]) == 0
    out = capsys.readouterr().out
    assert "Registered 2 simulated users" in out
    assert "reports.top_artists" in out
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as conn:
        per_user = dict(conn.execute("select user_id, count(*) from core.listens group by all").fetchall())
        assert len(per_user) == 2 and set(per_user.values()) == {50}
        assert conn.execute("select count(*) from reports.listens_report").fetchone()[0] > 0
    # The runs are on the embedded instance, so `listory ui` shows them.
    with DagsterInstance.from_config(str(home / "dagster")) as instance:
        runs = instance.get_runs()
        assert sorted(run.tags["dagster/partition"] for run in runs) == sorted(per_user)
        assert all(run.is_success for run in runs)

    # Running it again stores nothing twice (the simulator runs on the wall clock, so a play
    # may have ended in between: compare keys, not totals).
    assert main(["demo", "--users", "2", "--no-reports"]) == 0
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as conn:
        total, distinct = conn.execute(
            "select count(*), count(distinct (user_id, track_id, played_at)) from core.listens"
        ).fetchone()
        assert total == distinct >= sum(per_user.values())
