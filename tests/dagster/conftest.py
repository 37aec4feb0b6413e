"""A Dagster-ready environment: a tmp LISTORY_HOME, the simulator over HTTP, registered users."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from dagster import DagsterInstance

from listory_pipeline import runtime
from listory_pipeline.settings import Settings, load_settings
from listory_pipeline.spotify.simulator import SimulatorServer


@dataclass
class CrawlEnv:
    home: Path
    server: SimulatorServer
    settings: Settings
    user_ids: list[str]
    instance: DagsterInstance


@pytest.fixture
def crawl_env(tmp_path, monkeypatch, simulator_server) -> CrawlEnv:
    home = tmp_path / "home"
    monkeypatch.setenv("LISTORY_HOME", str(home))
    monkeypatch.setenv("LISTORY_SIMULATOR_URL", simulator_server.base_url)
    monkeypatch.delenv("SPOTIFY_CLIENT_ID", raising=False)
    monkeypatch.delenv("SPOTIFY_CLIENT_SECRET", raising=False)
    settings = load_settings()
    registry = runtime.user_registry(settings)
    simulator = simulator_server.simulator
    user_ids = []
    for user in simulator.users()[:2]:
        registry.register(
            user.user_id,
            simulator.refresh_token_for(user.user_id),
            display_name=user.display_name,
            timezone_name=user.timezone,
        )
        user_ids.append(user.user_id)
    with DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions("spotify_users", user_ids)
        yield CrawlEnv(home, simulator_server, settings, user_ids, instance)
