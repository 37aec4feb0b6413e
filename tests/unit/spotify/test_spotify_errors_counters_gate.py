"""Secrets stay out of messages and reprs; errors pickle; RequestCounter and RateGate units."""

from __future__ import annotations

import logging
import pickle
import threading
import time
from datetime import timedelta

import httpx
import pytest

from listory_pipeline.spotify import errors
from listory_pipeline.spotify.auth import AccessToken, InMemoryTokenCache
from listory_pipeline.spotify.counters import RequestCounter
from listory_pipeline.spotify.errors import (
    AuthError,
    AuthRevokedError,
    BadPayloadError,
    RateLimitedError,
    SpotifyError,
    SpotifyUnavailableError,
)
from listory_pipeline.spotify.rate_gate import RateGate
from spotify_fakes import fake_access_token, APP, CLIENT_SECRET, REFRESH_TOKEN, T0, FakeClock, FakeSpotify, json_response

SECRETS = (CLIENT_SECRET, REFRESH_TOKEN, "SeCrEt")


def assert_no_secret(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"secret {secret!r} leaked into {text!r}"


def test_hierarchy():
    for cls in (
        errors.AuthRevokedError,
        errors.AuthError,
        errors.RateLimitedError,
        errors.SpotifyUnavailableError,
        errors.BadPayloadError,
        errors.BulkRefusedError,
        errors.SpotifyHTTPError,
    ):
        assert issubclass(cls, SpotifyError)


def _failures(fake: FakeSpotify) -> list[tuple[str, list]]:
    echo = f"token={REFRESH_TOKEN} secret={CLIENT_SECRET} bearer={fake_access_token(1)}"
    return [
        ("token", [json_response(400, {"error": "invalid_grant", "error_description": echo})]),
        ("token", [json_response(401, {"error": "invalid_client", "error_description": echo})]),
        ("token", [json_response(400, {"error": {"status": 400, "message": echo}})]),
        ("token", [httpx.ConnectError(echo)] * 4),
        ("recently_played", [httpx.ConnectError(echo)] * 4),
        ("recently_played", [json_response(429, {"error": {"status": 429, "message": echo}}, {"Retry-After": "9999"})]),
        ("recently_played", [httpx.Response(200, content=echo.encode())]),
        ("recently_played", [json_response(500, {"error": echo})] * 4),
    ]


@pytest.mark.parametrize("case", range(8))
def test_secrets_never_in_exception_messages(case, caplog):
    fake = FakeSpotify()
    endpoint, responses = _failures(fake)[case]
    fake.script[endpoint].extend(responses)
    caplog.set_level(logging.DEBUG, logger="listory_pipeline")
    with fake.client() as client:
        with pytest.raises(SpotifyError) as info:
            client.user_session("alice", REFRESH_TOKEN).recently_played()
    err = info.value
    assert_no_secret(str(err))
    assert_no_secret(repr(err))
    assert_no_secret(repr(err.__dict__))
    assert_no_secret(caplog.text)


def test_secrets_never_in_reprs():
    fake = FakeSpotify()
    with fake.client() as client:
        session = client.user_session("alice", REFRESH_TOKEN)
        session.me()
        token = client.token_cache.get(session.cache_key)
        for obj in (APP, client, session, client.app_session(), client.credentials, token, client.token_cache, client.counter, client.rate_gate):
            assert_no_secret(repr(obj))
            assert_no_secret(str(obj))
    assert "access-1" not in repr(token)


def test_errors_pickle_with_attributes():
    cases = [
        AuthRevokedError(user_id="alice"),
        AuthError("nope", endpoint="token", status=401, error_code="invalid_client"),
        RateLimitedError(retry_at=T0, retry_after_seconds=7200, reason="QUOTA_EXCEEDED", endpoint="me"),
        SpotifyUnavailableError(endpoint="me", attempts=4, last_cause="HTTP 503"),
        BadPayloadError(endpoint="me", problem="not JSON"),
    ]
    for err in cases:
        back = pickle.loads(pickle.dumps(err))
        assert type(back) is type(err) and str(back) == str(err) and back.__dict__ == err.__dict__
    assert "alice" in str(cases[0])
    assert "QUOTA_EXCEEDED" in str(cases[2]) and "2026-03-01T12:00:00+00:00" in str(cases[2])


def test_counter_counts_and_diff():
    c = RequestCounter()
    assert c.snapshot() == {"total": 0}
    c.record("token", "ok")
    c.record("artists_bulk", "403")
    c.record("artist", "ok")
    c.record("artist", "ok")
    before = c.snapshot()
    c.record("artist", "429")
    assert c.by_endpoint() == {"token": 1, "artists_bulk": 1, "artist": 3}
    assert c.by_outcome() == {"ok": 3, "403": 1, "429": 1}
    assert c.snapshot() == {"total": 5, "artist": 3, "artists_bulk": 1, "token": 1}
    assert c.diff(before) == {"total": 1, "artist": 1}
    assert c.counts()[("artist", "ok")] == 2


def test_counter_is_thread_safe():
    c = RequestCounter()

    def hammer():
        for _ in range(2000):
            c.record("artist", "ok")

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert c.total == 16000


def test_gate_blocks_extends_never_shortens_and_reports():
    clock = FakeClock()
    gate = RateGate(sleep=clock.sleep, now=clock.now)
    assert gate.wait() == 0 and not gate.status().blocked
    gate.block_for(5, "rate")
    gate.block_for(2, "shorter")  # ignored
    status = gate.status()
    assert status.blocked and status.remaining_seconds == 5 and status.reason == "rate"
    assert status.blocked_until == T0 + timedelta(seconds=5)
    with pytest.raises(RateLimitedError) as info:
        gate.wait(max_wait_seconds=4, endpoint="me")
    assert info.value.retry_at == T0 + timedelta(seconds=5) and clock.sleeps == []
    assert gate.wait(max_wait_seconds=60) == 5 and clock.sleeps == [5]
    assert not gate.status().blocked


def test_gate_holds_real_threads():
    gate = RateGate()
    gate.block_for(0.15)
    done = []

    def worker():
        gate.wait()
        done.append(time.monotonic())

    start = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(5)
    assert len(done) == 3 and all(d - start >= 0.14 for d in done)


def test_in_memory_token_cache():
    cache = InMemoryTokenCache()
    token = AccessToken("v", T0)
    assert cache.get("k") is None
    cache.put("k", token)
    assert cache.get("k") is token
