"""Several registered apps: each gets tokens, tokens stay bound to their app, strangers are refused."""

from __future__ import annotations

import base64
from datetime import datetime, timezone

import pytest

from listory_pipeline.spotify.simulator import Simulator, SimulatorConfig
from listory_pipeline.spotify.simulator import accounts

T = datetime(2026, 11, 20, 12, tzinfo=timezone.utc)
OWN = ("bruno-own-app", "bruno-own-secret")
CONFIG = SimulatorConfig(seed=42, extra_apps=(OWN,))
DEFAULT = (CONFIG.client_id, CONFIG.client_secret)
REDIRECT = "http://127.0.0.1:8899/callback"


def _sim(config: SimulatorConfig = CONFIG) -> Simulator:
    sim = Simulator(config)
    sim.clock.set(T)
    return sim


def _basic(app: tuple[str, str]) -> str:
    return "Basic " + base64.b64encode(f"{app[0]}:{app[1]}".encode()).decode()


def _refresh(sim: Simulator, refresh_token: str, app: tuple[str, str]) -> tuple[int, dict]:
    status, _, body = accounts.token(sim, {"grant_type": "refresh_token", "refresh_token": refresh_token}, _basic(app))
    return status, body


def _code(sim: Simulator, client_id: str, user_id: str = "sim-bruno") -> str:
    status, headers, body = accounts.authorize(sim, {
        "client_id": client_id, "response_type": "code", "redirect_uri": REDIRECT,
        "code_challenge_method": "S256", "code_challenge": accounts.pkce_challenge("v" * 64), "sim_user": user_id})
    assert status == 302, body
    return headers["Location"].split("code=")[1]


def _exchange(sim: Simulator, code: str, client_id: str) -> tuple[int, dict]:
    status, _, body = accounts.token(sim, {
        "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
        "client_id": client_id, "code_verifier": "v" * 64}, None)
    return status, body


def test_a_registered_extra_app_gets_user_and_app_tokens():
    sim = _sim()
    status, body = _refresh(sim, sim.refresh_token_for("sim-bruno", OWN[0]), OWN)
    assert status == 200 and sim.check_access_token(body["access_token"]) == (True, "sim-bruno", "")
    form_auth = accounts.token(sim, {"grant_type": "refresh_token", "client_id": OWN[0], "client_secret": OWN[1],
                                     "refresh_token": sim.refresh_token_for("sim-bruno", OWN[0])}, None)
    assert form_auth[0] == 200
    status, _, body = accounts.token(sim, {"grant_type": "client_credentials"}, _basic(OWN))
    assert status == 200 and sim.check_access_token(body["access_token"]) == (True, None, "")


def test_the_extra_app_logs_users_in_with_pkce_and_their_token_is_bound_to_it():
    sim = _sim()
    status, body = _exchange(sim, _code(sim, OWN[0]), OWN[0])
    assert status == 200, body
    assert sim.user_for_refresh_token(body["refresh_token"], OWN[0]) == "sim-bruno"
    assert _refresh(sim, body["refresh_token"], OWN)[0] == 200
    assert _refresh(sim, body["refresh_token"], DEFAULT) == (
        400, {"error": "invalid_grant", "error_description": "Invalid refresh token"})
    other_apps_code = _code(sim, DEFAULT[0])
    assert _exchange(sim, other_apps_code, OWN[0])[1]["error"] == "invalid_grant"
    assert _exchange(sim, other_apps_code, DEFAULT[0])[0] == 200


def test_a_refresh_token_works_only_with_the_app_that_obtained_it():
    sim = _sim()
    own_token = sim.refresh_token_for("sim-bruno", OWN[0])
    default_token = sim.refresh_token_for("sim-bruno")
    assert own_token != default_token
    assert _refresh(sim, own_token, DEFAULT)[1]["error"] == "invalid_grant"
    assert _refresh(sim, default_token, OWN)[1]["error"] == "invalid_grant"
    assert _refresh(sim, default_token, DEFAULT)[0] == 200
    assert sim.user_for_refresh_token(own_token) is None  # no app named: the default app


def test_rotated_refresh_tokens_stay_with_their_app():
    sim = _sim()
    sim.faults.rotate_refresh_tokens = True
    status, body = _refresh(sim, sim.refresh_token_for("sim-bruno", OWN[0]), OWN)
    assert status == 200
    assert _refresh(sim, body["refresh_token"], OWN)[0] == 200
    assert _refresh(sim, body["refresh_token"], DEFAULT)[1]["error"] == "invalid_grant"


def test_unknown_apps_and_wrong_secrets_are_refused():
    sim = _sim()
    token = sim.refresh_token_for("sim-bruno", OWN[0])
    assert _refresh(sim, token, ("nobodys-app", OWN[1])) == (
        400, {"error": "invalid_client", "error_description": "Invalid client"})
    assert _refresh(sim, token, (OWN[0], DEFAULT[1])) == (
        400, {"error": "invalid_client", "error_description": "Invalid client secret"})
    status, _, page = accounts.authorize(sim, {"client_id": "nobodys-app", "response_type": "code",
                                               "redirect_uri": REDIRECT})
    assert (status, page) == (400, "INVALID_CLIENT: Invalid client")
    with pytest.raises(KeyError, match="nobodys-app"):
        sim.refresh_token_for("sim-bruno", "nobodys-app")


def test_a_simulator_without_the_app_refuses_its_tokens():
    with_app, without = _sim(), _sim(SimulatorConfig(seed=42))
    access = with_app.access_token_for("sim-bruno", OWN[0])
    assert with_app.check_access_token(access) == (True, "sim-bruno", "")
    assert without.check_access_token(access) == (False, None, "Invalid access token")
    assert _refresh(without, with_app.refresh_token_for("sim-bruno", OWN[0]), OWN)[1]["error"] == "invalid_client"


def test_extra_apps_change_no_token_of_the_default_app():
    """Registries seeded before apps could be registered keep working."""
    assert _sim().refresh_token_for("sim-alice") == _sim(SimulatorConfig(seed=42)).refresh_token_for("sim-alice")
    assert _sim().refresh_token_for("sim-alice", DEFAULT[0]) == _sim().refresh_token_for("sim-alice")


def test_revoking_a_user_ends_their_tokens_of_every_app():
    sim = _sim()
    own_token = sim.refresh_token_for("sim-bruno", OWN[0])
    sim.revoke("sim-bruno")
    assert _refresh(sim, own_token, OWN)[1]["error"] == "invalid_grant"
    assert _refresh(sim, sim.refresh_token_for("sim-bruno", OWN[0]), OWN)[0] == 200


def test_token_requests_are_counted_by_the_client_id_they_name():
    sim = _sim()
    sim.record("token", 200, OWN[0])
    sim.record("token", 400, OWN[0])
    sim.record("token", 200, DEFAULT[0])
    sim.record("recently_played", 200)
    assert sim.token_requests_by_client() == {OWN[0]: {"200": 1, "400": 1}, DEFAULT[0]: {"200": 1}}
    assert sim.stats()["by_endpoint"] == {"token": 3, "recently_played": 1}
    sim.reset_stats()
    assert sim.token_requests_by_client() == {}


def test_app_config_refuses_clashing_client_ids_and_keeps_secrets_out_of_its_repr():
    with pytest.raises(ValueError, match="distinct"):
        SimulatorConfig(extra_apps=((DEFAULT[0], "x"),))
    with pytest.raises(ValueError, match="client id"):
        SimulatorConfig(extra_apps=(("", "x"),))
    assert OWN[1] not in repr(CONFIG)
    assert CONFIG.app_secrets() == {DEFAULT[0]: DEFAULT[1], OWN[0]: OWN[1]}
