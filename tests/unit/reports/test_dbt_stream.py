"""`dbt_runner.stream`: dbt's events arrive on the caller's thread while dbt runs, and a caller
that is interrupted (a terminated Dagster run) leaves the warehouse released."""

from __future__ import annotations

import threading
from datetime import date

import duckdb
import pytest

from listory_pipeline.reports import dbt_runner
from listory_pipeline.settings import load_settings
from tests.unit.reports.builders import seed
from tests.unit.reports.hand_built import hand_built_catalog

RESULTS = {"LogModelResult"}


@pytest.fixture
def settings(tmp_path):
    settings = load_settings({"LISTORY_HOME": str(tmp_path)})
    seed(settings.warehouse_path, hand_built_catalog())
    return settings


def test_events_reach_the_callers_thread_then_the_outcome(settings):
    seen = []
    for item in dbt_runner.stream(settings, date(2027, 1, 4), ["run", "--select", "+int_users__report_dates"], event_names=RESULTS):
        seen.append((threading.current_thread() is threading.main_thread(), item))
    *events, (_, outcome) = seen
    assert isinstance(outcome, dbt_runner.DbtInvocation) and outcome.success
    assert all(on_main for on_main, _ in events)
    finished = sorted(e["data"]["node_info"]["unique_id"] for _, e in events if e["info"]["name"] == "LogModelResult")
    assert finished == sorted(n.unique_id for n in outcome.nodes)
    assert "model.listory.int_users__report_dates" in finished


def test_an_interrupted_consumer_leaves_the_warehouse_released(settings):
    build = dbt_runner.stream(settings, date(2027, 1, 4), ["run"], event_names=RESULTS)
    first = next(build)
    assert first["info"]["name"] == "LogModelResult"
    with pytest.raises(KeyboardInterrupt):
        build.throw(KeyboardInterrupt())
    conn = duckdb.connect(str(settings.warehouse_path))  # read-write: nobody holds the file
    conn.close()
    # and the process can build again
    assert dbt_runner.invoke(settings, date(2027, 1, 4), ["run", "--select", "stg_listory__users"]).success
