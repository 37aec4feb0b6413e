"""Token grants, the token cache, refresh-token rotation, revocation, PKCE helpers."""

from __future__ import annotations

import base64
import hashlib
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from listory_pipeline.spotify.auth import (
    AccessToken,
    InMemoryTokenCache,
    SpotifyApp,
    TokenCache,
    authorize_url,
    make_pkce_pair,
)
from listory_pipeline.spotify.errors import AuthError, AuthRevokedError
from spotify_fakes import APP, CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN, T0, FakeClock, FakeSpotify, json_response


def form_of(request: httpx.Request) -> dict[str, str]:
    return dict(httpx.QueryParams(request.content.decode()))


def test_refresh_grant_uses_basic_auth_and_refresh_token():
    fake = FakeSpotify()
    with fake.client() as client:
        client.user_session("alice", REFRESH_TOKEN).recently_played()
    (req,) = fake.of("token")
    assert req.method == "POST" and str(req.url) == "https://accounts.test/api/token"
    assert form_of(req) == {"grant_type": "refresh_token", "refresh_token": REFRESH_TOKEN}
    expected = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
    assert req.headers["Authorization"] == f"Basic {expected}"


def test_public_client_sends_client_id_in_form():
    fake = FakeSpotify()
    with fake.client(app=SpotifyApp(CLIENT_ID, None, api_url=APP.api_url, accounts_url=APP.accounts_url)) as client:
        client.user_session("alice", REFRESH_TOKEN).me()
    (req,) = fake.of("token")
    assert "Authorization" not in req.headers
    assert form_of(req)["client_id"] == CLIENT_ID


def test_second_session_within_the_hour_asks_no_new_token():
    fake, clock = FakeSpotify(), FakeClock()
    with fake.client(clock) as client:
        client.user_session("alice", REFRESH_TOKEN).recently_played()
        clock.tick(30 * 60)
        client.user_session("alice", REFRESH_TOKEN).recently_played()
        assert len(fake.of("token")) == 1
        cached = client.token_cache.get(f"user:{CLIENT_ID}:alice")
        assert cached is not None and cached.expires_at == T0 + timedelta(seconds=3600)
        # less than 60 s before expiry: a new token
        clock.tick(29 * 60 + 1)
        client.user_session("alice", REFRESH_TOKEN).recently_played()
        assert len(fake.of("token")) == 2
        # other user: own token
        client.user_session("bob", "bob-refresh").recently_played()
        assert len(fake.of("token")) == 3


def test_shared_cache_between_clients():
    fake, cache = FakeSpotify(), InMemoryTokenCache()
    assert isinstance(cache, TokenCache)
    with fake.client(token_cache=cache) as c1:
        c1.user_session("alice", REFRESH_TOKEN).me()
    with fake.client(token_cache=cache) as c2:
        c2.user_session("alice", REFRESH_TOKEN).me()
    assert len(fake.of("token")) == 1


def test_new_refresh_token_is_handed_to_callback_and_used_next_time():
    fake, clock = FakeSpotify(), FakeClock()
    fake.new_refresh_token = "rotated-refresh"
    seen = []
    with fake.client(clock) as client:
        session = client.user_session("alice", REFRESH_TOKEN, on_new_refresh_token=lambda u, t: seen.append((u, t)))
        session.recently_played()
        assert seen == [("alice", "rotated-refresh")]
        clock.tick(3600)
        fake.new_refresh_token = None  # no new one: keep the rotated one
        session.recently_played()
    assert form_of(fake.of("token")[1])["refresh_token"] == "rotated-refresh"
    assert seen == [("alice", "rotated-refresh")]


def test_no_refresh_token_in_answer_means_no_callback():
    fake = FakeSpotify()
    seen = []
    with fake.client() as client:
        client.user_session("alice", REFRESH_TOKEN, on_new_refresh_token=lambda u, t: seen.append(t)).me()
    assert seen == []


def test_invalid_grant_raises_auth_revoked():
    fake = FakeSpotify()
    fake.script["token"].append(
        json_response(400, {"error": "invalid_grant", "error_description": f"Invalid refresh token {REFRESH_TOKEN}"})
    )
    with fake.client() as client:
        with pytest.raises(AuthRevokedError) as info:
            client.user_session("alice", REFRESH_TOKEN).recently_played()
    assert info.value.user_id == "alice"
    assert REFRESH_TOKEN not in str(info.value)
    assert len(fake.requests) == 1  # not retried, no API call


def test_invalid_client_raises_auth_error_without_secrets():
    fake = FakeSpotify()
    fake.script["token"].append(
        json_response(400, {"error": "invalid_client", "error_description": f"bad secret {CLIENT_SECRET}"})
    )
    with fake.client() as client:
        with pytest.raises(AuthError) as info:
            client.user_session("alice", REFRESH_TOKEN).me()
    assert not isinstance(info.value, AuthRevokedError)
    assert info.value.error_code == "invalid_client"
    assert CLIENT_SECRET not in str(info.value) and "invalid_client" in str(info.value)


def test_app_session_uses_client_credentials_and_app_key():
    fake = FakeSpotify({"artists": {"a": {"id": "a", "name": "A"}}, "albums": {}, "tracks": {}})
    with fake.client() as client:
        assert client.app_session().artists(["a"]).items == [{"id": "a", "name": "A"}]
        client.app_session().artists(["a"])
        assert client.token_cache.get(f"app:{CLIENT_ID}") is not None
    (req,) = fake.of("token")
    assert form_of(req) == {"grant_type": "client_credentials"}


def test_client_credentials_need_a_secret():
    fake = FakeSpotify()
    with fake.client(app=SpotifyApp(CLIENT_ID, None, api_url=APP.api_url, accounts_url=APP.accounts_url)) as client:
        with pytest.raises(AuthError):
            client.app_session().artists(["a"])
    assert fake.requests == []


def test_exchange_code_with_pkce():
    fake = FakeSpotify()
    verifier, _ = make_pkce_pair()
    with fake.client() as client:
        token = client.exchange_code("the-code", "http://127.0.0.1:8765/callback", verifier)
        assert token.refresh_token == "first-refresh-token"
        assert client.current_user(token)["id"] == "alice"
    form = form_of(fake.of("token")[0])
    assert form == {
        "grant_type": "authorization_code",
        "code": "the-code",
        "redirect_uri": "http://127.0.0.1:8765/callback",
        "code_verifier": verifier,
    }


def test_pkce_pair_is_s256():
    verifier, challenge = make_pkce_pair()
    assert 43 <= len(verifier) <= 128
    digest = hashlib.sha256(verifier.encode()).digest()
    assert challenge == base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    assert make_pkce_pair()[0] != verifier


def test_authorize_url():
    url = authorize_url(APP, "http://127.0.0.1:8765/callback", "st4te", "chal", ["user-read-recently-played"])
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == "https://accounts.test/authorize"
    q = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert q == {
        "client_id": CLIENT_ID,
        "response_type": "code",
        "redirect_uri": "http://127.0.0.1:8765/callback",
        "state": "st4te",
        "code_challenge_method": "S256",
        "code_challenge": "chal",
        "scope": "user-read-recently-played",
    }
    assert CLIENT_SECRET not in url
    with pytest.raises(ValueError, match="127.0.0.1"):
        authorize_url(APP, "http://localhost:8765/callback", "s", "c", [])


def test_access_token_freshness_margin():
    token = AccessToken("v", T0 + timedelta(seconds=3600))
    assert token.is_fresh(T0 + timedelta(seconds=3539))
    assert not token.is_fresh(T0 + timedelta(seconds=3540))
