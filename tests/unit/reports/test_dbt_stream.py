"""`dbt_runner.stream`: dbt's events arrive on the caller's thread while dbt runs, and a caller
that is interrupted (a terminated Dagster run) leaves the warehouse released."""

from __future__ import annotations

import threading
from datetime import date

import duckdb
import pytest

from listory_pipeline.reports import build_lock, dbt_runner
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


def test_a_second_build_of_the_same_home_waits_for_the_first(settings):
    import subprocess
    import sys

    # another process holds this home's build lock for a moment (as a CLI build would)
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; from listory_pipeline.reports.build_lock import home_build_lock; "
         "from listory_pipeline.settings import load_settings; "
         "lock = home_build_lock(load_settings({'LISTORY_HOME': sys.argv[1]})); lock.__enter__(); "
         "print('held', flush=True); time.sleep(2); lock.__exit__(None, None, None)",
         str(settings.home)],
        stdout=subprocess.PIPE, text=True,
    )
    assert holder.stdout.readline().strip() == "held"
    items = list(dbt_runner.stream(settings, date(2027, 1, 4), ["run", "--select", "stg_listory__users"], event_names=RESULTS))
    holder.wait()
    kinds = [type(item).__name__ for item in items]
    assert kinds[0] == "Waiting" and "another report build is running" in items[0].message
    assert items[-1].success  # it ran once the other build ended


def test_a_build_cancelled_while_waiting_gives_up_at_once(settings):
    import time

    cancelled = threading.Event()
    cancelled.set()
    with build_lock.home_build_lock(settings):  # held here: the build below has to wait
        started = time.monotonic()
        with pytest.raises(build_lock.BuildCancelled):
            with build_lock.home_build_lock(settings, cancelled=cancelled):
                pass
        assert time.monotonic() - started < 2
