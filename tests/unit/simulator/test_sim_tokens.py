"""Tokens are stateless: any simulator with the same config accepts them."""

from __future__ import annotations

import base64
from datetime import datetime, timedelta, timezone

from listory_pipeline.spotify.simulator import Simulator, SimulatorConfig
from listory_pipeline.spotify.simulator import accounts

T = datetime(2026, 11, 20, 12, tzinfo=timezone.utc)
CONFIG = SimulatorConfig(seed=42)
REDIRECT = "http://127.0.0.1:8899/callback"


def _sim(config: SimulatorConfig = CONFIG) -> Simulator:
    sim = Simulator(config)
    sim.clock.set(T)
    return sim


def _refresh(sim: Simulator, refresh_token: str) -> tuple[int, dict]:
    status, _, body = accounts.token(
        sim, {"grant_type": "refresh_token", "refresh_token": refresh_token,
              "client_id": CONFIG.client_id, "client_secret": CONFIG.client_secret}, None)
    return status, body


def _login(sim: Simulator, user_id: str) -> str:
    verifier = "v" * 64
    status, headers, _ = accounts.authorize(sim, {
        "client_id": CONFIG.client_id, "response_type": "code", "redirect_uri": REDIRECT,
        "code_challenge_method": "S256", "code_challenge": accounts.pkce_challenge(verifier),
        "sim_user": user_id, "state": "s"})
    assert status == 302
    code = headers["Location"].split("code=")[1].split("&")[0]
    status, _, body = accounts.token(sim, {
        "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
        "client_id": CONFIG.client_id, "code_verifier": verifier}, None)
    assert status == 200, body
    return body["refresh_token"]


def test_tokens_from_one_simulator_work_in_another_with_the_same_config():
    a, b = _sim(), _sim()
    status, body = _refresh(a, a.refresh_token_for("sim-alice"))
    assert status == 200
    assert b.check_access_token(body["access_token"]) == (True, "sim-alice", "")
    assert b.user_for_refresh_token(_login(a, "sim-bruno")) == "sim-bruno"


def test_tokens_from_another_config_are_rejected():
    other = _sim(SimulatorConfig(seed=42, client_secret="other-secret"))
    sim = _sim()
    token = other.access_token_for("sim-alice")
    assert sim.check_access_token(token) == (False, None, "Invalid access token")
    assert _refresh(sim, other.refresh_token_for("sim-alice")) == (
        400, {"error": "invalid_grant", "error_description": "Invalid refresh token"})
    assert sim.check_access_token(token[:-3] + "abc")[0] is False


def test_access_tokens_expire_after_an_hour_of_simulator_time():
    sim = _sim()
    token = sim.access_token_for("sim-alice")
    sim.clock.advance(3599)
    assert sim.check_access_token(token)[0] is True
    sim.clock.advance(1)
    assert sim.check_access_token(token) == (False, None, "The access token expired")


def test_revoke_invalidates_old_tokens_until_the_user_logs_in_again():
    sim = _sim()
    old_refresh = sim.refresh_token_for("sim-alice")
    old_access = sim.access_token_for("sim-alice")
    sim.revoke("sim-alice")
    assert _refresh(sim, old_refresh)[1]["error"] == "invalid_grant"
    assert sim.check_access_token(old_access)[0] is False
    assert _refresh(sim, sim.refresh_token_for("sim-bruno"))[0] == 200  # others unaffected
    new_refresh = _login(sim, "sim-alice")
    assert new_refresh != old_refresh
    assert _refresh(sim, new_refresh)[0] == 200
    assert sim.refresh_token_for("sim-alice") != old_refresh
    assert _refresh(sim, old_refresh)[0] == 400


def test_refresh_returns_a_new_refresh_token_only_when_rotating():
    sim = _sim()
    original = sim.refresh_token_for("sim-alice")
    assert "refresh_token" not in _refresh(sim, original)[1]
    sim.faults.rotate_refresh_tokens = True
    status, body = _refresh(sim, original)
    assert status == 200 and body["refresh_token"] != original
    assert _refresh(sim, body["refresh_token"])[0] == 200
    assert _refresh(sim, original)[0] == 200  # the old one stays valid


def test_authorization_codes_are_single_use_and_need_the_right_verifier():
    sim = _sim()
    verifier = "correct-verifier-" + "x" * 40
    _, headers, _ = accounts.authorize(sim, {
        "client_id": CONFIG.client_id, "response_type": "code", "redirect_uri": REDIRECT,
        "code_challenge_method": "S256", "code_challenge": accounts.pkce_challenge(verifier)})
    code = headers["Location"].split("code=")[1]
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, "client_id": CONFIG.client_id}
    assert accounts.token(sim, {**form, "code_verifier": "wrong"}, None)[2]["error"] == "invalid_grant"
    assert accounts.token(sim, {**form, "code_verifier": verifier}, None)[0] == 200
    assert accounts.token(sim, {**form, "code_verifier": verifier}, None)[2]["error"] == "invalid_grant"


def test_codes_expire_and_client_credentials_need_the_secret():
    sim = _sim()
    _, headers, _ = accounts.authorize(sim, {
        "client_id": CONFIG.client_id, "response_type": "code", "redirect_uri": REDIRECT})
    code = headers["Location"].split("code=")[1]
    sim.clock.advance(601)
    basic = "Basic " + base64.b64encode(f"{CONFIG.client_id}:{CONFIG.client_secret}".encode()).decode()
    status, _, body = accounts.token(sim, {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}, basic)
    assert (status, body["error"]) == (400, "invalid_grant")
    status, _, body = accounts.token(sim, {"grant_type": "client_credentials", "client_id": CONFIG.client_id}, None)
    assert (status, body["error"]) == (400, "invalid_client")
    status, _, body = accounts.token(sim, {"grant_type": "client_credentials"}, basic)
    assert status == 200 and sim.check_access_token(body["access_token"]) == (True, None, "")
    assert sim.clock.now() == T + timedelta(seconds=601)
