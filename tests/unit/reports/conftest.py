"""One hand-built warehouse, built once with dbt for the whole session (dbt costs seconds)."""

from __future__ import annotations

import pytest

from tests.unit.reports.builders import seed
from tests.unit.reports.hand_built import AS_OF, hand_built_catalog


@pytest.fixture(scope="session")
def hand_built_warehouse(tmp_path_factory):
    """(settings, build result) of the hand-built listens, reports built by dbt as of AS_OF."""
    from listory_pipeline.reports.build import build_reports
    from listory_pipeline.settings import load_settings

    home = tmp_path_factory.mktemp("hand_built")
    settings = load_settings({"LISTORY_HOME": str(home)})
    seed(settings.warehouse_path, hand_built_catalog())
    result = build_reports(settings, AS_OF)
    assert result.success, result.failures
    return settings, result
