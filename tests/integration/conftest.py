"""Fixtures for the integration tier: the simulator on 127.0.0.1, a LISTORY_HOME in tmp_path.

`simulator_server` (tests/conftest.py) starts a fresh simulator per test with its clock
fixed at SIMULATOR_NOW. `listory_home` wires the crawl steps to it the way the crawl
benchmark does: settings from a mapping, the registry, the landing zone and the real
DuckDB file all under tmp_path.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pytest

from listory_pipeline import runtime
from listory_pipeline.crawl import steps as crawl
from listory_pipeline.landing.store import LandingZone
from listory_pipeline.settings import Settings, load_settings
from listory_pipeline.spotify.auth import SpotifyApp
from listory_pipeline.spotify.client import SpotifyClient, UserSession
from listory_pipeline.spotify.simulator import Simulator, SimulatorServer
from listory_pipeline.users.registry import UserRegistry
from listory_pipeline.warehouse.loader import LoadResult, UserRow

USER_ID = "sim-alice"


def simulator_app(server: SimulatorServer) -> SpotifyApp:
    config = server.simulator.config
    return SpotifyApp(
        client_id=config.client_id,
        client_secret=config.client_secret,
        api_url=server.api_url,
        accounts_url=server.accounts_url,
    )


def assert_no_secrets(exc: BaseException, secrets: list[str | None]) -> None:
    """Neither the message, the repr nor any chained exception's text contains a secret."""
    text = "".join(traceback.format_exception(exc)) + repr(exc) + str(exc)
    for secret in secrets:
        if secret:
            assert secret not in text, f"a secret leaked into {type(exc).__name__}: {text[:300]}"


@dataclass
class CrawlOnce:
    """What one crawl (land → load → enrich) did."""

    plays_in_pull: int
    pull_id: str
    load: LoadResult
    enrich: crawl.EnrichOutcome | None
    requests: dict[str, Any]  # the simulator's stats for this crawl only


@dataclass
class ListoryHome:
    """One LISTORY_HOME wired to one simulator, like a machine running the pipeline."""

    server: SimulatorServer
    settings: Settings
    app: SpotifyApp

    @property
    def simulator(self) -> Simulator:
        return self.server.simulator

    @property
    def registry(self) -> UserRegistry:
        return runtime.user_registry(self.settings)

    @property
    def landing(self) -> LandingZone:
        return runtime.landing_zone(self.settings)

    @property
    def warehouse_path(self) -> Path:
        return self.settings.warehouse_path

    def register(self, user_id: str = USER_ID) -> UserRow:
        sim_user = self.simulator.user(user_id)
        self.registry.register(
            user_id,
            self.simulator.refresh_token_for(user_id),
            display_name=sim_user.display_name,
            timezone_name=sim_user.timezone,
        )
        return self.user_row(user_id)

    def user_row(self, user_id: str = USER_ID) -> UserRow:
        user = self.registry.get(user_id)
        return UserRow(user.user_id, user.display_name, user.timezone, user.status)

    def client(self) -> SpotifyClient:
        """A client as a fresh process builds it (encrypted token cache in the home)."""
        return runtime.spotify_client(self.settings, self.app)

    def session(self, client: SpotifyClient, user_id: str = USER_ID) -> UserSession:
        return client.user_session(user_id, self.registry.refresh_token(user_id), self.registry.save_refresh_token)

    def load(self, user_id: str = USER_ID, lock_wait_seconds: float = 10.0) -> LoadResult:
        result, checks = crawl.load_landed(
            self.warehouse_path, self.landing, self.user_row(user_id), lock_wait_seconds=lock_wait_seconds
        )
        failed = [check for check in checks if not check.passed]
        assert not failed, failed
        return result

    def enrich(self, client: SpotifyClient, session: UserSession, max_requests: int = 200) -> crawl.EnrichOutcome:
        return crawl.enrich_artists(
            self.warehouse_path,
            client,
            session,
            runtime.app_key(self.app),
            max_requests=max_requests,
            lock_wait_seconds=10.0,
        )

    def crawl(self, user_id: str = USER_ID, *, enrich: bool = True) -> CrawlOnce:
        """One crawl as a new process runs it: new client, land, load, enrich."""
        self.simulator.reset_stats()
        with self.client() as client:
            session = self.session(client, user_id)
            landed = crawl.land_recent_plays(session, self.landing, user_id)
            loaded = self.load(user_id)
            enriched = self.enrich(client, session) if enrich else None
        return CrawlOnce(landed.plays_in_pull, landed.pull.pull_id, loaded, enriched, self.simulator.stats())

    def query(self, sql: str, params: Any = None) -> list[tuple]:
        with duckdb.connect(str(self.warehouse_path), read_only=True) as conn:
            return conn.execute(sql, params).fetchall() if params is not None else conn.execute(sql).fetchall()


@pytest.fixture
def listory_home(simulator_server, tmp_path) -> ListoryHome:
    settings = load_settings(
        {"LISTORY_HOME": str(tmp_path / "home"), "LISTORY_SIMULATOR_URL": simulator_server.base_url}
    )
    return ListoryHome(simulator_server, settings, simulator_app(simulator_server))
