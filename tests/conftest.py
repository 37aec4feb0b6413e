"""Fixtures shared by every test tier."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

SIMULATOR_NOW = datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc)


@pytest.fixture(autouse=True)
def no_inherited_dagster_home(monkeypatch):
    """`listory` points DAGSTER_HOME (os.environ) at the instance of the home it uses: without
    this, a later test would run on an earlier test's instance. Each test starts without one
    and whatever it sets is removed afterwards."""
    monkeypatch.setenv("DAGSTER_HOME", "")
    monkeypatch.delenv("DAGSTER_HOME")


@pytest.fixture
def simulator_server():
    """A started Spotify simulator (seed 42, clock fixed at SIMULATOR_NOW) on a free port.

    Function-scoped, so faults, clock moves and revocations never leak between tests.
    """
    from listory_pipeline.spotify.simulator import Simulator, SimulatorConfig, SimulatorServer

    simulator = Simulator(SimulatorConfig(seed=42))
    simulator.clock.set(SIMULATOR_NOW)
    with SimulatorServer(simulator, host="127.0.0.1", port=0) as server:
        yield server
