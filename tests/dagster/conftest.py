"""A Dagster-ready environment: a tmp LISTORY_HOME, the simulator over HTTP, registered users."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from dagster import DagsterInstance

from listory_pipeline import runtime
from listory_pipeline.settings import Settings, load_settings
from listory_pipeline.spotify.simulator import SimulatorServer
from tests.dagster.postgres_server import running_postgres

DEPLOY_YAML = Path(__file__).resolve().parents[2] / "deploy" / "dagster-postgres.yaml"


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


@pytest.fixture(scope="module")
def postgres(tmp_path_factory):
    """A private PostgreSQL server, one per test module (each module starts from empty storage)."""
    with running_postgres(tmp_path_factory.mktemp("postgres")) as server:
        yield server


@pytest.fixture
def production_dagster_home(postgres, tmp_path, monkeypatch) -> Path:
    """A DAGSTER_HOME holding deploy/dagster-postgres.yaml as an operator copies it, its DAGSTER_PG_* set."""
    home = tmp_path / "dagster-prod"
    home.mkdir()
    shutil.copy(DEPLOY_YAML, home / "dagster.yaml")
    for name, value in (("USERNAME", postgres.user), ("PASSWORD", ""), ("HOST", postgres.host),
                        ("PORT", str(postgres.port)), ("DB", postgres.database)):
        monkeypatch.setenv(f"DAGSTER_PG_{name}", value)
    return home
