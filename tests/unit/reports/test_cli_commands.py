"""`listory reports build` and `listory report …` through argparse, on the hand-built warehouse."""

from __future__ import annotations

import argparse
import json

import pytest

from listory_pipeline.reports.cli_commands import add_report_commands


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="listory")
    add_report_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


@pytest.fixture
def home(hand_built_warehouse, monkeypatch):
    settings, _ = hand_built_warehouse
    monkeypatch.setenv("LISTORY_HOME", str(settings.home))
    return settings.home


def test_report_listens_as_json_with_a_png_chart(home, capsys, tmp_path):
    chart = tmp_path / "listens.png"
    code = run(["report", "listens", "--user", "tokyo", "--from", "2026-12-01", "--to", "2027-01-04",
                "--timeframe", "week", "--format", "json", "--chart", str(chart)])
    assert code == 0
    rows = json.loads(capsys.readouterr().out)
    # from the first listen's week (not from --from): 2026-12-21, 12-28, 2027-01-04
    assert [(r["period_start"], r["listen_count"]) for r in rows] == [("2026-12-21", 2), ("2026-12-28", 5), ("2027-01-04", 1)]
    assert chart.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_report_top_artists_as_csv_and_html(home, capsys, tmp_path):
    page = tmp_path / "artists.html"
    assert run(["report", "top-artists", "--user", "tokyo", "--from", "2026-12-29", "--to", "2027-01-04",
                "--format", "csv", "--chart", str(page)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("user_id,time_preset,rank,artist_id,artist_name,listen_count,minutes_listened,rank_change")
    assert lines[1].startswith("tokyo,custom,1,a1,Alpha,2,3.5,")
    text = page.read_text()
    assert "<svg" in text and "Alpha" in text


def test_report_table_and_svg(home, capsys, tmp_path):
    svg = tmp_path / "genres.svg"
    assert run(["report", "top-genres", "--user", "tokyo", "--from", "2026-12-29", "--to", "2027-01-04", "--chart", str(svg)]) == 0
    out = capsys.readouterr().out
    assert "pop" in out and "rock" in out and "jazz" in out
    assert svg.read_text().startswith("<svg")


def test_report_rejects_a_reversed_range(home, capsys):
    assert run(["report", "top-tracks", "--user", "tokyo", "--from", "2027-01-04", "--to", "2027-01-01"]) == 2


def test_reports_build_cli_is_a_dagster_run_the_ui_shows(home, capsys):
    from dagster import AssetKey, DagsterInstance

    # rebuilds the shared warehouse as of the same date: same tables, same answers afterwards
    assert run(["reports", "build", "--as-of", "2027-01-04"]) == 0
    out = capsys.readouterr().out
    assert "reports.top_artists:" in out and "reports.listens_report:" in out
    with DagsterInstance.from_config(str(home / "dagster")) as instance:
        [build] = instance.get_runs()
        assert build.job_name == "build_reports_job" and build.is_success
        assert build.tags["listory/launched_by"] == "listory reports build"
        assert build.run_id in out
        for key in (AssetKey(["reports", "top_artists"]), AssetKey(["reports", "charts"])):
            [record] = instance.fetch_materializations(key, limit=1).records
            assert record.run_id == build.run_id
    assert "checks 0 passed" not in out and ", 0 failed" in out  # dbt's tests ran as the assets' checks
