"""The retry wrapper: 429 and the shared rate gate, 5xx/timeouts backoff, 401 refresh,
malformed payloads, recently-played shape, request counting."""

from __future__ import annotations

import threading
from datetime import timedelta

import httpx
import pytest

from listory_pipeline.spotify.counters import RequestCounter
from listory_pipeline.spotify.errors import (
    AuthError,
    BadPayloadError,
    RateLimitedError,
    SpotifyUnavailableError,
)
from listory_pipeline.spotify.rate_gate import RateGate
from spotify_fakes import REFRESH_TOKEN, T0, FakeClock, FakeSpotify, fake_access_token, json_response


def rate_limited(seconds: float, reason: str | None = None) -> httpx.Response:
    err = {"status": 429, "message": reason or "API rate limit exceeded"}
    return json_response(429, {"error": err}, {"Retry-After": str(seconds)})


def test_recently_played_always_limit_50_and_no_cursor():
    fake = FakeSpotify()
    fake.recently_played_body = {"items": [{"played_at": "2026-03-01T11:00:00.000Z"}], "cursors": {"after": "1"}}
    with fake.client() as client:
        session = client.user_session("alice", REFRESH_TOKEN)
        first = session.recently_played()
        session.recently_played()
    assert first == fake.recently_played_body  # verbatim
    reqs = fake.of("recently_played")
    assert len(reqs) == 2
    for req in reqs:
        assert req.url.path == "/v1/me/player/recently-played"
        assert dict(req.url.params) == {"limit": "50"}
        assert req.headers["Authorization"].startswith("Bearer access-")


@pytest.mark.parametrize(
    "response, problem",
    [
        (httpx.Response(200, content=b"<html>oops</html>", headers={"content-type": "text/html"}), "not JSON"),
        (json_response(200, [1, 2]), "JSON object"),
        (json_response(200, {"cursors": None}), "items"),
        (json_response(200, {"items": {"a": 1}}), "items"),
    ],
)
def test_malformed_recently_played_is_bad_payload(response, problem):
    fake = FakeSpotify()
    fake.script["recently_played"].append(response)
    with fake.client() as client:
        with pytest.raises(BadPayloadError) as info:
            client.user_session("alice", REFRESH_TOKEN).recently_played()
    assert info.value.endpoint == "recently_played"
    assert "recently_played" in str(info.value) and problem in str(info.value)


def test_malformed_token_answer_is_bad_payload():
    fake = FakeSpotify()
    fake.script["token"].append(json_response(200, {"token_type": "Bearer"}))
    with fake.client() as client:
        with pytest.raises(BadPayloadError, match="token"):
            client.user_session("alice", REFRESH_TOKEN).me()


def test_401_refreshes_once_and_retries_once():
    fake = FakeSpotify()
    with fake.client() as client:
        session = client.user_session("alice", REFRESH_TOKEN)
        session.recently_played()
        fake.valid_tokens.clear()  # Spotify forgot the token before its expiry
        session.recently_played()
        assert fake.token_counter == 2
        assert [r.headers["Authorization"] for r in fake.of("recently_played")] == [
            f"Bearer {fake_access_token(1)}",
            f"Bearer {fake_access_token(1)}",
            f"Bearer {fake_access_token(2)}",
        ]
        assert client.token_cache.get(session.cache_key).value == fake_access_token(2)


def test_401_after_refresh_raises_auth_error():
    fake = FakeSpotify()
    fake.reject_all_tokens = True
    with fake.client() as client:
        with pytest.raises(AuthError) as info:
            client.user_session("alice", REFRESH_TOKEN).recently_played()
    assert info.value.status == 401
    assert len(fake.of("token")) == 2 and len(fake.of("recently_played")) == 2
    assert "SeCrEt" not in str(info.value)


def test_403_on_recently_played_is_auth_error():
    fake = FakeSpotify()
    fake.script["recently_played"].append(json_response(403, {"error": {"status": 403, "message": "User not registered"}}))
    with fake.client() as client:
        with pytest.raises(AuthError, match="403"):
            client.user_session("alice", REFRESH_TOKEN).recently_played()


def test_429_short_waits_retry_after_then_retries():
    fake, clock = FakeSpotify(), FakeClock()
    fake.script["recently_played"].append(rate_limited(2))
    with fake.client(clock) as client:
        body = client.user_session("alice", REFRESH_TOKEN).recently_played()
        assert body["items"] == []
        assert clock.sleeps == [2.0]
        assert client.counter.by_endpoint_outcome()["recently_played"] == {"429": 1, "ok": 1}


def test_429_blocks_every_other_request_of_the_client():
    """Frozen clock: the other session's request, made 'at the same moment', waits too."""
    fake, clock = FakeSpotify(), FakeClock(advance=False)
    with fake.client(clock) as client:
        alice = client.user_session("alice", REFRESH_TOKEN)
        bob = client.user_session("bob", "bob-refresh")
        alice.me()
        bob.me()
        fake.script["recently_played"].append(rate_limited(2))
        alice.recently_played()
        assert clock.sleeps == [2.0]
        bob.recently_played()  # no 429 of its own, still waits for the gate
        assert clock.sleeps == [2.0, 2.0]
        assert client.rate_gate.status().blocked


def test_429_shared_gate_holds_a_concurrent_thread():
    """Real threads: while one request sleeps out its 429, another thread's request waits."""
    fake = FakeSpotify()
    clock = FakeClock()
    release = threading.Event()
    slept = []

    def gate_sleep(seconds: float) -> None:  # the gate's sleep blocks until released
        slept.append((threading.current_thread().name, seconds))
        release.wait(5)

    gate = RateGate(sleep=gate_sleep, now=clock.now)
    fake.script["recently_played"].append(rate_limited(2))
    with fake.client(clock, rate_gate=gate) as client:
        alice = client.user_session("alice", REFRESH_TOKEN)
        bob = client.user_session("bob", "bob-refresh")
        alice.me(), bob.me()
        t1 = threading.Thread(target=alice.recently_played, name="alice")
        t1.start()
        for _ in range(500):
            if slept:
                break
            threading.Event().wait(0.001)
        t2 = threading.Thread(target=bob.recently_played, name="bob")
        t2.start()
        for _ in range(500):
            if len(slept) == 2:
                break
            threading.Event().wait(0.001)
        assert len(fake.of("recently_played")) == 1  # bob has not been let through
        release.set()
        t1.join(5), t2.join(5)
    assert sorted(name for name, _ in slept) == ["alice", "bob"]
    assert all(s == pytest.approx(2.0) for _, s in slept)
    assert len(fake.of("recently_played")) == 3


def test_429_quota_exceeded_raises_without_sleeping():
    fake, clock = FakeSpotify(), FakeClock()
    fake.script["recently_played"].append(rate_limited(7200, "QUOTA_EXCEEDED"))
    with fake.client(clock) as client:
        session = client.user_session("alice", REFRESH_TOKEN)
        with pytest.raises(RateLimitedError) as info:
            session.recently_played()
        err = info.value
        assert err.reason == "QUOTA_EXCEEDED"
        assert err.retry_after_seconds == 7200
        assert err.retry_at == T0 + timedelta(hours=2)
        assert err.endpoint == "recently_played"
        assert clock.sleeps == []
        # the whole client now refuses, without a request, until retry_at
        before = len(fake.requests)
        with pytest.raises(RateLimitedError) as again:
            client.user_session("bob", "bob-refresh").recently_played()
        assert again.value.retry_at == T0 + timedelta(hours=2)
        assert len(fake.requests) == before and clock.sleeps == []
        clock.tick(7200)
        assert session.recently_played()["items"] == []


def test_quota_reason_from_error_reason_field():
    fake = FakeSpotify()
    fake.script["artists_bulk"].append(
        json_response(429, {"error": {"status": 429, "message": "x", "reason": "QUOTA_EXCEEDED"}}, {"Retry-After": "3600"})
    )
    with fake.client() as client:
        with pytest.raises(RateLimitedError) as info:
            client.user_session("alice", REFRESH_TOKEN).artists(["a"])
    assert info.value.reason == "QUOTA_EXCEEDED" and info.value.endpoint == "artists_bulk"


def test_429_forever_is_bounded():
    fake, clock = FakeSpotify(), FakeClock()
    for _ in range(10):
        fake.script["me"].append(rate_limited(1))
    with fake.client(clock, max_attempts=3) as client:
        with pytest.raises(RateLimitedError):
            client.user_session("alice", REFRESH_TOKEN).me()
    assert len(fake.of("me")) == 3


def test_5xx_thrice_then_ok_backs_off_growing_and_bounded():
    fake, clock = FakeSpotify(), FakeClock()
    for status in (500, 502, 503):
        fake.script["recently_played"].append(httpx.Response(status))
    with fake.client(clock, backoff_base_seconds=3, backoff_max_seconds=8) as client:
        assert client.user_session("alice", REFRESH_TOKEN).recently_played()["items"] == []
        assert clock.sleeps == [3, 6, 8]  # MaxRandom: the jitter's upper bound, capped at 8
        assert client.counter.by_endpoint_outcome()["recently_played"] == {"500": 1, "502": 1, "503": 1, "ok": 1}


def test_backoff_uses_full_jitter():
    fake, clock = FakeSpotify(), FakeClock()
    for _ in range(3):
        fake.script["me"].append(httpx.Response(503))
    import random

    with fake.client(clock, rng=random.Random(7)) as client:
        client.user_session("alice", REFRESH_TOKEN).me()
    assert len(clock.sleeps) == 3
    for n, s in enumerate(clock.sleeps, start=1):
        assert 0 <= s <= 0.5 * 2 ** (n - 1)


def test_5xx_forever_raises_unavailable_after_max_attempts():
    fake, clock = FakeSpotify(), FakeClock()
    for _ in range(10):
        fake.script["recently_played"].append(httpx.Response(503))
    with fake.client(clock, max_attempts=4) as client:
        with pytest.raises(SpotifyUnavailableError) as info:
            client.user_session("alice", REFRESH_TOKEN).recently_played()
    assert info.value.attempts == 4 and "HTTP 503" in info.value.last_cause
    assert "4 attempt" in str(info.value)
    assert len(fake.of("recently_played")) == 4
    assert len(clock.sleeps) == 3


@pytest.mark.parametrize(
    "exc, outcome",
    [
        (httpx.ReadTimeout("timed out"), "timeout"),
        (httpx.ConnectTimeout("timed out"), "timeout"),
        (httpx.ConnectError("connection refused"), "connection_error"),
        (httpx.RemoteProtocolError("server disconnected"), "connection_error"),
    ],
)
def test_timeouts_and_connection_errors(exc, outcome):
    fake, clock = FakeSpotify(), FakeClock()
    fake.script["recently_played"].extend([exc, exc])
    with fake.client(clock) as client:
        session = client.user_session("alice", REFRESH_TOKEN)
        session.recently_played()  # two failures, then ok
        assert client.counter.by_endpoint_outcome()["recently_played"] == {outcome: 2, "ok": 1}
        fake.script["recently_played"].extend([exc] * 4)
        with pytest.raises(SpotifyUnavailableError) as info:
            session.recently_played()
    assert info.value.attempts == 4
    assert outcome.split("_")[0] in info.value.last_cause


def test_token_requests_are_retried_too():
    fake, clock = FakeSpotify(), FakeClock()
    fake.script["token"].extend([httpx.Response(503), httpx.ConnectError("boom")])
    with fake.client(clock) as client:
        client.user_session("alice", REFRESH_TOKEN).me()
        assert client.counter.by_endpoint_outcome()["token"] == {"503": 1, "connection_error": 1, "ok": 1}


def test_request_counting_by_endpoint_outcome_and_per_session():
    fake, clock = FakeSpotify({"artists": {"a": {"id": "a"}}, "albums": {}, "tracks": {}}), FakeClock()
    fake.script["recently_played"].append(httpx.Response(503))
    counter = RequestCounter()
    with fake.client(clock, counter=counter) as client:
        assert client.counter is counter
        alice = client.user_session("alice", REFRESH_TOKEN)
        alice.recently_played()
        alice.artists(["a"])
        bob = client.user_session("bob", "bob-refresh")
        before = counter.snapshot()
        bob.recently_played()
    assert counter.snapshot() == {"total": 6, "token": 2, "recently_played": 3, "artists_bulk": 1}
    assert counter.by_outcome() == {"ok": 5, "503": 1}
    assert alice.counter.snapshot() == {"total": 4, "token": 1, "recently_played": 2, "artists_bulk": 1}
    assert bob.counter.snapshot() == {"total": 2, "token": 1, "recently_played": 1}
    assert counter.diff(before) == {"total": 2, "token": 1, "recently_played": 1}


def test_explicit_timeout_on_the_http_client():
    fake = FakeSpotify()
    with fake.client(timeout=3.5) as client:
        assert client._http.timeout == httpx.Timeout(3.5)
