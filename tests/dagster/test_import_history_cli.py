"""`listory import-history` as a user runs it: reports show the past, by name at once, complete after resolution."""

from __future__ import annotations

from datetime import timedelta

import duckdb
import pytest
from dagster import AssetKey, DagsterInstance

from listory_pipeline import runtime
from listory_pipeline.cli import main
from listory_pipeline.settings import load_settings
from listory_pipeline.spotify.simulator.export import export_entries, write_extended_export
from tests.conftest import SIMULATOR_NOW

USER = "sim-alice"
START = SIMULATOR_NOW - timedelta(days=60)


@pytest.fixture
def home(tmp_path, monkeypatch, simulator_server):
    home = tmp_path / "home"
    monkeypatch.setenv("LISTORY_HOME", str(home))
    monkeypatch.setenv("LISTORY_SIMULATOR_URL", simulator_server.base_url)
    for name in ("DAGSTER_HOME", "SPOTIFY_CLIENT_ID", "SPOTIFY_CLIENT_SECRET"):
        monkeypatch.delenv(name, raising=False)
    simulator = simulator_server.simulator
    user = simulator.user(USER)
    runtime.user_registry(load_settings()).register(
        USER, simulator.refresh_token_for(USER), display_name=user.display_name, timezone_name=user.timezone
    )
    entries, _ = export_entries(simulator, USER, START, SIMULATOR_NOW - timedelta(days=1))
    write_extended_export(entries, tmp_path / "my_spotify_data.zip")
    return home


def _query(home, sql):
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as conn:
        return conn.execute(sql).fetchall()


def _top_artist_names(home):
    return [row[0] for row in _query(home, f"select artist_name from reports.top_artists where user_id = '{USER}' and time_preset = 'all_time' order by rank limit 5")]


def test_import_shows_the_past_in_reports_by_name_then_resolved(home, tmp_path, capsys, simulator_server):
    assert main(["import-history", "--user", USER, "--no-resolve", str(tmp_path / "my_spotify_data.zip")]) == 0
    out = capsys.readouterr().out
    assert "new listens" in out and "reports.top_artists" in out
    # The reports start at the first imported play, before resolution asked Spotify anything.
    first_bucket = _query(home, f"select min(period_start) from reports.listens_report where user_id = '{USER}' and timeframe = 'day'")
    assert first_bucket[0][0] <= (START + timedelta(days=1)).date()
    # never crawled, yet the reports use the user's own time zone: the import mirrored them
    assert _query(home, f"select timezone from core.users where user_id = '{USER}'") == [
        (simulator_server.simulator.user(USER).timezone,)
    ]
    by_name = _top_artist_names(home)
    catalog = simulator_server.simulator.catalog
    real_names = {artist.name for artist in catalog.artists}
    assert by_name and set(by_name) <= real_names  # the export's names, before any id is known
    assert _query(home, "select count(*) from core.tracks where catalog_status = 'pending'")[0][0] > 0
    # The embedded Dagster instance knows the tracks are pending: its sensor resumes them.
    with DagsterInstance.from_config(str(home / "dagster")) as instance:
        record = instance.get_latest_materialization_event(AssetKey(["core", "imported_track_catalog"]))
        assert record.asset_materialization.metadata["pending_tracks"].value > 0

    # Again, resolving this time: nothing new is stored, the catalog completes, names stay right.
    listens = _query(home, "select count(*) from core.listens")[0][0]
    assert main(["import-history", "--user", USER, str(tmp_path / "my_spotify_data.zip")]) == 0
    out = capsys.readouterr().out
    assert "already landed" in out and "Resolved" in out
    assert _query(home, "select count(*) from core.listens")[0][0] == listens
    assert _query(home, "select count(*) from core.tracks where catalog_status = 'pending'") == [(0,)]
    assert _query(home, "select count(*) from core.artists where is_placeholder") == [(0,)]
    assert set(_top_artist_names(home)) <= real_names


def test_a_broken_export_is_refused_and_nothing_is_stored(home, tmp_path, capsys):
    broken = tmp_path / "broken.zip"
    broken.write_bytes((tmp_path / "my_spotify_data.zip").read_bytes()[:5000])
    assert main(["import-history", "--user", USER, "--no-reports", str(broken)]) == 2
    err = capsys.readouterr().err
    assert "import refused, nothing was stored" in err and "broken.zip" in err
    assert not (home / "warehouse.duckdb").exists() and not (home / "landing").exists()


def test_an_unknown_user_is_told_to_register(home, tmp_path, capsys):
    assert main(["import-history", "--user", "nobody", str(tmp_path / "my_spotify_data.zip")]) == 2
    assert "register them first" in capsys.readouterr().err
