"""A user who brought their own Spotify app, crawled end to end against the simulator over HTTP.

The simulator registers a second app besides its own, so the per-user-app path is
exercised as on Spotify: the user's refresh token belongs to their app, the crawl
must ask the token endpoint with that app's client id and secret, and the same
token presented by the instance's app is refused with `invalid_grant`.
"""

from __future__ import annotations

import httpx
import pytest

from listory_pipeline import runtime
from listory_pipeline.crawl import steps as crawl
from listory_pipeline.defs.resources import SpotifyResource
from listory_pipeline.settings import load_settings
from listory_pipeline.spotify.errors import AuthError, AuthRevokedError
from listory_pipeline.spotify.simulator import Simulator, SimulatorConfig, SimulatorServer
from tests.conftest import SIMULATOR_NOW
from listory_pipeline.warehouse.loader import LoadResult, UserRow
from tests.integration.conftest import ListoryHome, assert_no_secrets, simulator_app

OWN_APP = ("bruno-own-app", "bruno-own-app-secret")
DEFAULT_USER = "sim-alice"
OWN_APP_USER = "sim-bruno"


@pytest.fixture
def apps_server():
    """Like `simulator_server`, with a second registered app: the one sim-bruno brings."""
    simulator = Simulator(SimulatorConfig(seed=42, extra_apps=(OWN_APP,)))
    simulator.clock.set(SIMULATOR_NOW)
    with SimulatorServer(simulator, host="127.0.0.1", port=0) as server:
        yield server


@pytest.fixture
def home(apps_server, tmp_path, monkeypatch) -> ListoryHome:
    """A LISTORY_HOME on that simulator, also in the environment, where Dagster resources read it."""
    environ = {"LISTORY_HOME": str(tmp_path / "home"), "LISTORY_SIMULATOR_URL": apps_server.base_url}
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("SPOTIFY_CLIENT_ID", raising=False)
    monkeypatch.delenv("SPOTIFY_CLIENT_SECRET", raising=False)
    return ListoryHome(apps_server, load_settings(environ), simulator_app(apps_server))


def _register_own_app_user(home: ListoryHome, client_id: str = OWN_APP[0], secret: str = OWN_APP[1]) -> str:
    """Registers sim-bruno with a refresh token his own app obtained (as `listory login --client-id` does)."""
    refresh_token = home.simulator.refresh_token_for(OWN_APP_USER, OWN_APP[0])
    sim_user = home.simulator.user(OWN_APP_USER)
    home.registry.register(
        OWN_APP_USER, refresh_token, display_name=sim_user.display_name, timezone_name=sim_user.timezone,
        app_client_id=client_id, app_client_secret=secret,
    )
    return refresh_token


def _crawl_like_the_assets(user_id: str) -> tuple[crawl.LandOutcome, LoadResult, crawl.EnrichOutcome, str]:
    """Land, load and enrich one user through the Dagster resource, as the crawl and catalog assets do."""
    spotify = SpotifyResource()
    settings = spotify.settings()
    registry = runtime.user_registry(settings)
    user = registry.get(user_id)
    with spotify.user_session(user, registry) as (client, session, app_key):
        landed = crawl.land_recent_plays(session, runtime.landing_zone(settings), user_id)
        result, checks = crawl.load_landed(
            settings.warehouse_path, runtime.landing_zone(settings), _user_row(registry, user_id),
            lock_wait_seconds=10.0, mirror_users=[_user_row(registry, u.user_id) for u in registry.list()],
        )
        assert all(check.passed for check in checks), checks
        enriched = crawl.enrich_artists(
            settings.warehouse_path, client, session, app_key, max_requests=20, lock_wait_seconds=10.0
        )
    return landed, result, enriched, app_key


def _user_row(registry, user_id: str) -> UserRow:
    user = registry.get(user_id)
    return UserRow(user.user_id, user.display_name, user.timezone, user.status)


def _listens_by_user(home: ListoryHome) -> dict[str, int]:
    return dict(home.query("select user_id, count(*) from core.listens group by user_id"))


def test_users_on_the_default_app_and_on_their_own_app_are_both_crawled(home):
    home.register(DEFAULT_USER)
    _register_own_app_user(home)
    simulator = home.simulator

    simulator.reset_stats()
    landed, loaded, _, default_key = _crawl_like_the_assets(DEFAULT_USER)
    assert simulator.token_requests_by_client() == {simulator.config.client_id: {"200": 1}}
    assert landed.plays_in_pull == loaded.new_listens == 50

    simulator.reset_stats()
    landed, loaded, enriched, own_key = _crawl_like_the_assets(OWN_APP_USER)
    assert simulator.token_requests_by_client() == {OWN_APP[0]: {"200": 1}}
    assert landed.plays_in_pull == loaded.new_listens == 50
    assert landed.requests == {"total": 2, "token": 1, "recently_played": 1}
    assert enriched.requests.get("artists_bulk", 0) >= 1  # the own app's token reads the catalog too

    assert _listens_by_user(home) == {DEFAULT_USER: 50, OWN_APP_USER: 50}
    # Pauses and enrichment state are per app, and the own app's key names the simulator, not api.spotify.com.
    assert (default_key, own_key) == (runtime.default_app_key(home.settings), f"{OWN_APP[0]}@simulator")
    assert sorted(row[0] for row in home.query("select app_key from meta.enrichment_state")) == sorted(
        [default_key, own_key]
    )

    simulator.reset_stats()
    landed, loaded, _, _ = _crawl_like_the_assets(OWN_APP_USER)  # a new process: the token comes from the cache
    assert simulator.token_requests_by_client() == {}
    assert landed.requests == {"total": 1, "recently_played": 1} and loaded.new_listens == 0


def test_the_own_apps_refresh_token_is_refused_to_the_default_app(home):
    refresh_token = _register_own_app_user(home)
    simulator = home.simulator
    simulator.reset_stats()

    with home.client() as client:  # the instance's (default) app
        session = client.user_session(OWN_APP_USER, refresh_token)
        with pytest.raises(AuthRevokedError) as caught:
            session.recently_played()

    assert caught.value.user_id == OWN_APP_USER
    assert simulator.token_requests_by_client() == {simulator.config.client_id: {"400": 1}}
    assert simulator.stats()["by_endpoint"] == {"token": 1}
    assert_no_secrets(caught.value, [refresh_token, OWN_APP[1], simulator.config.client_secret])


def test_an_own_app_the_simulator_does_not_know_fails_as_a_bad_client_not_a_revocation(home):
    """As with an app deleted from Spotify's dashboard: the user stays registered, the error says invalid_client."""
    refresh_token = _register_own_app_user(home, client_id="deleted-app", secret="deleted-app-secret")
    with pytest.raises(AuthError) as caught:
        _crawl_like_the_assets(OWN_APP_USER)
    assert not isinstance(caught.value, AuthRevokedError)
    assert (caught.value.status, caught.value.error_code) == (400, "invalid_client")
    assert home.simulator.token_requests_by_client() == {"deleted-app": {"400": 1}}
    assert_no_secrets(caught.value, [refresh_token, "deleted-app-secret", OWN_APP[1]])


def test_the_simulators_controls_serve_other_apps_over_http(apps_server):
    """Another process (LISTORY_SIMULATOR_URL) gets the app's refresh tokens and its counters over HTTP."""
    with httpx.Client(base_url=apps_server.base_url, timeout=10) as http:
        users = http.get("/_sim/users", params={"client_id": OWN_APP[0]}).json()
        bruno = next(u for u in users if u["user_id"] == OWN_APP_USER)
        assert bruno["refresh_token"] == apps_server.simulator.refresh_token_for(OWN_APP_USER, OWN_APP[0])
        assert http.get("/_sim/users", params={"client_id": "nobodys-app"}).status_code == 400
        form = {"grant_type": "refresh_token", "refresh_token": bruno["refresh_token"]}
        http.post("/_sim/stats/reset")
        assert http.post("/api/token", data=form, auth=OWN_APP).status_code == 200
        refused = http.post("/api/token", data=form, auth=("nobodys-app", OWN_APP[1]))
        assert refused.status_code == 400 and refused.json()["error"] == "invalid_client"
        assert http.get("/_sim/stats/token-clients").json() == {OWN_APP[0]: {"200": 1}, "nobodys-app": {"400": 1}}


def test_a_crawl_run_for_a_rejected_own_app_stops_that_user_and_says_why(home):
    """Through Dagster: the run fails naming the app and the remedy; the user is held like a revocation."""
    from dagster import DagsterInstance

    from listory_pipeline.definitions import defs

    _register_own_app_user(home, client_id="deleted-app", secret="deleted-app-secret")
    job = defs.resolve_job_def("crawl_user_job")
    with DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions("spotify_users", [OWN_APP_USER])
        result = job.execute_in_process(instance=instance, partition_key=OWN_APP_USER, raise_on_error=False)
        assert not result.success
        failure = next(e for e in result.all_events if e.is_step_failure)
        description = failure.step_failure_data.user_failure_data.description
        assert "deleted-app" in description and "invalid_client" in description and "listory login" in description
        assert "deleted-app-secret" not in description
        user = home.registry.get(OWN_APP_USER)
        assert (user.status, user.status_reason) == ("revoked", "Spotify rejected the user's own app credentials (invalid_client)")
        # the next run stops before asking Spotify anything
        before = home.simulator.stats()["total"]
        again = job.execute_in_process(instance=instance, partition_key=OWN_APP_USER, raise_on_error=False)
        assert not again.success and home.simulator.stats()["total"] == before
