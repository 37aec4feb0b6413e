"""The adaptive crawl sensor against a real (ephemeral) instance with real crawl runs."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from dagster import build_sensor_context

from listory_pipeline import runtime
from listory_pipeline.crawl import scheduling
from listory_pipeline.definitions import defs
from listory_pipeline.defs.crawl.sensors import adaptive_crawl_sensor
from listory_pipeline.defs.resources import RegistryResource


def _tick(env, cursor=None):
    context = build_sensor_context(
        instance=env.instance,
        cursor=cursor,
        resources={"registry": RegistryResource(listory_home=str(env.home))},
    )
    return adaptive_crawl_sensor(context)


def test_first_tick_crawls_everyone_then_learns_from_materialisations(crawl_env):
    first = _tick(crawl_env)
    assert sorted(r.partition_key for r in first.run_requests) == sorted(crawl_env.user_ids)

    # Nothing is due right after everyone was requested.
    second = _tick(crawl_env, first.cursor)
    assert second.run_requests == []
    assert "no user is due" in second.skip_reason.skip_message

    job = defs.resolve_job_def("crawl_user_job")
    for user_id in crawl_env.user_ids:
        assert job.execute_in_process(instance=crawl_env.instance, partition_key=user_id).success
    third = _tick(crawl_env, second.cursor)
    cursor = scheduling.SchedulerCursor.from_json(third.cursor)
    truth = crawl_env.server.simulator
    for user_id in crawl_env.user_ids:
        newest = max(p for p, _ in truth.ground_truth(user_id, truth.clock.now() - timedelta(days=30), truth.clock.now()))
        assert abs(cursor.users[user_id].newest_play - newest.timestamp()) < 0.002
        assert cursor.users[user_id].failures == 0


def test_failed_runs_count_and_a_rate_limit_pause_holds_the_app(crawl_env):
    user_id = crawl_env.user_ids[0]
    first = _tick(crawl_env)
    crawl_env.server.simulator.revoke(user_id)
    job = defs.resolve_job_def("crawl_user_job")
    assert not job.execute_in_process(instance=crawl_env.instance, partition_key=user_id, raise_on_error=False).success
    cursor = scheduling.SchedulerCursor.from_json(_tick(crawl_env, first.cursor).cursor)
    assert cursor.users[user_id].failures == 1

    until = datetime.now(timezone.utc) + timedelta(hours=2)
    runtime.pause_store(crawl_env.settings).record(runtime.default_app_key(crawl_env.settings), until, "QUOTA_EXCEEDED")
    held = _tick(crawl_env)  # a fresh cursor: everyone would be due
    assert held.run_requests == []
    message = held.skip_reason.skip_message
    assert "QUOTA_EXCEEDED" in message and f"{until:%Y-%m-%d %H:%M}" in message

    # A crawl started anyway fails at once, without asking Spotify.
    other = crawl_env.user_ids[1]
    before = crawl_env.server.simulator.stats()["total"]
    result = job.execute_in_process(instance=crawl_env.instance, partition_key=other, raise_on_error=False)
    assert not result.success
    assert crawl_env.server.simulator.stats()["total"] == before


def test_a_running_crawl_is_not_requested_twice(crawl_env):
    from dagster import DagsterRunStatus

    user_id = crawl_env.user_ids[0]
    job = defs.resolve_job_def("crawl_user_job")
    crawl_env.instance.create_run_for_job(
        job, tags={"dagster/partition": user_id}, status=DagsterRunStatus.STARTED
    )
    result = _tick(crawl_env)
    assert user_id not in {r.partition_key for r in result.run_requests}
