"""Catalog calls: dedupe, bulk chunking, bulk refusal fallback and memory, unknown ids,
missing genres, bounded concurrency, max_requests deferral, rate limits."""

from __future__ import annotations

import threading

import httpx
import pytest

from listory_pipeline.spotify.client import CatalogResult
from listory_pipeline.spotify.errors import RateLimitedError
from spotify_fakes import REFRESH_TOKEN, FakeClock, FakeSpotify, artist, json_response


def catalog(n_artists=0, n_albums=0, n_tracks=0) -> dict:
    return {
        "artists": {f"ar{i}": artist(f"ar{i}", ["pop"]) for i in range(n_artists)},
        "albums": {f"al{i}": {"id": f"al{i}", "name": f"Album {i}"} for i in range(n_albums)},
        "tracks": {f"tr{i}": {"id": f"tr{i}", "name": f"Track {i}"} for i in range(n_tracks)},
    }


def ids_of(req: httpx.Request) -> list[str]:
    return req.url.params["ids"].split(",")


def test_120_artists_take_3_bulk_requests_of_50_50_20():
    fake = FakeSpotify(catalog(n_artists=120))
    ids = [f"ar{i}" for i in range(120)]
    with fake.client() as client:
        result = client.user_session("alice", REFRESH_TOKEN).artists(ids + ids[:10])  # duplicates
        assert client.bulk_allowed("artists") is True
    reqs = fake.of("artists_bulk")
    assert [len(ids_of(r)) for r in reqs] == [50, 50, 20]
    assert [i for r in reqs for i in ids_of(r)] == ids
    assert isinstance(result, CatalogResult)
    assert [a["id"] for a in result] == ids and len(result) == 120
    assert result.missing_ids == [] and result.deferred_ids == [] and result.requests == 3
    assert fake.of("artist") == []


def test_45_albums_take_3_bulk_requests():
    fake = FakeSpotify(catalog(n_albums=45))
    with fake.client() as client:
        result = client.user_session("alice", REFRESH_TOKEN).albums([f"al{i}" for i in range(45)])
    assert [len(ids_of(r)) for r in fake.of("albums_bulk")] == [20, 20, 5]
    assert len(result.items) == 45


def test_tracks_bulk_50_and_path():
    fake = FakeSpotify(catalog(n_tracks=51))
    with fake.client() as client:
        client.app_session().tracks([f"tr{i}" for i in range(51)])
    reqs = fake.of("tracks_bulk")
    assert [len(ids_of(r)) for r in reqs] == [50, 1]
    assert reqs[0].url.path == "/v1/tracks"


@pytest.mark.parametrize("status", [403, 404])
def test_bulk_refused_falls_back_to_single_items_and_is_remembered(status):
    fake = FakeSpotify(catalog(n_artists=60))
    fake.bulk_status["artists"] = status
    ids = [f"ar{i}" for i in range(60)]
    with fake.client() as client:
        session = client.user_session("alice", REFRESH_TOKEN)
        assert client.bulk_allowed("artists") is None
        result = session.artists(ids)
        assert [a["id"] for a in result.items] == ids
        assert len(fake.of("artists_bulk")) == 1  # refused once, the second chunk goes single
        assert len(fake.of("artist")) == 60
        assert client.bulk_allowed("artists") is False
        assert client.bulk_refused_kinds == frozenset({"artists"})
        assert client.bulk_allowed("albums") is None
        # next call (another session too) goes straight to single items
        client.app_session().artists(["ar1", "ar2"])
        assert len(fake.of("artists_bulk")) == 1
        assert len(fake.of("artist")) == 62
        assert client.counter.by_endpoint_outcome()["artists_bulk"] == {str(status): 1}
    assert "/v1/artists/ar0" in {r.url.path for r in fake.of("artist")}


def test_remember_bulk_refused_seeds_the_memory():
    fake = FakeSpotify(catalog(n_albums=2))
    with fake.client() as client:
        client.remember_bulk_refused("albums")
        client.user_session("alice", REFRESH_TOKEN).albums(["al0", "al1"])
    assert fake.of("albums_bulk") == [] and len(fake.of("album")) == 2
    with pytest.raises(ValueError):
        client.bulk_allowed("playlists")


def test_single_item_concurrency_is_bounded():
    fake = FakeSpotify(catalog(n_artists=20))
    fake.bulk_status["artists"] = 403
    barrier_hits = threading.Semaphore(0)

    def slow() -> None:
        barrier_hits.release()
        threading.Event().wait(0.01)

    fake.single_delay = slow
    with fake.client(single_item_concurrency=3) as client:
        result = client.user_session("alice", REFRESH_TOKEN).artists([f"ar{i}" for i in range(20)])
    assert len(result.items) == 20
    assert 1 < fake.max_in_flight <= 3


def test_unknown_ids_are_skipped_null_in_bulk_and_404_single():
    fake = FakeSpotify(catalog(n_artists=2))
    with fake.client() as client:
        session = client.user_session("alice", REFRESH_TOKEN)
        result = session.artists(["ar0", "nope1", "ar1"])
        assert [a["id"] for a in result.items] == ["ar0", "ar1"]
        assert result.missing_ids == ["nope1"]
        client.remember_bulk_refused("artists")
        result = session.artists(["nope2", "ar1", "nope3"])
    assert [a["id"] for a in result.items] == ["ar1"]
    assert result.missing_ids == ["nope2", "nope3"]


def test_relinked_track_is_not_missing():
    fake = FakeSpotify()
    fake.script["tracks_bulk"].append(
        json_response(200, {"tracks": [{"id": "new", "linked_from": {"id": "old"}}]})
    )
    with fake.client() as client:
        result = client.user_session("alice", REFRESH_TOKEN).tracks(["old"])
    assert result.missing_ids == [] and result.items[0]["id"] == "new"


def test_artist_without_genres_is_fine():
    cat = {"artists": {"g": artist("g", ["rock"]), "n": artist("n", with_genres=False)}, "albums": {}, "tracks": {}}
    fake = FakeSpotify(cat)
    with fake.client() as client:
        session = client.user_session("alice", REFRESH_TOKEN)
        result = session.artists(["g", "n"])
        client.remember_bulk_refused("artists")
        single = session.artists(["n"])
    assert [a.get("genres") for a in result.items] == [["rock"], None]
    assert single.items == [{"id": "n", "name": "Artist n", "type": "artist"}]


def test_bulk_400_falls_back_for_that_chunk_only():
    fake = FakeSpotify(catalog(n_artists=2))
    fake.script["artists_bulk"].append(json_response(400, {"error": {"status": 400, "message": "invalid id"}}))
    with fake.client() as client:
        result = client.user_session("alice", REFRESH_TOKEN).artists(["ar0", "bad id", "ar1"])
        assert client.bulk_allowed("artists") is None
    assert [a["id"] for a in result.items] == ["ar0", "ar1"]
    assert result.missing_ids == ["bad id"]
    assert b"/v1/artists/bad%20id" in {r.url.raw_path for r in fake.of("artist")}


def test_max_requests_defers_the_rest_bulk():
    fake = FakeSpotify(catalog(n_artists=120))
    ids = [f"ar{i}" for i in range(120)]
    with fake.client() as client:
        result = client.user_session("alice", REFRESH_TOKEN).artists(ids, max_requests=2)
    assert len(fake.of("artists_bulk")) == 2
    assert len(result.items) == 100 and result.deferred_ids == ids[100:] and result.requests == 2


def test_max_requests_defers_the_rest_single():
    fake = FakeSpotify(catalog(n_artists=10))
    fake.bulk_status["artists"] = 403
    ids = [f"ar{i}" for i in range(10)]
    with fake.client() as client:
        session = client.user_session("alice", REFRESH_TOKEN)
        result = session.artists(ids, max_requests=4)  # 1 refused bulk + 3 singles
        assert [a["id"] for a in result.items] == ids[:3]
        assert result.deferred_ids == ids[3:] and result.requests == 4
        zero = session.artists(ids, max_requests=0)
    assert zero.items == [] and zero.deferred_ids == ids and zero.requests == 0
    assert len(fake.of("artist")) == 3


def test_rate_limited_during_catalog_propagates():
    fake, clock = FakeSpotify(catalog(n_artists=10)), FakeClock()
    fake.bulk_status["artists"] = 403
    fake.script["artist"].extend(
        [json_response(429, {"error": {"status": 429, "message": "QUOTA_EXCEEDED"}}, {"Retry-After": "7200"})] * 3
    )
    with fake.client(clock, single_item_concurrency=2) as client:
        with pytest.raises(RateLimitedError) as info:
            client.user_session("alice", REFRESH_TOKEN).artists([f"ar{i}" for i in range(10)])
    assert info.value.reason == "QUOTA_EXCEEDED"
    assert clock.sleeps == []
    assert len(fake.of("artist")) < 10  # the gate stopped the other workers


def test_empty_and_string_ids():
    fake = FakeSpotify()
    with fake.client() as client:
        session = client.user_session("alice", REFRESH_TOKEN)
        assert session.tracks([]).items == []
        with pytest.raises(TypeError):
            session.tracks("tr1")
    assert fake.requests == []
