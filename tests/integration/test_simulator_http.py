"""The Spotify simulator over real HTTP: shapes, errors, faults, OAuth and controls."""

from __future__ import annotations

import base64
import hashlib
import time
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.conftest import SIMULATOR_NOW
from tests.support.openapi import validate

CLIENT = ("listory-simulator", "simulator-secret")
REDIRECT = "http://127.0.0.1:8899/callback"


@pytest.fixture
def http(simulator_server):
    with httpx.Client(base_url=simulator_server.base_url, timeout=10) as client:
        yield client


def _user_token(http, server, user_id="sim-alice") -> dict:
    refresh = server.simulator.refresh_token_for(user_id)
    r = http.post("/api/token", data={"grant_type": "refresh_token", "refresh_token": refresh}, auth=CLIENT)
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


@pytest.fixture
def user(http, simulator_server) -> dict:
    return _user_token(http, simulator_server)


@pytest.fixture
def some_ids(simulator_server):
    catalog = simulator_server.simulator.catalog
    return {
        "tracks": [t.id for t in catalog.tracks[:50]],
        "albums": [a.id for a in catalog.albums[:20]],
        "artists": [a.id for a in catalog.artists[:50]],
    }


# -- bodies match Spotify's OpenAPI description ---------------------------------

def test_user_endpoints_validate_against_openapi(http, user):
    me = http.get("/v1/me", headers=user)
    assert me.status_code == 200
    validate(me.json(), "PrivateUserObject")
    assert me.json()["id"] == "sim-alice"

    played = http.get("/v1/me/player/recently-played", params={"limit": 50}, headers=user)
    assert played.status_code == 200
    validate(played.json(), "CursorPagedPlayHistory")
    body = played.json()
    assert len(body["items"]) == 50 and body["limit"] == 50
    validate(body["items"][0]["track"], "TrackObject")
    assert http.get(body["next"], headers=user).json()["items"][0]["played_at"] < body["items"][-1]["played_at"]


def test_catalog_endpoints_validate_against_openapi(http, user, some_ids):
    for kind, schema in (("tracks", "TrackObject"), ("albums", "AlbumObject"), ("artists", "ArtistObject")):
        one = http.get(f"/v1/{kind}/{some_ids[kind][0]}", headers=user)
        assert one.status_code == 200
        validate(one.json(), schema)
        many = http.get(f"/v1/{kind}", params={"ids": ",".join(some_ids[kind])}, headers=user)
        assert many.status_code == 200
        validate(many.json(), {"tracks": "ManyTracks", "albums": "ManyAlbums", "artists": "ManyArtists"}[kind])
        assert [e["id"] for e in many.json()[kind]] == some_ids[kind]
    album = http.get(f"/v1/albums/{some_ids['albums'][0]}", headers=user).json()
    assert album["tracks"]["total"] == album["total_tracks"] == len(album["tracks"]["items"])
    artist = http.get(f"/v1/artists/{some_ids['artists'][0]}", headers=user).json()
    assert {"genres", "popularity", "followers", "images"} <= artist.keys()


def test_errors_validate_and_say_what_went_wrong(http, user, some_ids):
    missing = http.get("/v1/tracks/" + "0" * 22, headers=user)
    assert missing.status_code == 404
    validate(missing.json(), "NotFound")
    assert missing.json() == {"error": {"status": 404, "message": "Resource not found"}}
    assert http.get("/v1/artists/not-an-id", headers=user).status_code == 400
    validate(http.get("/v1/artists/not-an-id", headers=user).json(), "BadRequest")
    assert http.get("/v1/tracks", params={"ids": ",".join(some_ids["tracks"] + ["0" * 22])},
                    headers=user).status_code == 400  # 51 ids
    assert http.get("/v1/albums", params={"ids": ",".join(some_ids["tracks"][:21])}, headers=user).status_code == 400
    mixed = http.get("/v1/tracks", params={"ids": f"{some_ids['tracks'][0]},{'0' * 22}"}, headers=user).json()
    assert mixed["tracks"][0]["id"] == some_ids["tracks"][0] and mixed["tracks"][1] is None
    assert http.get("/v1/me/player/recently-played", params={"limit": 51}, headers=user).status_code == 400
    assert len(http.get("/v1/me/player/recently-played", headers=user).json()["items"]) == 20  # default limit


def test_api_needs_a_valid_unexpired_token(http, simulator_server, user):
    none = http.get("/v1/me")
    assert none.status_code == 401
    validate(none.json(), "Unauthorized")
    bad = http.get("/v1/me", headers={"Authorization": "Bearer nonsense"})
    assert bad.json() == {"error": {"status": 401, "message": "Invalid access token"}}
    simulator_server.simulator.clock.advance(3600)
    expired = http.get("/v1/me", headers=user)
    assert expired.json() == {"error": {"status": 401, "message": "The access token expired"}}


def test_app_token_reads_the_catalog_but_not_user_data(http, some_ids):
    r = http.post("/api/token", data={"grant_type": "client_credentials"}, auth=CLIENT)
    assert r.status_code == 200 and "refresh_token" not in r.json()
    app = {"Authorization": f"Bearer {r.json()['access_token']}"}
    assert http.get(f"/v1/artists/{some_ids['artists'][0]}", headers=app).status_code == 200
    assert http.get("/v1/me/player/recently-played", headers=app).status_code == 403


# -- fault knobs ------------------------------------------------------------------

def test_bulk_refused_forbids_only_the_several_ids_endpoints(http, simulator_server, user, some_ids):
    simulator_server.simulator.faults.bulk_refused = True
    for kind in ("tracks", "albums", "artists"):
        refused = http.get(f"/v1/{kind}", params={"ids": some_ids[kind][0]}, headers=user)
        assert refused.status_code == 403
        validate(refused.json(), "Forbidden")
        assert http.get(f"/v1/{kind}/{some_ids[kind][0]}", headers=user).status_code == 200


def test_genres_missing_drops_the_key(http, simulator_server, user, some_ids):
    simulator_server.simulator.faults.genres_missing = True
    assert "genres" not in http.get(f"/v1/artists/{some_ids['artists'][0]}", headers=user).json()
    bulk = http.get("/v1/artists", params={"ids": ",".join(some_ids["artists"][:3])}, headers=user).json()
    assert all("genres" not in a for a in bulk["artists"])


def test_rate_limit_next_answers_429_with_retry_after_then_recovers(http, simulator_server, user):
    simulator_server.simulator.set_faults(rate_limit_next=2, retry_after_seconds=7, quota_exceeded=True)
    for _ in range(2):
        r = http.get("/v1/me", headers=user)
        assert r.status_code == 429 and r.headers["Retry-After"] == "7"
        validate(r.json(), "TooManyRequests")
        assert r.json()["error"]["reason"] == "QUOTA_EXCEEDED"
    assert http.get("/v1/me", headers=user).status_code == 200
    simulator_server.simulator.set_faults(rate_limit_next=1, quota_exceeded=False)
    assert "reason" not in http.get("/v1/me", headers=user).json()["error"]


def test_server_errors_next_cycle_through_5xx_then_recover(http, simulator_server, user):
    simulator_server.simulator.faults.server_error_next = 3
    statuses = [http.get("/v1/me", headers=user).status_code for _ in range(4)]
    assert statuses == [500, 502, 503, 200]


def test_server_error_rate_fails_some_requests(http, simulator_server, user):
    simulator_server.simulator.faults.server_error_rate = 0.5
    statuses = [http.get("/v1/me", headers=user).status_code for _ in range(30)]
    assert 5 <= sum(s >= 500 for s in statuses) <= 25
    assert statuses.count(200) >= 5


def test_slow_next_delays_only_the_next_requests(http, simulator_server, user):
    simulator_server.simulator.set_faults(slow_seconds=0.4, slow_next=1)
    started = time.perf_counter()
    assert http.get("/v1/me", headers=user).status_code == 200
    assert time.perf_counter() - started >= 0.4
    started = time.perf_counter()
    http.get("/v1/me", headers=user)
    assert time.perf_counter() - started < 0.3
    with pytest.raises(httpx.ReadTimeout):
        simulator_server.simulator.set_faults(slow_seconds=0.5, slow_next=-1)
        http.get("/v1/me", headers=user, timeout=0.2)


def test_late_plays_show_up_over_http_only_after_their_lag(http, simulator_server, user):
    sim = simulator_server.simulator
    sim.set_faults(late_fraction=0.5, max_late_seconds=3600)
    plays = [p for p, _ in sim.ground_truth("sim-alice", SIMULATOR_NOW - timedelta(days=2), SIMULATOR_NOW)]
    played_at, visible_at = next((p, sim.visible_at("sim-alice", p)) for p in reversed(plays)
                                 if sim.visible_at("sim-alice", p) > p + timedelta(seconds=5))

    def seen_at(t: datetime) -> set[str]:
        http.post("/_sim/clock", json={"now": t.isoformat()})
        body = http.get("/v1/me/player/recently-played", params={"limit": 50}, headers=user).json()
        return {i["played_at"] for i in body["items"]}

    stamp = played_at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{played_at.microsecond // 1000:03d}Z"
    assert stamp not in seen_at(played_at + timedelta(seconds=1))
    assert stamp in seen_at(visible_at)


def test_out_of_order_answers_are_not_sorted(http, simulator_server, user):
    simulator_server.simulator.faults.out_of_order = True
    stamps = [i["played_at"] for i in http.get("/v1/me/player/recently-played", params={"limit": 50},
                                                headers=user).json()["items"]]
    assert stamps != sorted(stamps, reverse=True) and len(set(stamps)) == 50


def test_rotate_refresh_tokens_returns_a_new_one_and_keeps_the_old(http, simulator_server):
    sim = simulator_server.simulator
    old = sim.refresh_token_for("sim-alice")
    form = {"grant_type": "refresh_token", "refresh_token": old}
    assert "refresh_token" not in http.post("/api/token", data=form, auth=CLIENT).json()
    sim.faults.rotate_refresh_tokens = True
    new = http.post("/api/token", data=form, auth=CLIENT).json()["refresh_token"]
    assert new != old
    assert http.post("/api/token", data={**form, "refresh_token": new}, auth=CLIENT).status_code == 200
    assert http.post("/api/token", data=form, auth=CLIENT).status_code == 200


def test_faults_reach_the_token_endpoint_only_when_asked(http, simulator_server):
    sim = simulator_server.simulator
    form = {"grant_type": "refresh_token", "refresh_token": sim.refresh_token_for("sim-alice")}
    sim.set_faults(rate_limit_next=1)
    assert http.post("/api/token", data=form, auth=CLIENT).status_code == 200
    sim.set_faults(faults_apply_to_accounts=True)
    r = http.post("/api/token", data=form, auth=CLIENT)
    assert r.status_code == 429 and r.headers["Retry-After"] == "1"
    sim.set_faults(server_error_next=1)
    assert http.post("/api/token", data=form, auth=CLIENT).status_code == 500
    assert http.post("/api/token", data=form, auth=CLIENT).status_code == 200


# -- OAuth --------------------------------------------------------------------------

def _challenge(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def test_pkce_authorize_then_token_logs_in_the_chosen_user(http):
    verifier = "a-verifier-long-enough-" + "z" * 30
    params = {"client_id": CLIENT[0], "response_type": "code", "redirect_uri": REDIRECT, "state": "xyz",
              "scope": "user-read-recently-played", "code_challenge_method": "S256",
              "code_challenge": _challenge(verifier), "sim_user": "sim-chiara"}
    localhost = http.get("/authorize", params={**params, "redirect_uri": "http://localhost:8899/callback"})
    assert localhost.status_code == 400 and "localhost" in localhost.text
    r = http.get("/authorize", params=params)
    assert r.status_code == 302
    location = urlsplit(r.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT
    query = parse_qs(location.query)
    assert query["state"] == ["xyz"]
    form = {"grant_type": "authorization_code", "code": query["code"][0], "redirect_uri": REDIRECT,
            "client_id": CLIENT[0]}
    wrong = http.post("/api/token", data={**form, "code_verifier": "wrong"})
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
    ok = http.post("/api/token", data={**form, "code_verifier": verifier})  # public client: no secret
    assert ok.status_code == 200
    tokens = ok.json()
    assert tokens["token_type"] == "Bearer" and tokens["expires_in"] == 3600 and tokens["refresh_token"]
    me = http.get("/v1/me", headers={"Authorization": f"Bearer {tokens['access_token']}"}).json()
    assert me["id"] == "sim-chiara"
    again = http.post("/api/token", data={**form, "code_verifier": verifier})
    assert again.json()["error"] == "invalid_grant"


def test_bad_client_credentials_and_grants_are_refused(http, simulator_server):
    form = {"grant_type": "refresh_token", "refresh_token": simulator_server.simulator.refresh_token_for("sim-alice")}
    bad_secret = http.post("/api/token", data=form, auth=(CLIENT[0], "wrong"))
    assert bad_secret.status_code == 400 and bad_secret.json()["error"] == "invalid_client"
    assert http.post("/api/token", data={**form, "client_id": "someone-else"}).json()["error"] == "invalid_client"
    unsupported = http.post("/api/token", data={"grant_type": "password"}, auth=CLIENT)
    assert unsupported.status_code == 400 and unsupported.json()["error"] == "unsupported_grant_type"
    forged = http.post("/api/token", data={**form, "refresh_token": "AQforged.token"}, auth=CLIENT)
    assert forged.json() == {"error": "invalid_grant", "error_description": "Invalid refresh token"}
    # form-field client authentication works as well as HTTP Basic
    assert http.post("/api/token", data={**form, "client_id": CLIENT[0], "client_secret": CLIENT[1]}).status_code == 200


# -- /_sim controls ------------------------------------------------------------------

def test_sim_users_give_working_refresh_tokens(http, simulator_server):
    users = http.get("/_sim/users").json()
    assert [u["user_id"] for u in users] == [u.user_id for u in simulator_server.simulator.users()]
    assert set(users[0]) == {"user_id", "display_name", "timezone", "country", "refresh_token"}
    r = http.post("/api/token", data={"grant_type": "refresh_token", "refresh_token": users[1]["refresh_token"]},
                  auth=CLIENT)
    assert http.get("/v1/me", headers={"Authorization": f"Bearer {r.json()['access_token']}"}).json()["id"] == users[1]["user_id"]


def test_sim_clock_sets_advances_and_releases_time(http, simulator_server):
    clock = simulator_server.simulator.clock
    assert http.post("/_sim/clock", json={"now": "2026-12-01T08:00:00Z"}).status_code == 200
    assert clock.now() == datetime(2026, 12, 1, 8, tzinfo=timezone.utc)
    assert http.post("/_sim/clock", json={"advance_seconds": 90}).json()["now"] == "2026-12-01T08:01:30Z"
    http.post("/_sim/clock", json={"wall": True})
    assert abs(clock.now() - datetime.now(timezone.utc)) < timedelta(seconds=5)
    assert http.post("/_sim/clock", json={}).status_code == 400


def test_sim_faults_are_set_over_http(http, simulator_server):
    r = http.post("/_sim/faults", json={"bulk_refused": True, "rate_limit_next": 3, "server_error_rate": 0})
    assert r.status_code == 200 and r.json()["rate_limit_next"] == 3
    assert simulator_server.simulator.faults.bulk_refused is True
    assert http.get("/_sim/faults").json()["bulk_refused"] is True
    assert http.post("/_sim/faults", json={"no_such_knob": 1}).status_code == 400


def test_sim_revoke_turns_refresh_into_invalid_grant(http, simulator_server, user):
    refresh = simulator_server.simulator.refresh_token_for("sim-alice")
    assert http.post("/_sim/revoke", json={"user_id": "sim-alice"}).status_code == 200
    r = http.post("/api/token", data={"grant_type": "refresh_token", "refresh_token": refresh}, auth=CLIENT)
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"
    assert http.get("/v1/me", headers=user).status_code == 401


def test_sim_plays_is_the_ground_truth(http, simulator_server, user):
    start = SIMULATOR_NOW - timedelta(days=1)
    plays = http.get("/_sim/plays", params={"user_id": "sim-alice", "start": start.isoformat(),
                                            "end": SIMULATOR_NOW.isoformat()}).json()
    truth = simulator_server.simulator.ground_truth("sim-alice", start, SIMULATOR_NOW)
    assert [p["track_id"] for p in plays] == [t for _, t in truth] and plays
    recent = http.get("/v1/me/player/recently-played", params={"limit": 50}, headers=user).json()["items"]
    newest = [{"played_at": i["played_at"], "track_id": i["track"]["id"]} for i in recent if i["played_at"] > plays[0]["played_at"]]
    assert newest[::-1] == plays[-len(newest):]


def test_sim_stats_count_requests_by_endpoint_and_status(http, simulator_server, user, some_ids):
    http.post("/_sim/stats/reset")
    http.get("/v1/me/player/recently-played", headers=user)
    http.get(f"/v1/artists/{some_ids['artists'][0]}", headers=user)
    http.get("/v1/artists", params={"ids": some_ids["artists"][0]}, headers=user)
    http.get("/v1/tracks/" + "0" * 22, headers=user)
    stats = http.get("/_sim/stats").json()
    assert stats == {
        "by_endpoint": {"recently_played": 1, "artist": 1, "artists_bulk": 1, "track": 1},
        "by_status": {"200": 3, "404": 1},
        "total": 4,
    }
    assert http.post("/_sim/stats/reset").json()["total"] == 0
    assert simulator_server.simulator.stats()["total"] == 0


def test_run_forever_serves_and_prints_where(tmp_path):
    """`listory simulator` runs this in the foreground; it must tell the user where to point clients."""
    import subprocess
    import sys

    code = ("from listory_pipeline.spotify.simulator import run_forever, SimulatorConfig; "
            "run_forever(port=0, config=SimulatorConfig(n_users=2))")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        first = proc.stdout.readline()
        base_url = first.split()[-1]
        assert base_url.startswith("http://127.0.0.1:")
        rest = [proc.stdout.readline() for _ in range(3)]
        assert "sim-alice" in rest[1] and "sim-bruno" in rest[2]
        assert [u["user_id"] for u in httpx.get(f"{base_url}/_sim/users", timeout=5).json()] == ["sim-alice", "sim-bruno"]
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:  # seen twice in a full suite on a loaded machine, never alone
            proc.kill()
            proc.wait(timeout=10)
