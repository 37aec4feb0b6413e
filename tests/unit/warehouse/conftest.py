"""The landing zone and warehouse file every loader test starts from, fresh per test."""

from __future__ import annotations

import pytest

from listory_pipeline.landing.store import LandingZone


@pytest.fixture()
def landing(tmp_path):
    return LandingZone(tmp_path / "landing")


@pytest.fixture()
def db_path(tmp_path):
    return tmp_path / "warehouse.duckdb"
