"""The reports code location loads, maps dbt onto the crawl's core/* assets, and builds through Dagster."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from datetime import datetime, timezone

import duckdb
import pytest
from dagster import AssetKey, DagsterInstance, materialize

from listory_pipeline.reports.project import DBT_PROJECT_DIR, REPORT_TABLES
from tests.unit.reports.builders import seed
from tests.unit.reports.hand_built import AS_OF, hand_built_catalog

CORE_TABLES = ["listens", "tracks", "albums", "artists", "track_artists", "artist_genres", "users"]


@pytest.fixture(scope="module")
def reports_defs():
    """Parse the dbt project first (the manifest is never built at import), then import the location."""
    subprocess.run(
        [str(Path(sys.executable).parent / "dbt"), "parse", "--quiet", "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR)],
        check=True,
        cwd=DBT_PROJECT_DIR,
    )
    from listory_pipeline.reports_definitions import defs

    return defs


def test_the_crawl_location_imports_neither_dbt_nor_polars():
    probe = "import sys, listory_pipeline.definitions; print(sorted(m for m in ('dagster_dbt', 'dbt', 'polars') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True, text=True).stdout
    assert out.strip() == "[]"


def test_definitions_load_with_lineage_from_core(reports_defs):
    reports_defs.validate_loadable(reports_defs)
    specs = {spec.key: spec for spec in reports_defs.resolve_all_asset_specs()}
    for table in REPORT_TABLES:
        assert AssetKey(["reports", table]) in specs
        assert specs[AssetKey(["reports", table])].group_name == "reports"
    assert AssetKey(["reports", "recent_listens"]) in specs
    assert specs[AssetKey(["marts", "int_listens__localized"])].group_name == "marts"
    staging = specs[AssetKey(["staging", "stg_spotify__listens"])]
    assert staging.group_name == "staging"
    assert [dep.asset_key for dep in staging.deps] == [AssetKey(["core", "listens"])]
    source_keys = {dep.asset_key for spec in specs.values() for dep in spec.deps if dep.asset_key.path[0] == "core"}
    assert source_keys >= {AssetKey(["core", t]) for t in CORE_TABLES}
    assert {dep.asset_key for dep in specs[AssetKey(["reports", "charts"])].deps} >= {
        AssetKey(["reports", t]) for t in REPORT_TABLES
    }
    schedule = reports_defs.resolve_schedule_def("reports_hourly_schedule")
    assert schedule.cron_schedule == "0 * * * *"
    assert reports_defs.resolve_job_def("build_reports_job") is not None


def test_a_build_through_dagster_materializes_reports_and_charts(reports_defs, tmp_path):
    from listory_pipeline.defs.reports.assets import listory_dbt_models, report_charts
    from listory_pipeline.defs.reports.resources import build_report_resources
    from listory_pipeline.defs.resources import WarehouseResource
    from listory_pipeline.reports.build import build_reports
    from listory_pipeline.settings import load_settings

    settings = load_settings({"LISTORY_HOME": str(tmp_path)})
    seed(settings.warehouse_path, hand_built_catalog())
    resources = {**build_report_resources(), "warehouse": WarehouseResource(listory_home=str(tmp_path))}
    with DagsterInstance.ephemeral() as instance:
        result = materialize(
            [listory_dbt_models, report_charts],
            resources=resources,
            instance=instance,
            run_config={"ops": {"listory_dbt_models": {"config": {"as_of": AS_OF.isoformat()}}}},
        )
    assert result.success
    materialized = {
        event.asset_key: event.event_specific_data.materialization for event in result.get_asset_materialization_events()
    }
    top_artists = materialized[AssetKey(["reports", "top_artists"])]
    assert top_artists.metadata["dagster/row_count"].value > 0
    charts = materialized[AssetKey(["reports", "charts"])].metadata
    assert charts["users"].value == 3  # berlin, newyork, tokyo; the empty user has no reports
    tokyo = charts["user tokyo"].value
    assert "data:image/png;base64," in tokyo and "| 1 | Song Three | 3 | 6.0 | new |" in tokyo  # last 30 days: all 8 plays
    checks = [e for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"]
    assert checks and all(e.event_specific_data.passed for e in checks)

    # a late play: loaded now, played on a day long built; the next build counts it
    conn = duckdb.connect(str(settings.warehouse_path))
    conn.execute(
        "insert into core.listens (user_id, played_at, track_id, source, ms_played, loaded_at) values (?, ?, 't3', 'recently_played', null, now())",
        ["berlin", datetime(2026, 3, 29, 12, 0, tzinfo=timezone.utc)],
    )
    conn.close()
    build = build_reports(settings, AS_OF)
    assert build.success, build.failures
    conn = duckdb.connect(str(settings.warehouse_path), read_only=True)
    day = conn.execute(
        "select listen_count from reports.listens_report where user_id = 'berlin' and timeframe = 'day' and period_start = date '2026-03-29'"
    ).fetchall()
    conn.close()
    assert day == [(4,)]


def _materialize_reports(tmp_path, selection=None, raise_on_error=True):
    from listory_pipeline.defs.reports.assets import listory_dbt_models, report_charts
    from listory_pipeline.defs.resources import WarehouseResource

    with DagsterInstance.ephemeral() as instance:
        return materialize(
            [listory_dbt_models, report_charts],
            selection=selection,
            resources={"warehouse": WarehouseResource(listory_home=str(tmp_path))},
            instance=instance,
            run_config={"ops": {"listory_dbt_models": {"config": {"as_of": AS_OF.isoformat()}}}},
            raise_on_error=raise_on_error,
        )


def test_a_selected_report_rebuilds_that_model_only(reports_defs, tmp_path):
    from listory_pipeline.settings import load_settings

    settings = load_settings({"LISTORY_HOME": str(tmp_path)})
    seed(settings.warehouse_path, hand_built_catalog())
    assert _materialize_reports(tmp_path).success
    conn = duckdb.connect(str(settings.warehouse_path))
    before = conn.execute("select count(*) from reports.top_tracks").fetchall()
    conn.execute("delete from reports.top_tracks")  # only a rebuild of top_tracks brings them back
    conn.execute("delete from reports.top_albums")
    conn.close()

    result = _materialize_reports(tmp_path, selection=[AssetKey(["reports", "top_tracks"])])
    assert result.success
    assert {e.asset_key for e in result.get_asset_materialization_events()} == {AssetKey(["reports", "top_tracks"])}
    checks = {e.event_specific_data.asset_check_key.asset_key for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"}
    assert checks == {AssetKey(["reports", "top_tracks"])}
    conn = duckdb.connect(str(settings.warehouse_path), read_only=True)
    assert conn.execute("select count(*) from reports.top_tracks").fetchall() == before
    assert conn.execute("select count(*) from reports.top_albums").fetchall() == [(0,)]
    conn.close()


def test_a_broken_model_fails_the_step_names_it_and_keeps_what_was_built(reports_defs, tmp_path):
    from dagster import Failure

    from listory_pipeline.settings import load_settings

    settings = load_settings({"LISTORY_HOME": str(tmp_path)})
    seed(settings.warehouse_path, hand_built_catalog())
    conn = duckdb.connect(str(settings.warehouse_path))
    conn.execute("update core.users set timezone = 'Mars/Olympus_Mons' where user_id = 'tokyo'")
    conn.close()

    result = _materialize_reports(tmp_path, raise_on_error=False)
    assert not result.success
    [failure] = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE" and e.step_key == "listory_dbt_models"]
    error = failure.event_specific_data.error
    assert error.cls_name == Failure.__name__
    assert "int_users__report_dates" in error.message or "int_listens__localized" in error.message
    materialized = {e.asset_key for e in result.get_asset_materialization_events()}
    assert AssetKey(["staging", "stg_spotify__listens"]) in materialized  # built before the failure
    assert AssetKey(["reports", "top_artists"]) not in materialized  # downstream of it: skipped
    # the warehouse is released: the next crawl load can write
    duckdb.connect(str(settings.warehouse_path)).close()
