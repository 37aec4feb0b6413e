"""Same seed, same world in every process; another seed, another world."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

from listory_pipeline.spotify.simulator import Simulator, SimulatorConfig
from listory_pipeline.spotify.simulator.catalog import build_catalog, is_valid_id

T = datetime(2026, 11, 20, 12, tzinfo=timezone.utc)


def _day_of_plays(sim: Simulator, user_id: str) -> list:
    return sim.ground_truth(user_id, T - timedelta(days=3), T)


def test_same_seed_gives_same_users_catalog_and_plays():
    a, b = Simulator(SimulatorConfig(seed=7)), Simulator(SimulatorConfig(seed=7))
    assert a.users() == b.users()
    assert [t.id for t in a.catalog.tracks[:100]] == [t.id for t in b.catalog.tracks[:100]]
    for user in a.users():
        assert _day_of_plays(a, user.user_id) == _day_of_plays(b, user.user_id)
        assert a.refresh_token_for(user.user_id) == b.refresh_token_for(user.user_id)


def test_other_seed_gives_other_catalog_and_plays():
    a, b = Simulator(SimulatorConfig(seed=1)), Simulator(SimulatorConfig(seed=2))
    assert [u.user_id for u in a.users()] == [u.user_id for u in b.users()]  # names are stable
    assert a.catalog.tracks[0].id != b.catalog.tracks[0].id
    assert not {t.id for t in a.catalog.artists} & {t.id for t in b.catalog.artists}
    assert _day_of_plays(a, "sim-alice") != _day_of_plays(b, "sim-alice")
    assert a.refresh_token_for("sim-alice") != b.refresh_token_for("sim-alice")


def test_users_have_fixed_names_then_numbered_ids_and_varied_places():
    users = Simulator(SimulatorConfig(n_users=32, n_artists=300, n_albums=600, n_tracks=4000)).users()
    assert [u.user_id for u in users[:3]] == ["sim-alice", "sim-bruno", "sim-chiara"]
    assert users[31].user_id == "sim-listener-0032"
    assert len({u.user_id for u in users}) == 32
    assert len({u.timezone for u in users}) >= 10
    assert all(u.country and len(u.country) == 2 for u in users)


def test_catalog_ids_are_spotify_shaped_unique_and_reversible():
    catalog = build_catalog(42)
    ids = [e.id for e in (*catalog.artists, *catalog.albums, *catalog.tracks)]
    assert all(is_valid_id(i) for i in ids)
    assert len(set(ids)) == len(ids)
    track = catalog.tracks[12345]
    assert catalog.track(track.id) is track
    assert catalog.album(catalog.albums[17].id).index == 17
    assert catalog.artist(catalog.artists[99].id).index == 99
    assert catalog.track(catalog.albums[17].id) is None  # ids are per kind


def test_catalog_looks_like_a_music_catalog():
    catalog = build_catalog(42)
    assert (len(catalog.artists), len(catalog.albums), len(catalog.tracks)) == (3000, 6000, 40000)
    no_genre = sum(1 for a in catalog.artists if not a.genres) / len(catalog.artists)
    assert 0.10 < no_genre < 0.20
    assert all(len(a.genres) <= 4 for a in catalog.artists)
    assert len({g for a in catalog.artists for g in a.genres}) > 80
    multi = sum(1 for t in catalog.tracks if len(t.artist_indexes) > 1) / len(catalog.tracks)
    assert 0.08 < multi < 0.25
    assert all(1 <= len(t.artist_indexes) <= 3 for t in catalog.tracks)
    assert all(90_000 <= t.duration_ms < 421_000 for t in catalog.tracks)
    assert {a.album_type for a in catalog.albums} == {"album", "single", "compilation"}
    assert sum(len(a.track_indexes) for a in catalog.albums) == len(catalog.tracks)
    # Zipf-like: the 5% most popular artists are far more popular than the median one.
    pops = sorted((a.popularity for a in catalog.artists), reverse=True)
    assert pops[len(pops) // 20] > pops[len(pops) // 2] + 15


def test_catalog_builds_quickly_for_a_new_seed():
    started = time.perf_counter()
    build_catalog(987654)
    assert time.perf_counter() - started < 2.0  # ~0.3 s here; each run process pays it
