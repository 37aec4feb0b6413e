"""Building the pipeline's working parts from `Settings`: one place for the CLI, Dagster and benchmarks.

With no Spotify credentials the client talks to the built-in simulator. Unless
`LISTORY_SIMULATOR_URL` points at one started elsewhere (`listory simulator`),
each process starts its own on a free 127.0.0.1 port; the simulator is
deterministic from its seed and the wall clock and its tokens are stateless, so
every process sees the same listeners and accepts the same cached tokens.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import TYPE_CHECKING, Iterator

from listory_pipeline.landing.store import LandingZone
from listory_pipeline.settings import Settings
from listory_pipeline.spotify.auth import SpotifyApp
from listory_pipeline.spotify.client import SpotifyClient, UserSession
from listory_pipeline.users.crypto import SecretBox
from listory_pipeline.users.registry import RegisteredUser, UserRegistry
from listory_pipeline.users.token_cache import EncryptedTokenCache

if TYPE_CHECKING:
    from listory_pipeline.landing.history import HistoryLanding
    from listory_pipeline.spotify.simulator import SimulatorServer

_embedded_lock = threading.Lock()
_embedded: dict[tuple, "SimulatorServer"] = {}


def embedded_simulator(settings: Settings) -> "SimulatorServer":
    """This process's simulator for these settings, started on first use."""
    from listory_pipeline.spotify.simulator import Simulator, SimulatorConfig, SimulatorServer
    from listory_pipeline.spotify.simulator.simulator import DEFAULT_API_URL

    key = (settings.simulator_seed, settings.simulator_users, settings.simulator_bulk_refused)
    with _embedded_lock:
        server = _embedded.get(key)
        if server is None:
            simulator = Simulator(SimulatorConfig(seed=settings.simulator_seed, n_users=settings.simulator_users))
            simulator.faults.bulk_refused = settings.simulator_bulk_refused
            # a new port in every run: its links name one fixed address, so equal answers stay equal
            server = SimulatorServer(simulator, host="127.0.0.1", port=0, links_url=DEFAULT_API_URL)
            server.start()
            _embedded[key] = server
        return server


def spotify_app(settings: Settings) -> SpotifyApp:
    if not settings.uses_simulator:
        return SpotifyApp(
            client_id=settings.spotify_client_id,
            client_secret=settings.spotify_client_secret,
            api_url=settings.spotify_api_url,
            accounts_url=settings.spotify_accounts_url,
        )
    from listory_pipeline.spotify.simulator import SimulatorConfig

    defaults = SimulatorConfig()
    if settings.simulator_url:
        base = settings.simulator_url
    else:
        base = embedded_simulator(settings).base_url
    return SpotifyApp(
        client_id=defaults.client_id,
        client_secret=defaults.client_secret,
        api_url=f"{base}/v1",
        accounts_url=base,
    )


def _app_key(client_id: str, api: str) -> str:
    """Which Spotify app pauses and enrichment state belong to: the client id at its API."""
    return f"{client_id}@{api}"


def app_key(app: SpotifyApp) -> str:
    return _app_key(app.client_id, app.api_url)


def secret_box(settings: Settings) -> SecretBox:
    return SecretBox.from_settings(settings)


def user_registry(settings: Settings) -> UserRegistry:
    return UserRegistry(settings.registry_path, secret_box(settings))


def landing_zone(settings: Settings) -> LandingZone:
    return LandingZone(settings.landing_dir)


def history_landing(settings: Settings) -> "HistoryLanding":
    from listory_pipeline.landing.history import HistoryLanding

    return HistoryLanding(settings.landing_dir)


def spotify_client(settings: Settings, app: SpotifyApp | None = None, key: str | None = None) -> SpotifyClient:
    """A client whose 429 pauses are shared with every process using the same app (`key`)."""
    from listory_pipeline.crawl.rate_limits import SharedRateGate

    if key is None:
        key = default_app_key(settings) if app is None else app_key(app)
    return SpotifyClient(
        app or spotify_app(settings),
        timeout=settings.spotify_timeout_seconds,
        max_inline_wait_seconds=settings.spotify_max_inline_wait_seconds,
        token_cache=EncryptedTokenCache(settings.token_cache_path, secret_box(settings)),
        rate_gate=SharedRateGate(pause_store(settings), key),
    )


def simulator_accounts(settings: Settings) -> list[dict]:
    """The simulated listeners with a refresh token each, for seeding the registry in demos and tests."""
    if settings.simulator_url:
        import httpx

        response = httpx.get(f"{settings.simulator_url}/_sim/users", timeout=10.0)
        response.raise_for_status()
        return response.json()
    simulator = embedded_simulator(settings).simulator
    return [
        {
            "user_id": user.user_id,
            "display_name": user.display_name,
            "timezone": user.timezone,
            "refresh_token": simulator.refresh_token_for(user.user_id),
        }
        for user in simulator.users()
    ]


def _api_of_key(settings: Settings) -> str:
    """The API part of app keys: embedded simulators listen on a different port in every
    process, so simulator keys name the simulator, not its URL."""
    return "simulator" if settings.uses_simulator else settings.spotify_api_url


def default_app_key(settings: Settings) -> str:
    """The instance app's key, without starting an embedded simulator (sensors must stay cheap)."""
    if not settings.uses_simulator:
        return _app_key(settings.spotify_client_id, _api_of_key(settings))
    from listory_pipeline.spotify.simulator.config import SimulatorConfig

    return _app_key(SimulatorConfig().client_id, _api_of_key(settings))


def app_key_for_user(settings: Settings, user) -> str:
    """The key of the app a user is crawled with: their own when they brought one, else the instance's.

    An own app's key names the API the crawl really talks to, so a simulator's pauses and
    enrichment state never land on the real Spotify app of the same client id.
    """
    client_id = getattr(user, "app_client_id", None)
    return _app_key(client_id, _api_of_key(settings)) if client_id else default_app_key(settings)


def pause_store(settings: Settings):
    from listory_pipeline.crawl.rate_limits import PauseStore

    return PauseStore(settings.rate_limit_pauses_path)


@contextmanager
def user_spotify_session(
    settings: Settings, user: RegisteredUser, registry: UserRegistry
) -> Iterator[tuple[SpotifyClient, UserSession, str]]:
    """A client for the user's app (their own when they brought one, else the instance's) and
    their session, whose rotated refresh tokens go straight back to the registry.

    Also yields the key of the app: rate-limit pauses and enrichment state are per app.
    """
    app = spotify_app(settings)
    if user.app_client_id:
        from listory_pipeline.users.login import app_for_user

        app = app_for_user(app, registry, user.user_id)
    key = app_key_for_user(settings, user)
    with spotify_client(settings, app, key) as client:
        session = client.user_session(
            user.user_id, registry.refresh_token(user.user_id), on_new_refresh_token=registry.save_refresh_token
        )
        yield client, session, key
