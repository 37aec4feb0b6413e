"""The Spotify client over real HTTP against the simulator: tokens, catalog, retries, errors.

Every test builds its own client with tiny backoffs, so faults cost milliseconds; only
the 429 test waits (the Retry-After of one second it must honour).
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pytest
from cryptography.fernet import Fernet

from listory_pipeline.spotify.client import SpotifyClient
from listory_pipeline.spotify.errors import AuthRevokedError, RateLimitedError, SpotifyUnavailableError
from listory_pipeline.users.crypto import SecretBox
from listory_pipeline.users.token_cache import EncryptedTokenCache
from tests.conftest import SIMULATOR_NOW
from tests.integration.conftest import USER_ID, assert_no_secrets, simulator_app


def make_client(server, **overrides) -> SpotifyClient:
    options = {
        "timeout": 5.0,
        "backoff_base_seconds": 0.01,
        "backoff_max_seconds": 0.05,
        "max_inline_wait_seconds": 5.0,
    }
    options.update(overrides)
    return SpotifyClient(simulator_app(server), **options)


def secrets_of(server, client: SpotifyClient, *refresh_tokens: str) -> list[str | None]:
    """Everything that must never show in an error: client secret, refresh and access tokens."""
    cached = client.token_cache.get(client.user_cache_key(USER_ID))
    return [server.simulator.config.client_secret, *refresh_tokens, cached.value if cached else None]


def played_at(item: dict) -> datetime:
    return datetime.fromisoformat(item["played_at"])


@pytest.fixture
def sim(simulator_server):
    return simulator_server.simulator


@pytest.fixture
def refresh_token(sim) -> str:
    return sim.refresh_token_for(USER_ID)


def some_artist_ids(sim, count: int, offset: int = 0) -> list[str]:
    return [artist.id for artist in sim.catalog.artists[offset : offset + count]]


# -- tokens and recently played ----------------------------------------------------------


def test_refresh_grant_then_recently_played_gives_the_newest_50_plays(simulator_server, sim, refresh_token):
    with make_client(simulator_server) as client:
        body = client.user_session(USER_ID, refresh_token).recently_played()

    truth = sim.ground_truth(USER_ID, SIMULATOR_NOW - timedelta(days=30), SIMULATOR_NOW)
    newest_50 = sorted(truth, reverse=True)[:50]
    assert len(body["items"]) == 50
    assert sorted(((played_at(i), i["track"]["id"]) for i in body["items"]), reverse=True) == newest_50
    assert sim.stats()["by_endpoint"] == {"token": 1, "recently_played": 1}


def test_a_cached_access_token_serves_the_next_crawl_with_one_request(simulator_server, sim, refresh_token, tmp_path):
    box = SecretBox(Fernet.generate_key())
    cache_path = tmp_path / "token-cache.sqlite"

    with make_client(simulator_server, token_cache=EncryptedTokenCache(cache_path, box)) as first:
        first.user_session(USER_ID, refresh_token).recently_played()
    assert sim.stats()["by_endpoint"] == {"token": 1, "recently_played": 1}

    sim.reset_stats()
    with make_client(simulator_server, token_cache=EncryptedTokenCache(cache_path, box)) as second:
        body = second.user_session(USER_ID, refresh_token).recently_played()
    assert len(body["items"]) == 50
    assert sim.stats()["total"] == 1
    assert sim.stats()["by_endpoint"] == {"recently_played": 1}
    # At rest the token is encrypted: the raw value is nowhere in the cache file.
    token = EncryptedTokenCache(cache_path, box).get(second.user_cache_key(USER_ID))
    assert token is not None and token.value.encode() not in cache_path.read_bytes()


# -- catalog -------------------------------------------------------------------------------


def test_artists_come_in_bulk_chunks_of_50_when_the_app_may(simulator_server, sim, refresh_token):
    ids = some_artist_ids(sim, 120)
    with make_client(simulator_server) as client:
        result = client.user_session(USER_ID, refresh_token).artists(ids)
        assert client.bulk_allowed("artists") is True

    assert [a["id"] for a in result] == ids
    assert all(isinstance(a["genres"], list) for a in result)
    assert result.missing_ids == [] and result.deferred_ids == []
    # 120 ids: 50 + 50 + 20 (the simulator answers 400 to more than 50 ids, which would show as singles)
    assert sim.stats()["by_endpoint"] == {"token": 1, "artists_bulk": 3}
    assert sim.stats()["by_status"] == {"200": 4}


def test_a_refused_bulk_endpoint_falls_back_to_single_items_and_is_not_asked_again(
    simulator_server, sim, refresh_token
):
    sim.set_faults(bulk_refused=True)
    first_ids, later_ids = some_artist_ids(sim, 60), some_artist_ids(sim, 10, offset=100)
    with make_client(simulator_server) as client:
        session = client.user_session(USER_ID, refresh_token)
        first = session.artists(first_ids)
        assert sim.stats()["by_endpoint"] == {"token": 1, "artists_bulk": 1, "artist": 60}
        assert sim.stats()["by_status"]["403"] == 1
        assert client.bulk_refused_kinds == frozenset({"artists"})

        sim.reset_stats()
        later = session.artists(later_ids)

    assert sorted(a["id"] for a in first) == sorted(first_ids)
    assert all(isinstance(a["genres"], list) for a in first)
    assert sorted(a["id"] for a in later) == sorted(later_ids)
    assert sim.stats()["by_endpoint"] == {"artist": 10}


def test_artists_without_genres_are_returned_as_is(simulator_server, sim, refresh_token):
    sim.set_faults(genres_missing=True)
    with make_client(simulator_server) as client:
        session = client.user_session(USER_ID, refresh_token)
        bulk = session.artists(some_artist_ids(sim, 5))
        client.remember_bulk_refused("artists")
        single = session.artists(some_artist_ids(sim, 3, offset=10))

    assert len(bulk) == 5 and len(single) == 3
    for artist in [*bulk, *single]:
        assert "genres" not in artist and artist["name"]
    assert bulk.missing_ids == [] and single.missing_ids == []


# -- rate limits ---------------------------------------------------------------------------


def test_a_429_is_waited_out_and_the_request_then_succeeds(simulator_server, sim, refresh_token):
    with make_client(simulator_server) as client:
        session = client.user_session(USER_ID, refresh_token)
        session.me()  # the access token first, so the timing below is the API call alone
        sim.set_faults(rate_limit_next=1, retry_after_seconds=1)
        started = time.monotonic()
        body = session.recently_played()
        waited = time.monotonic() - started

    assert len(body["items"]) == 50
    assert waited >= 1.0
    assert sim.stats()["by_status"].get("429") == 1
    assert sim.stats()["by_endpoint"]["recently_played"] == 2


def test_quota_exceeded_fails_fast_and_closes_the_gate_for_the_client(simulator_server, sim, refresh_token):
    sim.set_faults(rate_limit_next=1, retry_after_seconds=7200, quota_exceeded=True)
    with make_client(simulator_server) as client:
        session = client.user_session(USER_ID, refresh_token)
        started = time.monotonic()
        with pytest.raises(RateLimitedError) as first:
            session.recently_played()
        elapsed = time.monotonic() - started
        expected_retry_at = datetime.now(timezone.utc) + timedelta(hours=2)

        assert elapsed < 1.0  # no sleeping through two hours
        assert first.value.reason == "QUOTA_EXCEEDED"
        assert abs((first.value.retry_at - expected_retry_at).total_seconds()) < 60
        assert sim.stats()["by_status"].get("429") == 1

        sim.reset_stats()
        with pytest.raises(RateLimitedError) as second:
            session.recently_played()
        with pytest.raises(RateLimitedError):
            client.user_session("sim-bruno", sim.refresh_token_for("sim-bruno")).artists(some_artist_ids(sim, 2))
        assert sim.stats()["total"] == 0  # refused without reaching Spotify
        assert abs((second.value.retry_at - first.value.retry_at).total_seconds()) < 1
        secrets = secrets_of(simulator_server, client, refresh_token, sim.refresh_token_for("sim-bruno"))
    for exc in (first.value, second.value):
        assert_no_secrets(exc, secrets)


# -- server errors and timeouts ------------------------------------------------------------


def test_two_server_errors_are_retried_and_the_request_succeeds(simulator_server, sim, refresh_token):
    sim.set_faults(server_error_next=2)
    with make_client(simulator_server) as client:
        body = client.user_session(USER_ID, refresh_token).recently_played()

    assert len(body["items"]) == 50
    stats = sim.stats()
    assert stats["by_endpoint"] == {"token": 1, "recently_played": 3}
    assert stats["by_status"] == {"200": 2, "500": 1, "502": 1}


def test_persistent_server_errors_give_spotify_unavailable_after_max_attempts(simulator_server, sim, refresh_token):
    sim.set_faults(server_error_next=10)
    with make_client(simulator_server, max_attempts=3) as client:
        with pytest.raises(SpotifyUnavailableError) as failure:
            client.user_session(USER_ID, refresh_token).recently_played()
        secrets = secrets_of(simulator_server, client, refresh_token)

    assert failure.value.attempts == 3
    assert failure.value.endpoint == "recently_played"
    assert sim.stats()["by_endpoint"] == {"token": 1, "recently_played": 3}
    assert_no_secrets(failure.value, secrets)


def test_answers_slower_than_the_timeout_are_retried_then_give_spotify_unavailable(
    simulator_server, sim, refresh_token
):
    with make_client(simulator_server, timeout=0.3, max_attempts=2) as client:
        session = client.user_session(USER_ID, refresh_token)
        session.me()  # the access token first (the slow answers below are API calls only)
        sim.set_faults(slow_seconds=0.6, slow_next=-1)
        started = time.monotonic()
        with pytest.raises(SpotifyUnavailableError) as failure:
            session.recently_played()
        elapsed = time.monotonic() - started
        secrets = secrets_of(simulator_server, client, refresh_token)
        counted = client.counter.by_endpoint_outcome()

    assert failure.value.attempts == 2
    assert "timeout" in failure.value.last_cause.lower()
    assert 0.6 <= elapsed < 2.0
    assert "recently_played" in str(failure.value)
    assert counted["recently_played"] == {"timeout": 2}  # both attempts counted as timeouts
    assert_no_secrets(failure.value, secrets)


# -- auth ----------------------------------------------------------------------------------


def test_a_revoked_user_gives_auth_revoked(simulator_server, sim, refresh_token):
    with make_client(simulator_server) as client:
        session = client.user_session(USER_ID, refresh_token)
        session.recently_played()  # a live access token is cached
        sim.revoke(USER_ID)
        with pytest.raises(AuthRevokedError) as failure:
            session.recently_played()
        secrets = secrets_of(simulator_server, client, refresh_token)

        # A fresh session (no cached token) is refused at the token endpoint.
        with make_client(simulator_server) as other, pytest.raises(AuthRevokedError) as fresh:
            other.user_session(USER_ID, refresh_token).recently_played()

    assert failure.value.user_id == USER_ID and fresh.value.user_id == USER_ID
    assert sim.stats()["by_status"].get("401") == 1
    assert "invalid_grant" in str(failure.value)
    assert_no_secrets(failure.value, secrets)
    assert_no_secrets(fresh.value, secrets)


def test_a_rotated_refresh_token_is_handed_over_and_accepted(simulator_server, sim, refresh_token):
    sim.set_faults(rotate_refresh_tokens=True)
    received: list[tuple[str, str]] = []
    with make_client(simulator_server) as client:
        client.user_session(USER_ID, refresh_token, on_new_refresh_token=lambda u, t: received.append((u, t))).me()

    assert len(received) == 1
    user_id, new_token = received[0]
    assert user_id == USER_ID and new_token != refresh_token
    assert sim.user_for_refresh_token(new_token) == USER_ID
    sim.set_faults(rotate_refresh_tokens=False)
    with make_client(simulator_server) as fresh:  # no cached access token: the new refresh token is used
        assert fresh.user_session(USER_ID, new_token).me()["id"] == USER_ID
