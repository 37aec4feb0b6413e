"""Exporting a user's history: open formats, and Spotify's own shape that imports back to the same listens."""

from __future__ import annotations

import csv
import json
from datetime import date, timedelta

import duckdb

from listory_pipeline.export.spotify_format import export_spotify_extended
from listory_pipeline.export.tabular import export_listens
from listory_pipeline.history import steps
from listory_pipeline.landing.history import HistoryLanding
from listory_pipeline.settings import load_settings
from listory_pipeline.spotify.simulator.export import export_entries, write_extended_export
from tests.conftest import SIMULATOR_NOW
from tests.integration.conftest import USER_ID
from tests.unit.history.export_files import short_entry, write_json


def _import(settings, paths, user_id=USER_ID):
    landing = HistoryLanding(settings.landing_dir)
    steps.land_export(landing, paths, user_id=user_id, now=SIMULATOR_NOW)
    return steps.load_history(settings.warehouse_path, landing, user_id, lock_wait_seconds=10)


def _plays(path, table="core.listens"):
    """Every play as (track id, end to the second, ms heard as reports count it)."""
    with duckdb.connect(str(path), read_only=True) as conn:
        return sorted(
            conn.execute(
                f"select p.track_id, floor(epoch(p.played_at))::bigint, coalesce(p.ms_played, t.duration_ms) "
                f"from {table} p left join core.tracks t using (track_id) where p.user_id = ?",
                [USER_ID],
            ).fetchall()
        )


def _history(listory_home, tmp_path):
    """A user with crawled plays, an imported export overlapping them, and Account-data plays by name."""
    listory_home.register()
    listory_home.crawl(enrich=False)
    entries, _ = export_entries(listory_home.simulator, USER_ID, SIMULATOR_NOW - timedelta(days=14), SIMULATOR_NOW - timedelta(hours=3))
    _import(listory_home.settings, [write_extended_export(entries, tmp_path / "export.zip")])
    by_name = [short_entry(SIMULATOR_NOW - timedelta(days=40, minutes=4 * i), 180_000, f"Old song {i}") for i in range(3)]
    _import(listory_home.settings, [write_json(tmp_path / "account", "StreamingHistory_music_0.json", by_name)])


def test_spotify_format_imports_back_to_the_same_listens(listory_home, tmp_path):
    _history(listory_home, tmp_path)
    zip_path = tmp_path / "my_spotify_data.zip"
    result = export_spotify_extended(listory_home.warehouse_path, USER_ID, zip_path)
    assert result.account_entries == 3 and result.extended_entries > 100

    fresh = load_settings({"LISTORY_HOME": str(tmp_path / "fresh")})
    _import(fresh, [zip_path])

    assert _plays(fresh.warehouse_path) == _plays(listory_home.warehouse_path)
    assert _plays(fresh.warehouse_path, "core.skipped_plays") == _plays(listory_home.warehouse_path, "core.skipped_plays")
    # The fields are Spotify's: another tracker reads it as it reads Spotify's own.
    import zipfile

    with zipfile.ZipFile(zip_path) as archive:
        names = archive.namelist()
        first = json.loads(archive.read(next(n for n in names if "Streaming_History_Audio_" in n)))[0]
    assert any(n.startswith("Spotify Extended Streaming History/Streaming_History_Audio_") for n in names)
    assert "Spotify Account Data/StreamingHistory_music_0.json" in names
    assert list(first)[:5] == ["ts", "platform", "ms_played", "conn_country", "ip_addr"]
    assert first["spotify_track_uri"].startswith("spotify:track:") and first["ts"].endswith("Z")


def test_open_formats_hold_every_listen_with_names_and_ids(listory_home, tmp_path):
    _history(listory_home, tmp_path)
    stored = len(_plays(listory_home.warehouse_path))
    out = {fmt: export_listens(listory_home.warehouse_path, USER_ID, tmp_path / f"l.{fmt}", fmt=fmt) for fmt in ("parquet", "csv", "json")}
    assert {fmt: result.listens for fmt, result in out.items()} == {fmt: stored for fmt in out}
    with duckdb.connect() as conn:
        parquet = conn.execute("select count(*), count(track_name), count(artist_name), count(album_name) from read_parquet(?)", [str(tmp_path / "l.parquet")]).fetchone()
    assert parquet == (stored, stored, stored, stored - 3)  # the Account-data plays have no album
    with open(tmp_path / "l.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == stored and {"played_at", "ms_played", "source", "artist_names", "album_id"} <= set(rows[0])
    lines = (tmp_path / "l.json").read_text().splitlines()
    assert len(lines) == stored and isinstance(json.loads(lines[0])["artist_ids"], list)


def test_dates_are_the_users_local_dates_both_included(listory_home, tmp_path):
    _history(listory_home, tmp_path)
    timezone_name = listory_home.registry.get(USER_ID).timezone
    day = (SIMULATOR_NOW - timedelta(days=5)).date()
    result = export_listens(listory_home.warehouse_path, USER_ID, tmp_path / "day.csv", fmt="csv", first=day, last=day)
    with duckdb.connect(str(listory_home.warehouse_path), read_only=True) as conn:
        expected = conn.execute(
            "select count(*) from core.listens where user_id = ? and cast(timezone(?, played_at) as date) = ?",
            [USER_ID, timezone_name, day],
        ).fetchone()[0]
    assert result.listens == expected > 0
    empty = export_listens(listory_home.warehouse_path, USER_ID, tmp_path / "none.csv", fmt="csv", first=date(2001, 1, 1), last=date(2001, 1, 2))
    assert empty.listens == 0 and (tmp_path / "none.csv").read_text().startswith("user_id,")


def test_the_export_command(listory_home, tmp_path, monkeypatch, capsys):
    from listory_pipeline.cli import main

    monkeypatch.setenv("LISTORY_HOME", str(listory_home.settings.home))
    assert main(["export", "--user", USER_ID, "--format", "csv", "--out", str(tmp_path / "x.csv")]) == 2
    assert "no warehouse" in capsys.readouterr().err
    _history(listory_home, tmp_path)
    out = tmp_path / "x.parquet"
    assert main(["export", "--user", USER_ID, "--format", "parquet", "--out", str(out)]) == 0
    assert f"listens of {USER_ID} to {out}" in capsys.readouterr().out and out.exists()
    assert main(["export", "--user", USER_ID, "--format", "csv", "--from", "2026-11-10", "--to", "2026-11-01"]) == 2
    assert "before --from" in capsys.readouterr().err
    assert not list(tmp_path.glob(".*partial")) and not list(tmp_path.glob(".*parts"))
