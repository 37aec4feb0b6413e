"""A simulated user's export imported beside their crawled plays: the exact listens, stored once.

The simulator's export comes from the same ground truth as its recently-played answers, so
the expected listens are known play by play: every crawled play, plus every play of the
export that the listen rule keeps (>= 30 s heard or played to its end), each exactly once.
"""

from __future__ import annotations

from datetime import timedelta

from listory_pipeline.history import resolve, steps
from listory_pipeline.landing.history import HistoryLanding
from listory_pipeline.spotify.simulator.export import export_entries, write_extended_export
from tests.conftest import SIMULATOR_NOW
from tests.integration.conftest import USER_ID

WINDOW_START = SIMULATOR_NOW - timedelta(days=21)


def _landing(home) -> HistoryLanding:
    return HistoryLanding(home.settings.landing_dir)


def _write_export(home, tmp_path, *, end=SIMULATOR_NOW, variant="2025"):
    entries, extras = export_entries(home.simulator, USER_ID, WINDOW_START, end, variant=variant)
    return write_extended_export(entries, tmp_path / f"export-{variant}.zip", variant=variant), extras


def _import(home, path, **kwargs):
    landed = steps.land_export(_landing(home), [path], user_id=USER_ID, now=SIMULATOR_NOW, **kwargs)
    loaded = steps.load_history(home.warehouse_path, _landing(home), USER_ID, lock_wait_seconds=10)
    return landed, loaded


def _expected(home, crawled: set[tuple[str, int]]) -> set[tuple[str, int]]:
    """(track id, played_at in whole seconds) of every listen the warehouse must hold."""
    listener = home.simulator.listener(USER_ID)
    tracks = home.simulator.catalog.tracks
    expected = set(crawled)
    for play in listener.timeline(int(WINDOW_START.timestamp() * 1000), int(SIMULATOR_NOW.timestamp() * 1000)):
        track = tracks[play.track_index]
        if play.ms_played >= 30_000 or play.ms_played == track.duration_ms:
            expected.add((track.id, play.played_at_ms // 1000))
    return expected


def _stored(home) -> list[tuple[str, int]]:
    return [
        (track_id, int(epoch))
        for track_id, epoch in home.query(
            "select track_id, floor(epoch(played_at)) from core.listens where user_id = ?", [USER_ID]
        )
    ]


def _crawled(home) -> set[tuple[str, int]]:
    rows = home.query(
        "select track_id, floor(epoch(played_at)) from core.listens where user_id = ? and source = 'recently_played'",
        [USER_ID],
    )
    return {(t, int(e)) for t, e in rows}


def test_crawl_then_import_stores_every_play_once_and_keeps_ms_played(listory_home, tmp_path):
    listory_home.register()
    first = listory_home.crawl(enrich=False)
    assert first.load.new_listens == 50
    crawled = _crawled(listory_home)
    path, extras = _write_export(listory_home, tmp_path)

    landed, loaded = _import(listory_home, path)

    stored = _stored(listory_home)
    assert len(stored) == len(set(stored)), "a play is stored twice"
    assert set(stored) == _expected(listory_home, crawled)
    one = loaded.imports[0]
    assert one.listens_matched == 50  # every crawled play is in the export
    assert one.listens_new == len(stored) - 50
    # the crawled rows took the export's ms_played: time-listened reports use what was heard
    assert listory_home.query(
        "select count(*) from core.listens where source = 'recently_played' and ms_played is null"
    ) == [(0,)]
    assert landed.export.counts["incognito_dropped"] == extras.incognito_plays
    assert landed.export.counts["podcast_episodes"] == extras.podcast_episodes
    assert landed.export.counts["duplicate_rows"] >= extras.duplicates

    # Importing the same export again, and crawling the same plays again, change nothing.
    snapshot = listory_home.query("select sum(hash(track_id, played_at, ms_played)) from core.listens")
    again, reloaded = _import(listory_home, path)
    assert not again.new and reloaded.imports == []
    assert listory_home.crawl(enrich=False).load.new_listens == 0
    assert listory_home.query("select sum(hash(track_id, played_at, ms_played)) from core.listens") == snapshot


def test_import_then_crawl_stores_the_same_listens(listory_home, tmp_path):
    listory_home.register()
    path, _ = _write_export(listory_home, tmp_path, variant="legacy")
    _import(listory_home, path)
    imported = set(_stored(listory_home))

    crawl = listory_home.crawl(enrich=False)

    stored = _stored(listory_home)
    assert len(stored) == len(set(stored))
    # Only crawled plays the export counted as skips (too short) are new listens.
    assert crawl.load.new_listens == len(set(stored) - imported)
    assert set(stored) == _expected(listory_home, _crawled(listory_home))
    short_crawled = listory_home.query(
        "select count(*) from core.listens l join core.skipped_plays s using (user_id, track_id) "
        "where l.source = 'recently_played' and abs(epoch(l.played_at) - epoch(s.played_at)) < 1"
    )[0][0]
    assert crawl.load.new_listens == short_crawled


def test_a_second_export_of_an_overlapping_period_adds_only_new_plays(listory_home, tmp_path):
    listory_home.register()
    earlier, _ = export_entries(listory_home.simulator, USER_ID, WINDOW_START, SIMULATOR_NOW - timedelta(days=7))
    first = write_extended_export(earlier, tmp_path / "first.zip")
    _import(listory_home, first)
    count_first = len(_stored(listory_home))
    path, _ = _write_export(listory_home, tmp_path, variant="2024")

    _, loaded = _import(listory_home, path)

    stored = _stored(listory_home)
    assert len(stored) == len(set(stored))
    assert set(stored) == _expected(listory_home, set())
    assert loaded.imports[0].listens_new == len(stored) - count_first


def test_imported_tracks_resolve_in_bulk_and_reports_see_them(listory_home, tmp_path):
    listory_home.register()
    path, _ = _write_export(listory_home, tmp_path)
    _import(listory_home, path)
    pending = listory_home.query("select count(*) from core.tracks where catalog_status = 'pending'")[0][0]
    assert pending > 50
    listory_home.simulator.reset_stats()

    with listory_home.client() as client:
        outcome = resolve.resolve_imported_tracks(
            listory_home.warehouse_path,
            client,
            listory_home.session(client),
            "test-app",
            user_id=USER_ID,
            max_requests=1000,
            lock_wait_seconds=10,
        )

    assert outcome.complete and outcome.resolved == pending
    assert outcome.track_requests == -(-pending // 50)
    stats = listory_home.simulator.stats()["by_endpoint"]
    assert stats.get("tracks_bulk") == outcome.track_requests and "track" not in stats
    # every imported track now has its real album and credited artists, and no stand-in is left
    assert listory_home.query(
        "select count(*) from core.tracks t where not exists (select 1 from core.track_artists a where a.track_id = t.track_id)"
    ) == [(0,)]
    assert listory_home.query("select count(*) from core.artists where is_placeholder") == [(0,)]
    assert listory_home.query("select count(*) from core.albums where is_placeholder") == [(0,)]
    assert listory_home.query("select count(*) from core.provisional_credits") == [(0,)]
    assert outcome.artists_checked > 0
    assert listory_home.query("select count(*) from core.artists where genres_checked_at is null") == [(0,)]


def test_resolution_survives_a_refused_bulk_endpoint_an_interruption_and_a_429(listory_home, tmp_path):
    listory_home.register()
    path, _ = _write_export(listory_home, tmp_path)
    _import(listory_home, path)
    pending = listory_home.query("select count(*) from core.tracks where catalog_status = 'pending'")[0][0]
    listory_home.simulator.set_faults(bulk_refused=True)
    listory_home.simulator.reset_stats()

    def run(budget):
        with listory_home.client() as client:  # a new process each time, as a new run is
            return resolve.resolve_imported_tracks(
                listory_home.warehouse_path,
                client,
                listory_home.session(client),
                "test-app",
                user_id=USER_ID,
                max_requests=budget,
                lock_wait_seconds=10,
            )

    first = run(40)  # the budget runs out: an interruption, like a killed run or a spent quota
    assert first.bulk_refused and 0 < first.resolved < pending
    assert first.pending_after == pending - first.resolved
    listory_home.simulator.set_faults(rate_limit_next=1, retry_after_seconds=3600)
    limited = run(10_000)  # Spotify says: come back in an hour
    assert limited.deferred_reason and "rate limited" in limited.deferred_reason
    assert limited.pending_after == first.pending_after
    listory_home.settings.rate_limit_pauses_path.unlink()  # the hour has passed
    last = run(10_000)

    assert last.complete and first.resolved + last.resolved == pending
    stats = listory_home.simulator.stats()["by_endpoint"]
    # One refused bulk probe, remembered across processes. Every track asked once, but for the
    # one answered 429 and those already in flight beside it (4 at a time), whose answers the
    # interrupted run did not keep.
    assert stats["tracks_bulk"] == 1
    assert pending + 1 <= stats["track"] <= pending + 4
    assert listory_home.query("select count(*) from core.provisional_credits") == [(0,)]
