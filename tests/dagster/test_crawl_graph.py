"""The crawl graph materialised by Dagster with real resources pointed at the simulator."""

from __future__ import annotations

import gzip

import duckdb

from listory_pipeline import runtime
from listory_pipeline.crawl import steps as crawl
from listory_pipeline.publication.snapshot import is_stale, publish, read_state
from listory_pipeline.definitions import defs
from tests.support.dagster_events import materialization_metadata


def _crawl(env, user_id, raise_on_error=True):
    job = defs.resolve_job_def("crawl_user_job")
    return job.execute_in_process(instance=env.instance, partition_key=user_id, raise_on_error=raise_on_error)


def test_definitions_load_with_the_crawl_job_and_sensors():
    repo = defs.get_repository_def()
    assert repo.has_job("crawl_user_job")
    assert {s.name for s in repo.sensor_defs} >= {"adaptive_crawl_sensor"}
    keys = {k.to_user_string() for k in repo.asset_graph.get_all_asset_keys()}
    assert {"landing/recently_played", "core/listens", "core/tracks", "core/artist_genres"} <= keys


def test_a_crawl_run_lands_loads_and_enriches(crawl_env, monkeypatch):
    user_id = crawl_env.user_ids[0]
    result = _crawl(crawl_env, user_id)
    assert result.success
    landing = materialization_metadata(result, ["landing", "recently_played"])
    listens = materialization_metadata(result, ["core", "listens"])
    genres = materialization_metadata(result, ["core", "artist_genres"])
    assert landing["plays_in_pull"] == 50
    first_materialized = {event.asset_key.to_user_string() for event in result.get_asset_materialization_events()}
    assert first_materialized == {"landing/recently_played", "core/listens", "core/artist_genres"} | {
        f"core/{table}" for table in ("tracks", "albums", "artists", "track_artists", "album_artists", "users")}
    assert landing["spotify_requests"] == {"total": 2, "token": 1, "recently_played": 1}
    assert listens["new_listens"] == 50
    assert listens["artist_genres_due"] is True  # its artists were new: the genres step fetched them
    assert listens["possible_gap"] is False
    assert listens["duckdb_write_statements"] <= 9
    assert genres["spotify_requests"] == {"total": 1, "artists_bulk": 1}
    checks = {e.event_specific_data.check_name: e.event_specific_data.passed for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"}
    assert checks == {"listens_unique_key": True, "listens_track_exists": True, "listens_not_in_future": True}
    with duckdb.connect(str(crawl_env.settings.warehouse_path), read_only=True) as conn:
        assert conn.execute("select count(*) from core.listens where user_id = ?", [user_id]).fetchone()[0] == 50
        assert conn.execute("select count(*) from core.artists where genres_checked_at is null").fetchone()[0] == 0

    # The same crawl again: the token is cached, nothing new, no catalog work, no new read copy.
    publication = crawl_env.settings.publication
    publish(publication, wait_seconds=5)  # the genres written after the load's copy (the trailing publish's job)
    generation = read_state(publication).generation
    enrichments = []
    real_enrich = crawl.enrich_artists
    monkeypatch.setattr(crawl, "enrich_artists", lambda *a, **k: enrichments.append(1) or real_enrich(*a, **k))
    again = _crawl(crawl_env, user_id)
    landed_again = materialization_metadata(again, ["landing", "recently_played"])
    assert landed_again["spotify_requests"] == {"total": 1, "recently_played": 1}
    assert landing["repeat_of"] == "" and landed_again["repeat_of"] == landing["pull_id"]  # the same answer: one line, no copy
    listens_again = materialization_metadata(again, ["core", "listens"])
    assert listens_again["new_listens"] == 0
    # the repeat was recorded without reading the answer again, and no artist awaits genres:
    # the genres step did not open the warehouse (nor ask Spotify)
    assert listens_again["repeats_already_loaded"] == 1 and listens_again["artist_genres_due"] is False
    assert enrichments == []
    assert read_state(publication).generation == generation and not is_stale(publication)
    # a repeat changes no catalog table and leaves no genres to fetch: those are not materialized again
    materialized = {event.asset_key.to_user_string() for event in again.get_asset_materialization_events()}
    assert materialized == {"landing/recently_played", "core/listens"}
    assert len(crawl_env.instance.all_logs(again.run_id)) <= 30


def test_a_revoked_user_fails_clearly_and_is_marked_revoked(crawl_env):
    user_id = crawl_env.user_ids[1]
    crawl_env.server.simulator.revoke(user_id)
    result = _crawl(crawl_env, user_id, raise_on_error=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert "revoked access" in failure.step_failure_data.user_failure_data.description
    registry = runtime.user_registry(crawl_env.settings)
    assert registry.get(user_id).status == "revoked"
    # The next run stops before asking Spotify anything.
    before = crawl_env.server.simulator.stats()["total"]
    again = _crawl(crawl_env, user_id, raise_on_error=False)
    assert not again.success
    assert crawl_env.server.simulator.stats()["total"] == before


def test_secrets_stay_out_of_logs_metadata_landing_and_warehouse(crawl_env, caplog):
    user_id = crawl_env.user_ids[0]
    simulator = crawl_env.server.simulator
    refresh_token = simulator.refresh_token_for(user_id)
    client_secret = simulator.config.client_secret
    assert _crawl(crawl_env, user_id).success
    cache = runtime.spotify_client(crawl_env.settings).token_cache
    access_token = cache.get(f"user:{simulator.config.client_id}:{user_id}").value
    secrets = [refresh_token, client_secret, access_token]

    texts = [record.getMessage() for record in caplog.records]
    for run in crawl_env.instance.get_runs():
        texts.append(repr(run.run_config))
        for entry in crawl_env.instance.all_logs(run.run_id):
            texts.append(entry.user_message or "")
            if entry.dagster_event is not None:
                texts.append(repr(entry.dagster_event.event_specific_data))
    for path in crawl_env.home.rglob("*"):
        if path.is_file() and path.suffix in {".json", ".jsonl", ".yaml", ".log"}:
            texts.append(path.read_text(errors="replace"))
        elif path.is_file() and path.suffix == ".gz":  # landed answers
            texts.append(gzip.decompress(path.read_bytes()).decode(errors="replace"))
    with duckdb.connect(str(crawl_env.settings.warehouse_path), read_only=True) as conn:
        tables = conn.execute(
            "select table_schema, table_name from information_schema.tables where table_type = 'BASE TABLE'"
        ).fetchall()
        for schema, table in tables:
            texts.append(repr(conn.execute(f'select * from "{schema}"."{table}"').fetchall()))
    blob = "\n".join(texts)
    for secret in secrets:
        assert secret not in blob
    # The registry and token cache hold the tokens, but only encrypted.
    for name in ("registry.sqlite", "token-cache.sqlite"):
        raw = (crawl_env.home / name).read_bytes()
        assert refresh_token.encode() not in raw and access_token.encode() not in raw
