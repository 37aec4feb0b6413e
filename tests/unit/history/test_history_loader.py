"""Loading an export beside crawled plays: one row per play, however and in whatever order it arrives."""

from __future__ import annotations

from datetime import timedelta

import duckdb
import pytest

from listory_pipeline.history import steps
from listory_pipeline.history.classify import ImportRules
from listory_pipeline.history.errors import HistoryInputError
from listory_pipeline.landing.history import HistoryLanding
from listory_pipeline.landing.store import LandingZone
from listory_pipeline.publication.snapshot import Publication
from listory_pipeline.warehouse.connection import open_warehouse
from listory_pipeline.warehouse.loader import UserRow, load_user_pulls
from tests.support.payloads import play, recently_played
from tests.unit.history.export_files import T0, entry, podcast, short_entry, track_id, write_json

USER = UserRow("alice", "Alice", "UTC", "active")
NOW = T0 + timedelta(days=30)


@pytest.fixture()
def home(tmp_path):
    return tmp_path


def _warehouse(home):
    return home / "pipeline" / "warehouse.duckdb"  # where the pipeline writes in LISTORY_HOME


def _publication(home):
    """Every write session publishes the read copy, so `listory users list` sees it at once."""
    return Publication(_warehouse(home), home / "warehouse.duckdb", min_interval_seconds=0)


def _import(home, entries, name="Streaming_History_Audio_2024_0.json", **kwargs):
    folder = home / f"export-{len(list(home.glob('export-*')))}"
    write_json(folder, name, entries)
    landing = HistoryLanding(home / "landing")
    landed = steps.land_export(landing, [folder], user_id=USER.user_id, now=NOW, **kwargs)
    loaded = steps.load_history(
        _warehouse(home), landing, USER.user_id, lock_wait_seconds=5, publication=_publication(home)
    )
    return landed, loaded


def _crawl(home, plays):
    zone = LandingZone(home / "landing")
    zone.land(USER.user_id, recently_played(plays), fetched_at=NOW)
    with open_warehouse(_warehouse(home), publication=_publication(home)) as warehouse:
        return load_user_pulls(warehouse, zone, USER, now=NOW)


def _rows(home, sql):
    with duckdb.connect(str(_warehouse(home)), read_only=True) as conn:
        return conn.execute(sql).fetchall()


def _listens(home):
    return _rows(home, "select track_id, played_at, source, ms_played from core.listens order by played_at")


def test_a_crawled_play_in_the_export_is_stored_once_with_what_was_heard(home):
    _crawl(home, [play(track_id(1), T0 + timedelta(milliseconds=640))])
    _, loaded = _import(home, [entry(1, T0, 185_000)])  # the export's ts: the same end, in whole seconds
    rows = _listens(home)
    assert len(rows) == 1
    assert rows[0][2] == "recently_played" and rows[0][3] == 185_000
    assert loaded.imports[0].listens_matched == 1 and loaded.imports[0].listens_new == 0


def test_two_plays_of_a_short_track_back_to_back_are_both_kept(home):
    # A 21-second interlude played twice in a row: the ends are 21.3 s apart, within the ±30 s
    # other trackers allow, but each play's own length (ms_played / 2) keeps them apart.
    first, second = T0 + timedelta(milliseconds=250), T0 + timedelta(seconds=21, milliseconds=550)
    _crawl(home, [play(track_id(7), first, duration_ms=21_000), play(track_id(7), second, duration_ms=21_000)])
    _import(home, [entry(7, first, 21_000), entry(7, second, 21_000)])
    assert [r[2] for r in _listens(home)] == ["recently_played", "recently_played"]


def test_the_same_two_short_plays_arriving_only_from_the_export_are_both_listens(home):
    _import(home, [entry(7, T0, 21_000), entry(7, T0 + timedelta(seconds=21), 21_000)])
    assert len(_listens(home)) == 2


def test_a_play_forty_seconds_away_is_another_play(home):
    _crawl(home, [play(track_id(1), T0)])
    _import(home, [entry(1, T0 + timedelta(seconds=25)), entry(1, T0 + timedelta(seconds=400))])
    # 25 s: the same play (clocks differ); 400 s: the next play of the same track
    assert len(_listens(home)) == 2


def test_one_crawled_play_never_absorbs_two_export_entries(home):
    _crawl(home, [play(track_id(1), T0)])
    _import(home, [entry(1, T0 - timedelta(seconds=20)), entry(1, T0)])
    rows = _listens(home)
    assert len(rows) == 2 and sorted(r[2] for r in rows) == ["extended_history", "recently_played"]


def test_crawling_after_the_import_does_not_store_the_play_again(home):
    _import(home, [entry(1, T0, 185_000), entry(2, T0 + timedelta(minutes=4))])
    result = _crawl(
        home, [play(track_id(1), T0 + timedelta(milliseconds=400)), play(track_id(3), T0 + timedelta(minutes=8))]
    )
    assert result.new_listens == 1
    assert [(r[0], r[2]) for r in _listens(home)] == [
        (track_id(1), "extended_history"),
        (track_id(2), "extended_history"),
        (track_id(3), "recently_played"),
    ]


def test_reimporting_changes_nothing(home):
    entries = [entry(1, T0), entry(2, T0 + timedelta(minutes=4), 5_000, reason_end="fwdbtn")]
    first, loaded = _import(home, entries)
    snapshot = _rows(home, "select * from core.listens"), _rows(home, "select * from core.skipped_plays")
    again, reloaded = _import(home, entries)
    assert not again.new and again.landed.import_id == first.landed.import_id
    assert reloaded.imports == []
    assert (_rows(home, "select * from core.listens"), _rows(home, "select * from core.skipped_plays")) == snapshot


def test_the_listen_rule_skips_incognito_and_non_music(home):
    entries = [
        entry(1, T0, 31_000, reason_end="fwdbtn"),  # listen: over 30 s
        entry(2, T0 + timedelta(minutes=1), 12_000, reason_end="fwdbtn"),  # skip
        entry(3, T0 + timedelta(minutes=2), 14_000, reason_end="trackdone"),  # listen: played to its end
        entry(4, T0 + timedelta(minutes=3), incognito=True),  # dropped
        podcast(T0 + timedelta(minutes=20)),
        entry(None, T0 + timedelta(minutes=30), track_name="My local file.mp3"),
        entry(5, T0 + timedelta(minutes=40), skipped=None),  # older exports: skipped is null
    ]
    landed, _ = _import(home, entries)
    assert sorted(r[0] for r in _listens(home)) == [track_id(1), track_id(3), track_id(5)]
    assert [r[0] for r in _rows(home, "select track_id from core.skipped_plays")] == [track_id(2)]
    counts = landed.export.counts
    assert (counts["incognito_dropped"], counts["podcast_episodes"], counts["local_files"]) == (1, 1, 1)


def test_the_rules_are_the_users_to_choose(home):
    entries = [entry(1, T0, 12_000, reason_end="fwdbtn"), entry(4, T0 + timedelta(minutes=3), incognito=True)]
    _import(home, entries, rules=ImportRules(min_listen_ms=10_000, include_incognito=True))
    assert sorted(r[0] for r in _listens(home)) == [track_id(1), track_id(4)]


def test_ms_played_of_imported_plays_is_kept_and_personal_data_is_not(home):
    landed, _ = _import(home, [entry(1, T0, 123_456)])
    assert _listens(home)[0][3] == 123_456
    stored = landed.landed.entries_path.read_bytes() + (landed.landed.folder / "manifest.json").read_bytes()
    assert b"203.0.113.7" not in stored and b"android" not in stored


def test_account_data_plays_are_kept_by_name_and_replaced_by_the_extended_export(home):
    short = [short_entry(T0, 200_000, "Track 1"), short_entry(T0 + timedelta(minutes=4), 200_000, "Track 2")]
    _import(home, short, name="StreamingHistory_music_0.json")
    by_name = _rows(home, "select l.track_id, t.catalog_status, t.name from core.listens l join core.tracks t using (track_id)")
    assert len(by_name) == 2 and all(tid.startswith("byname:") and status == "by_name" for tid, status, _ in by_name)
    # The extended export of the same plays: exact second, real id. Stored once, the better row kept.
    _, loaded = _import(home, [entry(1, T0 + timedelta(seconds=41)), entry(2, T0 + timedelta(minutes=4, seconds=3))])
    assert loaded.imports[0].listens_replaced == 2 and loaded.imports[0].listens_new == 0
    assert [(r[0], r[1].second) for r in _listens(home)] == [(track_id(1), 41), (track_id(2), 3)]


def test_account_data_after_the_extended_export_adds_nothing(home):
    _import(home, [entry(1, T0 + timedelta(seconds=41))])
    _, loaded = _import(home, [short_entry(T0, 200_000, "Track 1")], name="StreamingHistory_music_0.json")
    assert loaded.imports[0].listens_new == 0 and len(_listens(home)) == 1


def test_imported_tracks_show_by_name_before_resolution(home):
    _import(home, [entry(1, T0, artist="Nina Simone", album="Pastel Blues", track_name="Sinnerman")])
    assert _rows(home, "select name, catalog_status, duration_ms from core.tracks") == [("Sinnerman", "pending", None)]
    assert _rows(home, "select a.name, a.is_placeholder from core.provisional_credits p join core.artists a using (artist_id)") == [
        ("Nina Simone", True)
    ]
    assert _rows(home, "select a.name from core.tracks t join core.albums a using (album_id)") == [("Pastel Blues",)]


def test_an_import_naming_a_known_artist_credits_that_artist(home):
    _crawl(home, [play(track_id(9), T0)])  # brings artist ar1, "Artist ar1"
    _import(home, [entry(1, T0 + timedelta(hours=1), artist="Artist ar1")])
    assert _rows(home, f"select artist_id from core.provisional_credits where track_id = '{track_id(1)}'") == [("ar1",)]


def test_a_broken_file_set_stores_nothing(home):
    folder = home / "export"
    write_json(folder, "Streaming_History_Audio_2023_0.json", [entry(1, T0)])
    write_json(folder, "Streaming_History_Audio_2024_1.json", [entry(2, T0), {"ts": "yesterday", "ms_played": 1}])
    landing = HistoryLanding(home / "landing")
    with pytest.raises(HistoryInputError, match=r"Streaming_History_Audio_2024_1\.json, entry 1: ts is 'yesterday'"):
        steps.land_export(landing, [folder], user_id=USER.user_id, now=NOW)
    assert not (home / "landing").exists() and not (_warehouse(home)).exists()


def test_another_users_export_is_refused_unless_asked(home):
    entries = [{**entry(1, T0), "username": "bob"}]
    with pytest.raises(HistoryInputError, match=r"entry 0: username is 'bob'"):
        _import(home, entries)
    landed, _ = _import(home, entries, allow_other_username=True)
    assert landed.export.warnings and len(_listens(home)) == 1


def test_an_import_fills_the_gaps_it_covers(home):
    _crawl(home, [play(track_id(1), T0)])
    later = [play(track_id(2), T0 + timedelta(days=2, minutes=4 * i)) for i in range(50)]
    gap = _crawl(home, later)
    assert gap.possible_gap and (gap.open_gaps, gap.filled_gaps) == (1, 0)
    _, loaded = _import(home, [entry(3, T0 - timedelta(days=1)), entry(4, T0 + timedelta(days=1)), entry(5, T0 + timedelta(days=3))])
    assert loaded.imports[0].gaps_filled == 1
    assert _rows(home, "select filled_by_import is not null from meta.listen_gaps") == [(True,)]


def test_users_list_shows_gaps_open_then_filled(home, monkeypatch, capsys):
    from listory_pipeline import runtime
    from listory_pipeline.cli import main
    from listory_pipeline.settings import load_settings

    for name in ("SPOTIFY_CLIENT_ID", "SPOTIFY_CLIENT_SECRET", "LISTORY_SECRET_KEY", "LISTORY_SIMULATOR_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LISTORY_HOME", str(home))  # the warehouse and landing of these tests live there
    runtime.user_registry(load_settings()).register(USER.user_id, "refresh-token", display_name="Alice", timezone_name="UTC")
    _crawl(home, [play(track_id(1), T0)])
    _crawl(home, [play(track_id(2), T0 + timedelta(days=2, minutes=4 * i)) for i in range(50)])
    assert main(["users", "list"]) == 0
    out = capsys.readouterr().out
    assert "1 open, 0 filled" in out and "import-history" in out
    _import(home, [entry(3, T0 - timedelta(days=1)), entry(5, T0 + timedelta(days=3))])
    assert main(["users", "list"]) == 0
    assert "0 open, 1 filled" in capsys.readouterr().out


def test_a_damaged_landed_import_is_recorded_and_does_not_block_later_loads(home):
    landed, _ = _import(home, [entry(1, T0)])
    # a second import, then damage its Parquet file before it is loaded
    folder = home / "export-late"
    write_json(folder, "Streaming_History_Audio_2024_0.json", [entry(2, T0 + timedelta(hours=1))])
    landing = HistoryLanding(home / "landing")
    late = steps.land_export(landing, [folder], user_id=USER.user_id, now=NOW)
    late.landed.entries_path.write_bytes(b"not parquet")
    result = steps.load_history(_warehouse(home), landing, USER.user_id, lock_wait_seconds=5)
    assert result.rejected and "unreadable" in result.rejected[0].error
    assert len(_listens(home)) == 1
    assert steps.load_history(_warehouse(home), landing, USER.user_id, lock_wait_seconds=5).imports == []
