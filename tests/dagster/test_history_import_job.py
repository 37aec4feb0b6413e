"""The history import through Dagster: the job with config, the drop folder, resumed resolution, report rebuilds."""

from __future__ import annotations

import os
from datetime import timedelta

import duckdb
from dagster import AssetKey, AssetMaterialization, build_sensor_context

from listory_pipeline.definitions import defs
from listory_pipeline.defs.history.sensors import history_drop_sensor, track_resolution_sensor
from listory_pipeline.defs.reports.sensors import history_reports_sensor
from listory_pipeline.defs.resources import RegistryResource
from listory_pipeline.spotify.simulator.export import export_entries, write_extended_export
from tests.conftest import SIMULATOR_NOW
from tests.support.dagster_events import materialization_metadata

IMPORTED = AssetKey(["core", "imported_track_catalog"])


def _export(env, tmp_path, user_id):
    entries, _ = export_entries(env.server.simulator, user_id, SIMULATOR_NOW - timedelta(days=10), SIMULATOR_NOW)
    return write_extended_export(entries, tmp_path / "my_spotify_data.zip")


def _import_run(env, user_id, paths, raise_on_error=True):
    job = defs.resolve_job_def("import_history_job")
    return job.execute_in_process(
        instance=env.instance,
        partition_key=user_id,
        run_config={"ops": {"landing__extended_history": {"config": {"paths": [str(p) for p in paths]}}}},
        raise_on_error=raise_on_error,
    )


def test_the_import_job_lands_loads_and_resolves(crawl_env, tmp_path, monkeypatch):
    user_id = crawl_env.user_ids[0]
    path = _export(crawl_env, tmp_path, user_id)
    monkeypatch.setenv("LISTORY_RESOLVE_MAX_REQUESTS", "3")  # too few: resolution continues later

    result = _import_run(crawl_env, user_id, [path])

    assert result.success
    landed = materialization_metadata(result, ["landing", "extended_history"])
    listens = materialization_metadata(result, ["core", "listens"])
    resolved = materialization_metadata(result, ["core", "imported_track_catalog"])
    assert landed["listens"] > 200 and landed["new"] is True
    assert listens["history_imports_loaded"] == 1 and listens["history_listens_new"] == landed["listens"]
    assert resolved["track_requests"] == 3 and resolved["pending_tracks"] > 0 and resolved["rebuild_reports"] is True
    with duckdb.connect(str(crawl_env.settings.warehouse_path), read_only=True) as conn:
        stored = conn.execute("select count(*) from core.listens where source = 'extended_history'").fetchone()[0]
    assert stored == landed["listens"]

    # The sensor resumes resolution from the event log, and the reports location rebuilds.
    with build_sensor_context(instance=crawl_env.instance, resources={"registry": RegistryResource()}) as context:
        tick = track_resolution_sensor(context)
    assert [r.partition_key for r in tick.run_requests] == [user_id]
    with build_sensor_context(instance=crawl_env.instance) as context:
        rebuild = history_reports_sensor(context)
    assert len(rebuild.run_requests) == 1

    monkeypatch.setenv("LISTORY_RESOLVE_MAX_REQUESTS", "500")
    resume = defs.resolve_job_def("resolve_imported_tracks_job").execute_in_process(
        instance=crawl_env.instance, partition_key=user_id
    )
    assert materialization_metadata(resume, ["core", "imported_track_catalog"])["pending_tracks"] == 0
    with build_sensor_context(instance=crawl_env.instance, resources={"registry": RegistryResource()}, cursor=tick.cursor) as context:
        assert track_resolution_sensor(context).run_requests == []


def test_a_bad_export_fails_the_run_naming_the_file_and_stores_nothing(crawl_env, tmp_path):
    user_id = crawl_env.user_ids[0]
    bad = tmp_path / "Streaming_History_Audio_2024_0.json"
    bad.write_text('[{"ts": "2024-01-01T00:00:00Z", "ms_played": "long"}]')
    result = _import_run(crawl_env, user_id, [bad], raise_on_error=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert "Streaming_History_Audio_2024_0.json, entry 0: ms_played" in failure.step_failure_data.user_failure_data.description
    assert not (crawl_env.settings.landing_dir / "extended_history").exists()


def test_the_drop_folder_is_imported_once_it_stops_changing(crawl_env, tmp_path):
    user_id = crawl_env.user_ids[1]
    drop = crawl_env.settings.imports_dir / user_id
    drop.mkdir(parents=True)
    (drop / ".my_spotify_data.zip.part").write_bytes(b"still downloading")  # hidden: ignored
    path = _export(crawl_env, tmp_path, user_id)
    os.replace(path, drop / "my_spotify_data.zip")
    resources = {"registry": RegistryResource()}

    with build_sensor_context(instance=crawl_env.instance, resources=resources) as context:
        first = history_drop_sensor(context)
    assert first.run_requests == []  # seen once: maybe still being copied
    with build_sensor_context(instance=crawl_env.instance, resources=resources, cursor=first.cursor) as context:
        second = history_drop_sensor(context)
    [request] = second.run_requests
    assert request.partition_key == user_id
    assert request.run_config["ops"]["landing__extended_history"]["config"]["paths"] == [str(drop)]

    result = defs.resolve_job_def("import_history_job").execute_in_process(
        instance=crawl_env.instance, partition_key=user_id, run_config=request.run_config
    )
    assert result.success and materialization_metadata(result, ["landing", "extended_history"])["listens"] > 0
    # The same contents on the next tick: the same run key, so Dagster launches nothing new.
    with build_sensor_context(instance=crawl_env.instance, resources=resources, cursor=second.cursor) as context:
        third = history_drop_sensor(context)
    assert [r.run_key for r in third.run_requests] == [request.run_key]


def test_the_reports_sensor_rebuilds_once_for_several_imports(crawl_env):
    listens = AssetKey(["core", "listens"])
    crawl_env.instance.report_runless_asset_event(
        AssetMaterialization(listens, partition=crawl_env.user_ids[0], metadata={"history_listens_new": 0})
    )
    with build_sensor_context(instance=crawl_env.instance) as context:
        crawl_only = history_reports_sensor(context)
    assert crawl_only.run_requests == []  # a crawl's load is the hourly schedule's business
    for pending in (10, 0):
        crawl_env.instance.report_runless_asset_event(
            AssetMaterialization(IMPORTED, partition=crawl_env.user_ids[0], metadata={"pending_tracks": pending, "rebuild_reports": True})
        )
    crawl_env.instance.report_runless_asset_event(
        AssetMaterialization(IMPORTED, partition=crawl_env.user_ids[1], metadata={"pending_tracks": 0, "rebuild_reports": False})
    )
    with build_sensor_context(instance=crawl_env.instance, cursor=crawl_only.cursor) as context:
        result = history_reports_sensor(context)
    assert len(result.run_requests) == 1
    with build_sensor_context(instance=crawl_env.instance, cursor=result.cursor) as context:
        assert history_reports_sensor(context).run_requests == []


def test_resolution_waits_while_the_app_is_rate_limited(crawl_env):
    from datetime import datetime, timezone

    from listory_pipeline import runtime

    user_id = crawl_env.user_ids[0]
    crawl_env.instance.report_runless_asset_event(AssetMaterialization(IMPORTED, partition=user_id, metadata={"pending_tracks": 5}))
    runtime.pause_store(crawl_env.settings).record(
        runtime.default_app_key(crawl_env.settings), datetime.now(timezone.utc) + timedelta(hours=2), "QUOTA_EXCEEDED"
    )
    with build_sensor_context(instance=crawl_env.instance, resources={"registry": RegistryResource()}) as context:
        assert track_resolution_sensor(context).run_requests == []
