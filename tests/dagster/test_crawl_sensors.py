"""The crawl sensor discovers users from the registry and the instance; these call it on an ephemeral instance."""

from __future__ import annotations

from dagster import DagsterInstance, build_sensor_context

from listory_pipeline import runtime
from listory_pipeline.defs.crawl.sensors import adaptive_crawl_sensor
from listory_pipeline.defs.resources import RegistryResource
from listory_pipeline.settings import load_settings


def test_a_new_user_gets_a_partition_and_an_immediate_first_crawl(tmp_path):
    home = tmp_path / "home"
    registry = runtime.user_registry(load_settings({"LISTORY_HOME": str(home)}))
    registry.register("newcomer", "rt-1", timezone_name="Europe/Berlin")
    registry.register("gone", "rt-2")
    registry.set_status("gone", "disabled")
    with DagsterInstance.ephemeral() as instance:
        context = build_sensor_context(instance=instance, resources={"registry": RegistryResource(listory_home=str(home))})
        result = adaptive_crawl_sensor(context)
        assert [r.partition_key for r in result.run_requests] == ["newcomer"]
        assert result.run_requests[0].run_key == "first-crawl:newcomer"
        assert [list(r.partition_keys) for r in result.dynamic_partitions_requests] == [["newcomer"]]

        # Once the partition exists, no second partition, and no second crawl while the first is not done.
        instance.add_dynamic_partitions("spotify_users", ["newcomer"])
        again = adaptive_crawl_sensor(build_sensor_context(
            instance=instance, cursor=result.cursor, resources={"registry": RegistryResource(listory_home=str(home))}))
        assert again.run_requests == [] and again.dynamic_partitions_requests == []


def test_a_removed_user_loses_their_partition_a_disabled_one_keeps_it(tmp_path):
    home = tmp_path / "home"
    registry = runtime.user_registry(load_settings({"LISTORY_HOME": str(home)}))
    registry.register("staying", "rt-1")
    registry.register("resting", "rt-2")
    registry.set_status("resting", "disabled")
    with DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions("spotify_users", ["staying", "resting", "removed"])
        context = build_sensor_context(instance=instance, resources={"registry": RegistryResource(listory_home=str(home))})
        result = adaptive_crawl_sensor(context)
        assert [r.partition_key for r in result.run_requests] == ["staying"]  # due (never crawled); not the others
        [request] = result.dynamic_partitions_requests
        assert type(request).__name__ == "DeleteDynamicPartitionsRequest"
        assert list(request.partition_keys) == ["removed"]


def test_the_runs_in_flight_are_found_by_status_without_reading_the_jobs_history(tmp_path):
    """Every crawl sensor tick asks which users have a crawl queued or running. Asked by job and
    status, SQLite read every kept run of the job to find them: ~9 ms a tick with a week's history."""
    import sqlite3

    from dagster import DagsterRun, DagsterRunStatus
    from dagster._core.utils import make_new_run_id
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    from listory_pipeline.defs.in_flight import users_in_flight

    (tmp_path / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    instance = DagsterInstance.from_config(str(tmp_path))

    def add(job_name: str, user_id: str, status: DagsterRunStatus) -> None:
        instance.add_run(DagsterRun(job_name=job_name, run_id=make_new_run_id(), status=status,
                                    tags={"dagster/partition": user_id}))

    for index in range(40):  # the history: finished crawls
        add("crawl_user_job", f"user-{index % 5}", DagsterRunStatus.FAILURE if index % 7 == 0 else DagsterRunStatus.SUCCESS)
    add("crawl_user_job", "running", DagsterRunStatus.STARTED)
    add("crawl_user_job", "waiting", DagsterRunStatus.NOT_STARTED)  # (queued runs need a code origin)
    add("import_history_job", "importing", DagsterRunStatus.STARTED)

    run_queries = []

    def note_run_queries(_conn, _cursor, statement, parameters, *_rest) -> None:
        if "FROM runs" in statement:
            run_queries.append((statement, parameters))

    event.listen(Engine, "before_cursor_execute", note_run_queries)
    try:
        crawling = users_in_flight(instance, {"crawl_user_job"})
        importing = users_in_flight(instance, {"import_history_job", "resolve_imported_tracks_job"})
    finally:
        event.remove(Engine, "before_cursor_execute", note_run_queries)
    assert crawling == {"running", "waiting"}
    assert importing == {"importing"}

    with sqlite3.connect(tmp_path / "history" / "runs.db") as database:
        plans = [" / ".join(row[-1] for row in database.execute("EXPLAIN QUERY PLAN " + statement, parameters))
                 for statement, parameters in run_queries]
    # an index led by the status (idx_run_status or idx_run_range), not the job's (pipeline_name, id)
    assert plans and all("(status=?)" in plan and "idx_runs_by_job" not in plan for plan in plans), plans
