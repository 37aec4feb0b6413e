"""A DuckDB reader kept open all along while Dagster crawls and builds reports.

The reader is another process, as the DuckDB CLI, a notebook or a BI tool would be: it
holds one connection for the whole test and opens a fresh one every tenth of a second.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time

import pytest
from dagster import DagsterInstance, build_sensor_context, materialize

from listory_pipeline.definitions import defs
from listory_pipeline.publication.snapshot import freshness_bound_seconds, read_state
from tests.dagster.test_reports_definitions import reports_defs  # noqa: F401  (the parsed dbt project)

READER = textwrap.dedent(
    """
    import json, os, sys, time, duckdb
    path, stop = sys.argv[1], sys.argv[2]
    held = duckdb.connect(path, read_only=True)
    while not os.path.exists(stop):
        row = {"t": time.time()}
        try:
            row["held"] = held.execute("select count(*) from core.listens").fetchone()[0]
            # the documented way: attached, so each new connection opens the newest copy
            with duckdb.connect() as fresh:
                fresh.execute(f"ATTACH '{path}' AS warehouse (READ_ONLY); USE warehouse")
                row["listens"] = fresh.execute("select count(*) from core.listens").fetchone()[0]
                row["reports"] = fresh.execute(
                    "select count(*) from duckdb_tables() where database_name = 'warehouse' and schema_name = 'reports'"
                ).fetchone()[0]
        except Exception as exc:
            row["error"] = f"{type(exc).__name__}: {exc}"
        print(json.dumps(row), flush=True)
        time.sleep(0.1)
    """
)


@pytest.fixture
def pipeline_env(crawl_env, monkeypatch):
    # A reader that blocked the pipeline would make these runs fail within a second.
    monkeypatch.setenv("LISTORY_WAREHOUSE_LOCK_WAIT_SECONDS", "1")
    monkeypatch.setenv("LISTORY_PUBLISH_INTERVAL_SECONDS", "2")
    return crawl_env


def _crawl(env, user_id):
    return defs.resolve_job_def("crawl_user_job").execute_in_process(
        instance=env.instance, partition_key=user_id, raise_on_error=False
    )


def test_a_reader_held_open_across_crawls_and_a_report_build(pipeline_env, reports_defs, tmp_path):  # noqa: F811
    from listory_pipeline.defs.publication.sensors import warehouse_publish_sensor
    from listory_pipeline.defs.reports.assets import listory_dbt_models, report_charts
    from listory_pipeline.defs.resources import WarehouseResource
    from listory_pipeline.settings import load_settings

    first, second = pipeline_env.user_ids
    assert _crawl(pipeline_env, first).success
    settings = load_settings()
    stop = tmp_path / "stop"
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(settings.published_warehouse_path), str(stop)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(1.0)
        crawled = _crawl(pipeline_env, second)
        committed_at = time.time()
        assert crawled.success
        # the daemon's trailing publish, ticked here as often as the daemon would
        warehouse = WarehouseResource(listory_home=str(settings.home))
        deadline = time.monotonic() + freshness_bound_seconds(settings.publication)
        while read_state(settings.publication).source_mtime_ns != settings.warehouse_path.stat().st_mtime_ns:
            assert time.monotonic() < deadline, "the read copy was not republished within the freshness bound"
            warehouse_publish_sensor(build_sensor_context(resources={"warehouse": warehouse}))
            time.sleep(0.5)
        with DagsterInstance.ephemeral() as instance:
            built = materialize([listory_dbt_models, report_charts], resources={"warehouse": warehouse}, instance=instance)
        assert built.success
        time.sleep(1.0)
    finally:
        stop.touch()
        out, err = reader.communicate(timeout=30)
    rows = [json.loads(line) for line in out.splitlines()]
    assert reader.returncode == 0, err
    assert rows and not [row for row in rows if "error" in row]
    # the held connection kept its snapshot (the first user's 50 plays) and never failed
    assert {row["held"] for row in rows} == {50}
    # a load appears whole or not at all: only 50 or 100 plays were ever seen
    assert {row["listens"] for row in rows} == {50, 100}
    seen_at = min(row["t"] for row in rows if row["listens"] == 100)
    assert seen_at - committed_at <= freshness_bound_seconds(settings.publication)
    assert rows[-1]["reports"] > 0  # the build reached readers once it succeeded
