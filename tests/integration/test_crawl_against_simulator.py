"""The crawl steps (land → load → enrich) against the simulator over HTTP and a real DuckDB file.

Each `listory_home.crawl()` is what one crawl process does: a new SpotifyClient built
from the settings (encrypted token cache in LISTORY_HOME), land the newest 50 plays,
load every pending pull, fetch the genres still missing. Request counts come from the
simulator's own statistics, i.e. what Spotify would have seen.
"""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone

import pytest

from listory_pipeline.crawl import steps as crawl
from listory_pipeline.warehouse.connection import WarehouseLockedError
from tests.conftest import SIMULATOR_NOW
from tests.integration.conftest import USER_ID

CATALOG_ENDPOINTS = {"artist", "artists_bulk", "album", "albums_bulk", "track", "tracks_bulk"}
ONE_DAY = 24 * 3600


def user_artists_without_genre_check(home, user_id: str = USER_ID) -> int:
    """Artists credited on a track the user listened to whose genres were never checked."""
    return home.query(
        """
        select count(distinct a.artist_id)
        from core.listens l
        join core.track_artists ta using (track_id)
        join core.artists a using (artist_id)
        where l.user_id = $user_id and a.genres_checked_at is null
        """,
        {"user_id": user_id},
    )[0][0]


def enrichment_state(home):
    rows = home.query("select genres_unavailable_until, bulk_refused_kinds from meta.enrichment_state")
    assert len(rows) == 1
    return rows[0]


def catalog_requests(stats: dict) -> dict[str, int]:
    return {k: v for k, v in stats["by_endpoint"].items() if k in CATALOG_ENDPOINTS}


def listens_snapshot(home) -> dict[str, list[tuple]]:
    return {
        "listens": home.query("select user_id, track_id, played_at, pull_id from core.listens order by all"),
        "tracks": home.query("select track_id, name, album_id from core.tracks order by all"),
        "artists": home.query("select artist_id, name, genres_checked_at from core.artists order by all"),
        "albums": home.query("select album_id, name from core.albums order by all"),
    }


# -- a new user, then again ----------------------------------------------------------------


def test_a_new_users_first_crawl_takes_three_requests_and_the_next_one_request(listory_home):
    listory_home.register()

    first = listory_home.crawl()

    assert first.requests["by_endpoint"] == {"token": 1, "recently_played": 1, "artists_bulk": 1}
    assert first.requests["total"] == 3
    assert first.plays_in_pull == 50 and first.load.new_listens == 50
    assert listory_home.query("select count(*) from core.listens where user_id = $u", {"u": USER_ID}) == [(50,)]
    assert user_artists_without_genre_check(listory_home) == 0
    assert listory_home.query("select count(*) from core.artist_genres")[0][0] > 0
    over_one = {table: n for table, n in first.load.write_statements.items() if n > 1}
    assert over_one == {}, f"the load wrote more than one statement to {over_one}"
    assert "core.listens" in first.load.write_statements

    again = listory_home.crawl()

    assert again.requests["by_endpoint"] == {"recently_played": 1}
    assert again.load.new_listens == 0
    assert catalog_requests(again.requests) == {}
    assert listory_home.query("select count(*) from core.listens")[0][0] == 50


# -- development-mode apps: bulk refused, genres missing -----------------------------------


def test_a_bulk_refusal_is_remembered_by_the_warehouse_for_later_crawls(listory_home):
    simulator = listory_home.simulator
    simulator.set_faults(bulk_refused=True)
    listory_home.register()

    first = listory_home.crawl()

    artists = listory_home.query("select count(*) from core.artists")[0][0]
    assert catalog_requests(first.requests) == {"artists_bulk": 1, "artist": artists}
    assert first.requests["by_status"].get("403") == 1
    assert user_artists_without_genre_check(listory_home) == 0
    assert listory_home.query("select count(*) from core.artist_genres")[0][0] > 0
    assert list(enrichment_state(listory_home)[1]) == ["artists"]

    simulator.clock.advance(ONE_DAY)
    later = listory_home.crawl()  # a new process: its client knows nothing yet

    assert later.load.new_listens > 0
    new_artists = listory_home.query("select count(*) from core.artists")[0][0] - artists
    assert new_artists > 0, "the simulated day brought no new artist; the test proves nothing"
    assert catalog_requests(later.requests) == {"artist": new_artists}
    assert user_artists_without_genre_check(listory_home) == 0


def test_an_app_without_genres_stops_spending_requests_on_them(listory_home):
    simulator = listory_home.simulator
    simulator.set_faults(genres_missing=True)
    listory_home.register()

    first = listory_home.crawl()

    assert catalog_requests(first.requests) == {"artists_bulk": 1}
    assert first.enrich.result.genres_unavailable is True
    unavailable_until, _ = enrichment_state(listory_home)
    assert unavailable_until > datetime.now(timezone.utc)
    assert listory_home.query("select count(*) from core.artist_genres") == [(0,)]
    assert listory_home.query(
        "select count(*) from core.artists where genres_status is distinct from 'unavailable'"
    ) == [(0,)]

    simulator.clock.advance(ONE_DAY)
    later = listory_home.crawl()

    assert later.load.new_listens > 0
    assert listory_home.query("select count(*) from core.artists where genres_checked_at is null")[0][0] > 0
    assert catalog_requests(later.requests) == {}
    assert "genres unavailable" in later.enrich.skipped_reason


# -- late and out-of-order plays -----------------------------------------------------------


# sim-dmitri (Africa/Lagos) listens through the 12 hours after SIMULATOR_NOW: 61 plays, 19 of
# them up to ~3 h late with these faults, all visible before the walk ends.
WALK_USER = "sim-dmitri"
WALK_HOURS = 12


def test_polling_every_ten_minutes_stores_exactly_the_plays_that_happened(listory_home):
    """Half a simulated day of late (up to 3 h) and shuffled answers, crawled every 10 minutes."""
    simulator = listory_home.simulator
    simulator.set_faults(late_fraction=0.3, max_late_seconds=3 * 3600, out_of_order=True)
    user = listory_home.register(WALK_USER)
    landing = listory_home.landing
    loads = []

    with listory_home.client() as client:  # one client throughout: its token expires every simulated hour
        session = listory_home.session(client, WALK_USER)
        first = crawl.land_recent_plays(session, landing, WALK_USER)
        first_items = landing.read(first.pull)["payload"]["items"]
        oldest_first = min(datetime.fromisoformat(item["played_at"]) for item in first_items)
        for step in range(WALK_HOURS * 6 + 1):
            if step:
                simulator.clock.advance(600)
                crawl.land_recent_plays(session, landing, WALK_USER)
            result, checks = crawl.load_landed(listory_home.warehouse_path, landing, user, lock_wait_seconds=10)
            assert all(check.passed for check in checks), checks
            loads.append(result)

    start, end = oldest_first - timedelta(milliseconds=1), simulator.clock.now()
    assert end - SIMULATOR_NOW == timedelta(hours=WALK_HOURS)
    truth_plays = simulator.ground_truth(WALK_USER, start, end)
    truth = sorted((to_ms(played_at), track_id) for played_at, track_id in truth_plays)
    stored = listory_home.query(
        "select epoch_ms(played_at), track_id from core.listens where user_id = $u order by 1, 2", {"u": WALK_USER}
    )
    assert len(set(stored)) == len(stored), "a play is stored twice"
    assert [row for row in stored if row[0] > to_ms(start)] == truth
    # Anything older than the window is a real play too (a late one that surfaced after the first pull).
    wider = {(to_ms(p), t) for p, t in simulator.ground_truth(WALK_USER, start - timedelta(days=2), end)}
    assert set(stored) <= wider

    # The walk met what it is about: more plays than one answer holds, late plays, shuffled answers.
    new_in_walk = [p for p, _ in truth_plays if p > SIMULATOR_NOW]
    late = [p for p in new_in_walk if simulator.visible_at(WALK_USER, p) - p > timedelta(minutes=10)]
    assert len(new_in_walk) > 50 and len(late) >= 10
    assert any(_shuffled(landing.read(pull)["payload"]) for pull in landing.pulls(WALK_USER))
    # Polling every 10 minutes misses nothing, so no load may warn of a gap.
    gaps = [step for step, result in enumerate(loads) if result.possible_gap]
    assert gaps == [], f"loads at steps {gaps} warned of a gap that did not happen"
    assert sum(result.new_listens for result in loads) == len(stored)


def to_ms(moment: datetime) -> int:
    return int(round(moment.timestamp() * 1000))


def _shuffled(payload: dict) -> bool:
    played = [item["played_at"] for item in payload["items"]]
    return played != sorted(played, reverse=True)


# -- a locked warehouse loses nothing ------------------------------------------------------

HOLD_WAREHOUSE = """
import sys, duckdb
conn = duckdb.connect(sys.argv[1])
print("holding", flush=True)
sys.stdin.read()
conn.close()
"""


def test_a_load_that_finds_the_warehouse_locked_leaves_the_pull_for_the_next_load(listory_home):
    listory_home.register("sim-bruno")
    listory_home.crawl("sim-bruno", enrich=False)  # the warehouse exists and holds someone's plays
    bruno_before = listory_home.query("select track_id, played_at from core.listens order by all")
    listory_home.register()
    with listory_home.client() as client:
        landed = crawl.land_recent_plays(listory_home.session(client), listory_home.landing, USER_ID)

    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_WAREHOUSE, str(listory_home.warehouse_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "holding"
        started = time.monotonic()
        with pytest.raises(WarehouseLockedError) as locked:
            listory_home.load(lock_wait_seconds=0.5)
        waited = time.monotonic() - started
    finally:
        holder.stdin.close()
        holder.wait(timeout=10)
    assert holder.returncode == 0
    assert 0.5 <= waited < 5
    assert str(listory_home.warehouse_path) in str(locked.value)

    assert listory_home.query("select count(*) from core.listens where user_id = $u", {"u": USER_ID}) == [(0,)]
    recorded = listory_home.query("select count(*) from meta.loaded_pulls where pull_id = $p", {"p": landed.pull.pull_id})
    assert recorded == [(0,)]
    assert landed.pull.path.exists()

    result = listory_home.load()

    assert result.pulls_loaded == 1 and result.new_listens == 50
    stored = listory_home.query(
        "select count(*) from core.listens where user_id = $u and pull_id = $p",
        {"u": USER_ID, "p": landed.pull.pull_id},
    )
    assert stored == [(50,)]
    assert listory_home.query(
        "select track_id, played_at from core.listens where user_id = 'sim-bruno' order by all"
    ) == bruno_before


# -- a malformed answer is stopped ---------------------------------------------------------


def test_a_malformed_pull_is_rejected_by_name_and_the_warehouse_is_unchanged(listory_home):
    listory_home.register()
    listory_home.crawl()
    before = listens_snapshot(listory_home)
    assert len(before["listens"]) == 50

    listory_home.simulator.clock.advance(ONE_DAY)  # a pull full of plays we do not have yet
    with listory_home.client() as client:
        payload = listory_home.session(client).recently_played()
    del payload["items"][7]["played_at"]
    bad = listory_home.landing.land(USER_ID, payload, fetched_at=datetime.now(timezone.utc))

    result = listory_home.load()

    assert result.pulls_loaded == 0 and result.new_listens == 0
    assert len(result.pulls_rejected) == 1
    pull_id, reason = result.pulls_rejected[0]
    assert pull_id == bad.pull_id
    assert bad.pull_id in reason and "items[7].played_at" in reason
    recorded = listory_home.query(
        "select outcome, error from meta.loaded_pulls where pull_id = $p", {"p": bad.pull_id}
    )
    assert recorded[0][0] == "rejected" and "items[7].played_at" in recorded[0][1]
    assert listens_snapshot(listory_home) == before
    assert bad.path.exists()  # kept on disk for a person to look at

    # The bad answer does not block the next good one, and is not retried.
    later = listory_home.crawl(enrich=False)
    assert later.load.pulls_loaded == 1 and later.load.pulls_rejected == []
    assert later.load.new_listens > 0
    assert listory_home.query("select count(*) from core.listens where pull_id = $p", {"p": bad.pull_id}) == [(0,)]
