"""The set-based, idempotent load of landed pulls into a real DuckDB file."""

from __future__ import annotations

from datetime import timedelta

import duckdb
import pytest

from listory_pipeline.landing.store import LandingZone
from listory_pipeline.warehouse.connection import open_warehouse
from listory_pipeline.warehouse.loader import UserRow, load_user_pulls
from tests.support.payloads import T0, play, plays_every, recently_played

USER = UserRow("alice", "Alice", "Europe/Berlin", "active")


def _load(db_path, landing, user=USER, now=None):
    with open_warehouse(db_path) as warehouse:
        return load_user_pulls(warehouse, landing, user, now=now or T0 + timedelta(hours=5))


def _count(db_path, sql):
    with duckdb.connect(str(db_path), read_only=True) as conn:
        return conn.execute(sql).fetchone()[0]


def test_a_pull_becomes_listens_and_catalog(landing, db_path):
    landing.land("alice", recently_played(plays_every(T0, 12)), fetched_at=T0 + timedelta(hours=1))
    result = _load(db_path, landing)
    assert result.new_listens == 12
    assert result.pulls_loaded == 1
    assert _count(db_path, "select count(*) from core.listens where user_id = 'alice'") == 12
    assert _count(db_path, "select count(*) from core.tracks") == 10
    assert _count(db_path, "select count(*) from core.artists") == 3
    assert _count(db_path, "select count(*) from core.albums") == 1
    assert _count(db_path, "select count(*) from core.listens where source = 'recently_played' and ms_played is null") == 12
    assert _count(db_path, "select display_name from core.users where user_id = 'alice'") == "Alice"


def test_loading_again_changes_nothing(landing, db_path):
    landing.land("alice", recently_played(plays_every(T0, 20)), fetched_at=T0 + timedelta(hours=2))
    _load(db_path, landing)
    snapshot = _count(db_path, "select sum(hash(user_id, track_id, played_at)) from core.listens")
    second = _load(db_path, landing)
    assert second.new_listens == 0 and second.pulls_loaded == 0
    assert _count(db_path, "select count(*) from core.listens") == 20
    assert _count(db_path, "select sum(hash(user_id, track_id, played_at)) from core.listens") == snapshot


def test_overlapping_and_out_of_order_pulls_store_each_play_once(landing, db_path):
    plays = plays_every(T0, 30)
    # Second pull overlaps the first and arrives shuffled, with one late play inside the old range.
    landing.land("alice", recently_played(plays[:20]), fetched_at=T0 + timedelta(hours=2))
    late = play("late", T0 + timedelta(minutes=10), artists=["ar9"])
    shuffled = list(reversed(plays[10:])) + [late]
    landing.land("alice", {"items": shuffled}, fetched_at=T0 + timedelta(hours=3))
    result = _load(db_path, landing)
    assert result.pulls_loaded == 2
    assert result.new_listens == 31
    assert _count(db_path, "select count(*) from core.listens") == 31


def test_write_statements_do_not_grow_with_plays(landing, db_path, tmp_path):
    counts = {}
    for n in (1, 50, 5000):
        zone = LandingZone(tmp_path / f"landing-{n}")
        zone.land("alice", recently_played(plays_every(T0, n, minutes=1, tracks=max(1, n // 2))), fetched_at=T0 + timedelta(days=5))
        with open_warehouse(tmp_path / f"w-{n}.duckdb") as warehouse:
            result = load_user_pulls(warehouse, zone, USER, now=T0 + timedelta(days=5))
        assert result.new_listens == n
        counts[n] = result.write_statement_count
        assert max(result.write_statements.values()) == 1
    assert counts[1] == counts[50] == counts[5000]


def test_a_malformed_pull_is_rejected_by_name_and_the_rest_loads(landing, db_path):
    landing.land("alice", recently_played(plays_every(T0, 5)), fetched_at=T0 + timedelta(hours=1))
    broken = recently_played(plays_every(T0 + timedelta(hours=2), 3))
    del broken["items"][1]["track"]["album"]["id"]
    bad = landing.land("alice", broken, fetched_at=T0 + timedelta(hours=3))
    result = _load(db_path, landing)
    assert result.new_listens == 5
    assert [pull_id for pull_id, _ in result.pulls_rejected] == [bad.pull_id]
    assert "items[1].track.album.id is missing" in result.pulls_rejected[0][1]
    assert bad.path.exists()
    # A rejected pull is not retried on every load.
    assert _load(db_path, landing).pulls_rejected == []


def test_possible_gap_when_a_full_pull_is_all_newer_than_what_we_have(landing, db_path):
    landing.land("alice", recently_played(plays_every(T0, 10)), fetched_at=T0 + timedelta(hours=1))
    assert _load(db_path, landing).possible_gap is False
    landing.land("alice", recently_played(plays_every(T0 + timedelta(days=1), 50)), fetched_at=T0 + timedelta(days=2))
    result = _load(db_path, landing, now=T0 + timedelta(days=2))
    assert result.possible_gap is True
    # Overlapping full pull: no gap.
    landing.land("alice", recently_played(plays_every(T0 + timedelta(days=1, minutes=8), 50)), fetched_at=T0 + timedelta(days=2, hours=1))
    assert _load(db_path, landing, now=T0 + timedelta(days=2, hours=1)).possible_gap is False


def test_a_failed_load_leaves_the_warehouse_untouched_and_the_pull_pending(landing, db_path, monkeypatch):
    landing.land("alice", recently_played(plays_every(T0, 7)), fetched_at=T0 + timedelta(hours=1))
    import listory_pipeline.warehouse.loader as loader

    original = loader._merge

    def exploding(pulls, attribute, key):
        if attribute == "listens":
            raise RuntimeError("disk full")
        return original(pulls, attribute, key)

    monkeypatch.setattr(loader, "_merge", exploding)
    with pytest.raises(RuntimeError, match="disk full"):
        _load(db_path, landing)
    assert _count(db_path, "select count(*) from core.tracks") == 0
    assert _count(db_path, "select count(*) from meta.loaded_pulls") == 0
    monkeypatch.setattr(loader, "_merge", original)
    assert _load(db_path, landing).new_listens == 7


def test_local_files_are_skipped_but_a_missing_track_id_rejects_the_pull(landing, db_path):
    local = recently_played(plays_every(T0, 3))
    local["items"][0]["track"]["is_local"] = True
    local["items"][0]["track"]["id"] = None
    landing.land("alice", local, fetched_at=T0 + timedelta(hours=1))
    broken = recently_played(plays_every(T0 + timedelta(hours=2), 2))
    broken["items"][0]["track"]["id"] = None
    bad = landing.land("alice", broken, fetched_at=T0 + timedelta(hours=3))
    result = _load(db_path, landing)
    assert result.new_listens == 2
    assert [pull_id for pull_id, _ in result.pulls_rejected] == [bad.pull_id]
    assert "items[0].track.id is missing" in result.pulls_rejected[0][1]


def test_core_users_mirrors_every_registered_user_with_their_status(landing, db_path):
    landing.land("alice", recently_played(plays_every(T0, 2)), fetched_at=T0 + timedelta(hours=1))
    others = [UserRow("bob", "Bob", "UTC", "revoked"), USER]
    with open_warehouse(db_path) as warehouse:
        load_user_pulls(warehouse, landing, USER, now=T0 + timedelta(hours=5), mirror_users=others)
    with duckdb.connect(str(db_path), read_only=True) as conn:
        assert conn.execute("select user_id, status from core.users order by 1").fetchall() == [("alice", "active"), ("bob", "revoked")]


def test_a_pull_landing_late_within_the_slack_is_still_loaded(landing, db_path):
    # A crawl stamps its pull when the request starts and lands it when the answer is in;
    # a load running in between must not move past it for good.
    landing.land("alice", recently_played(plays_every(T0, 3)), fetched_at=T0 + timedelta(hours=2))
    _load(db_path, landing, now=T0 + timedelta(hours=2, minutes=1))
    slow = recently_played(plays_every(T0 + timedelta(hours=1), 4, tracks=4))
    landing.land("alice", slow, fetched_at=T0 + timedelta(hours=1, minutes=58))
    result = _load(db_path, landing, now=T0 + timedelta(hours=2, minutes=2))
    assert result.pulls_loaded == 1 and result.new_listens == 4


def test_loads_only_look_at_recent_pulls(landing, db_path, monkeypatch):
    for hour in range(30):
        landing.land("alice", recently_played(plays_every(T0, 2)), fetched_at=T0 + timedelta(hours=hour))
    assert _load(db_path, landing, now=T0 + timedelta(hours=30)).pulls_loaded == 30
    landing.land("alice", recently_played(plays_every(T0, 2)), fetched_at=T0 + timedelta(hours=30))
    seen = []
    original = LandingZone.pulls

    def recording(self, user_id, since=None):
        found = list(original(self, user_id, since=since))
        seen.extend(found)
        return iter(found)

    monkeypatch.setattr(LandingZone, "pulls", recording)
    assert _load(db_path, landing, now=T0 + timedelta(hours=30, minutes=1)).pulls_loaded == 1
    # The newest loaded pull was fetched at hour 29: only pulls from hour 28 on are listed.
    assert min(p.fetched_at for p in seen) >= T0 + timedelta(hours=28)


def test_a_load_says_which_catalog_tables_it_changed_so_known_tracks_materialize_listens_alone(landing, db_path):
    """Each changed core.* table gets a materialization in the crawl run (defs/crawl/assets.py):
    new plays of tracks already stored change core.listens alone, a new track changes its tables."""
    from listory_pipeline.defs.crawl.assets import tables_changed

    plays = plays_every(T0, 12)
    landing.land("alice", recently_played(plays), fetched_at=T0 + timedelta(hours=1))
    first = _load(db_path, landing)
    assert tables_changed(first) == ["tracks", "albums", "artists", "track_artists", "album_artists", "users"]

    replayed = [{**p, "played_at": play("x", T0 + timedelta(hours=2, minutes=4 * i))["played_at"]}  # the same tracks again
                for i, p in enumerate(plays[:3])]
    landing.land("alice", recently_played(replayed + plays), fetched_at=T0 + timedelta(hours=3))
    known = _load(db_path, landing, now=T0 + timedelta(hours=6))
    assert known.new_listens == 3 and known.new_answers == 1
    assert tables_changed(known) == []

    landing.land("alice", recently_played([play("brand-new", T0 + timedelta(hours=4), artists=["ar1"])] + replayed),
                 fetched_at=T0 + timedelta(hours=5))
    new_track = _load(db_path, landing, now=T0 + timedelta(hours=7))
    assert tables_changed(new_track) == ["tracks", "track_artists"]  # its album and artist were known
    renamed = UserRow("alice", "Alice B.", "Europe/Berlin", "active")
    landing.land("alice", recently_played([play("brand-new", T0 + timedelta(hours=5))]), fetched_at=T0 + timedelta(hours=6))
    assert "users" in tables_changed(_load(db_path, landing, user=renamed, now=T0 + timedelta(hours=8)))
