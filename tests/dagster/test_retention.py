"""Dagster's history purged by the retention policy: old runs go, scheduling and the UI's latest state stay.

The same purge on the embedded SQLite instance (with its per-run files and VACUUM) and on the
production PostgreSQL instance.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

from dagster import AssetCheckKey, AssetKey, DagsterEventType, DagsterInstance, DagsterRunStatus

from listory_pipeline.crawl import scheduling
from listory_pipeline.definitions import defs
from listory_pipeline.defs.crawl.sensors import learn_from_event_log
from listory_pipeline.retention.policy import RetentionPolicy
from listory_pipeline.retention.purge import purge_old_runs
from listory_pipeline.runner.instance import EMBEDDED_DAGSTER_YAML
from listory_pipeline.warehouse.checks import LISTEN_CHECKS

LANDING_KEY = AssetKey(["landing", "recently_played"])
LISTEN_CHECK_KEYS = [AssetCheckKey(AssetKey(["core", "listens"]), name) for name in LISTEN_CHECKS]


def _learned(instance) -> dict:
    """What the adaptive crawl sensor knows of every user when it starts from an empty cursor."""
    cursor = scheduling.SchedulerCursor.from_json(None)
    learn_from_event_log(instance, cursor)
    return {user: (state.last_success, state.newest_play, state.failures) for user, state in cursor.users.items()}


def _latest_by_partition(instance) -> dict:
    return dict(instance.get_latest_storage_id_by_partition(LANDING_KEY, DagsterEventType.ASSET_MATERIALIZATION))


def _crawl_history(instance, user_ids) -> dict[str, list[str]]:
    """Four crawls of one user, three of the other, one failed run: run ids by kind, oldest first.

    Each user's first crawl got the only new answer: it holds their latest core/tracks (and
    the other catalog tables') materialization, as the last one holds the latest landing's.
    """
    job = defs.resolve_job_def("crawl_user_job")
    instance.add_dynamic_partitions("spotify_users", [*user_ids, "ghost"])
    runs = {"a": [], "b": [], "failed": []}
    for name, user_id, times in (("a", user_ids[0], 4), ("b", user_ids[1], 3)):
        for _ in range(times):
            result = job.execute_in_process(instance=instance, partition_key=user_id)
            assert result.success
            runs[name].append(result.run_id)
    failed = job.execute_in_process(instance=instance, partition_key="ghost", raise_on_error=False)  # not registered
    assert not failed.success
    runs["failed"].append(failed.run_id)
    return runs


def _runs_with_check_executions(instance) -> set[str]:
    """The runs the UI's check history of core/listens lists."""
    return {
        record.run_id
        for key in LISTEN_CHECK_KEYS
        for record in instance.event_log_storage.get_asset_check_execution_history(key, limit=100)
    }


def _middle(runs) -> list[str]:
    """The crawls that hold no latest materialization: what the purge deletes."""
    return runs["a"][1:-1] + runs["b"][1:-1]


def _purge_and_restart(open_instance, crawl_env, policy_now=None):
    with open_instance() as instance:
        runs = _crawl_history(instance, crawl_env.user_ids)
        learned, latest = _learned(instance), _latest_by_partition(instance)
        assert set(_middle(runs)) <= _runs_with_check_executions(instance)
        now = datetime.now(timezone.utc) + timedelta(days=20)  # successes are past 14 days, the failure is not past 90
        outcome = purge_old_runs(instance, RetentionPolicy(success_days=14, failure_days=90), now)
        assert outcome.deleted_runs == 3 and outcome.deleted_by_status == {"SUCCESS": 3}
        # Dagster's delete_run leaves a run's check executions behind: the purge deletes them too
        assert outcome.check_executions_removed == 3 * len(LISTEN_CHECK_KEYS)
        assert outcome.kept_protected == 4  # each user's first and newest crawls hold their latest materializations
        kept = {run.run_id for run in instance.get_runs()}
        assert kept == {runs["a"][0], runs["a"][-1], runs["b"][0], runs["b"][-1], runs["failed"][0]}
        assert all(instance.get_run_by_id(run_id) is None for run_id in _middle(runs))
        landed = instance.fetch_materializations(LANDING_KEY, limit=100).records
        assert {record.run_id for record in landed} == kept - {runs["failed"][0]}  # their events went too
        assert _runs_with_check_executions(instance) == kept  # the failed run's checks: planned, never run
    with open_instance() as instance:  # a daemon restart: nothing but what the instance stored
        assert _learned(instance) == learned
        assert _latest_by_partition(instance) == latest
        assert purge_old_runs(instance, RetentionPolicy(), now).deleted_runs == 0  # again: nothing more to do
        later = purge_old_runs(instance, RetentionPolicy(), now + timedelta(days=80))
        assert later.deleted_by_status == {"FAILURE": 1}
        assert later.check_executions_removed == len(LISTEN_CHECK_KEYS)
        assert _learned(instance) == {user: state for user, state in learned.items() if user != "ghost"}
    return runs, outcome


def test_purge_on_the_embedded_sqlite_instance_keeps_scheduling_and_reclaims_files(crawl_env, tmp_path):
    home = tmp_path / "dagster"
    home.mkdir()
    (home / "dagster.yaml").write_text(EMBEDDED_DAGSTER_YAML)
    runs, outcome = _purge_and_restart(lambda: DagsterInstance.from_config(str(home)), crawl_env)
    assert outcome.shard_files_removed == 3 and outcome.shard_bytes_removed > 3 * 40_000  # whole run files
    for run_id in _middle(runs):
        assert not (home / "history" / "runs" / f"{run_id}.db").exists()
        assert not (home / "storage" / run_id).exists()
    assert (home / "history" / "runs" / f"{runs['a'][-1]}.db").exists()


def test_the_retention_job_runs_from_the_crawl_location_and_reports_what_it_did(crawl_env, tmp_path):
    home = tmp_path / "dagster"
    home.mkdir()
    (home / "dagster.yaml").write_text(EMBEDDED_DAGSTER_YAML)
    with DagsterInstance.from_config(str(home)) as instance:
        runs = _crawl_history(instance, crawl_env.user_ids)
        time.sleep(1.5)
        result = defs.resolve_job_def("dagster_retention_job").execute_in_process(
            instance=instance,
            run_config={"ops": {"purge_old_dagster_runs": {"config": {"success_days": 1 / 86_400}}}},
            resources={"registry": _registry(crawl_env)},
        )
        assert result.success
        [output] = [e for e in result.all_events if e.event_type_value == "STEP_OUTPUT"]
        metadata = {key: value.value for key, value in output.event_specific_data.metadata.items()}
        assert metadata["deleted_runs"] == 3 and metadata["kept_as_latest"] == 4 and metadata["run_files_removed"] == 3
        assert metadata["check_executions_removed"] == 3 * len(LISTEN_CHECK_KEYS)
        assert metadata["sqlite_bytes_after"] <= metadata["sqlite_bytes_before"]
        left = {run.run_id for run in instance.get_runs()}
        assert left == {runs["a"][0], runs["a"][-1], runs["b"][0], runs["b"][-1], runs["failed"][0], result.run_id}
        assert instance.get_run_by_id(result.run_id).status == DagsterRunStatus.SUCCESS
    schedule = defs.resolve_schedule_def("dagster_retention_schedule")
    assert schedule.job_name == "dagster_retention_job" and schedule.cron_schedule == "17 3 * * *"


def _registry(crawl_env):
    from listory_pipeline.defs.resources import RegistryResource

    return RegistryResource(listory_home=str(crawl_env.home))


def test_purge_on_the_postgres_instance_keeps_scheduling(production_dagster_home, crawl_env):
    _purge_and_restart(lambda: DagsterInstance.from_config(str(production_dagster_home)), crawl_env)
