"""The README's first command: `listory demo` on a fresh LISTORY_HOME with the embedded simulator."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import duckdb
from dagster import DagsterInstance

from listory_pipeline.cli import main


def _never_materialized(instance) -> list[str]:
    from listory_pipeline.definitions import defs as crawl
    from listory_pipeline.reports_definitions import defs as reports  # the demo wrote the dbt manifest

    keys = {spec.key for defs in (crawl, reports) for spec in defs.resolve_all_asset_specs()}
    return sorted(key.to_user_string() for key in keys if not instance.fetch_materializations(key, limit=1).records)


def test_demo_crawls_imports_a_past_and_builds_reports_all_as_dagster_runs(tmp_path, monkeypatch, capsys):
    home = tmp_path / "home"
    monkeypatch.setenv("LISTORY_HOME", str(home))
    for name in ("LISTORY_SIMULATOR_URL", "SPOTIFY_CLIENT_ID", "SPOTIFY_CLIENT_SECRET"):
        monkeypatch.delenv(name, raising=False)
    assert main(["demo", "--users", "2"]) == 0
    out = capsys.readouterr().out
    assert "Registered 2 simulated users" in out
    assert "reports.top_artists" in out
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as conn:
        per_user = dict(conn.execute("select user_id, count(*) from core.listens group by all").fetchall())
        assert per_user["sim-bruno"] == 50
        first_alice = conn.execute("select min(played_at) from core.listens where user_id = 'sim-alice'").fetchone()[0]
        assert per_user["sim-alice"] > 1000 and first_alice < datetime.now(timezone.utc) - timedelta(days=300)
        assert conn.execute("select count(*) from core.tracks where catalog_status = 'pending'").fetchone()[0] == 0
        assert conn.execute("select count(*) from reports.listens_report").fetchone()[0] > 0
    # Everything ran on the embedded instance, so `listory ui` shows the whole lineage built.
    with DagsterInstance.from_config(str(home / "dagster")) as instance:
        runs = instance.get_runs()
        assert all(run.is_success for run in runs)
        crawls = [run for run in runs if run.job_name == "crawl_user_job"]
        assert sorted(run.tags["dagster/partition"] for run in crawls) == sorted(per_user)
        assert [run.tags["dagster/partition"] for run in runs if run.job_name == "import_history_job"] == ["sim-alice"]
        assert len([run for run in runs if run.job_name == "build_reports_job"]) == 1
        assert _never_materialized(instance) == []

    # Running it again stores nothing twice (the simulator runs on the wall clock, so a play
    # may have ended in between: compare keys, not totals).
    assert main(["demo", "--users", "2", "--no-reports", "--no-history"]) == 0
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as conn:
        total, distinct = conn.execute(
            "select count(*), count(distinct (user_id, track_id, played_at)) from core.listens"
        ).fetchone()
        assert total == distinct >= sum(per_user.values())
