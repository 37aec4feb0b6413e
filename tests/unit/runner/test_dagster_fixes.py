"""Dagster corrections (runner/dagster_fixes.py): a run waiting for the warehouse's pool slot
sleeps, storages read their migration scripts once per process but still see an old database,
SQLite engines are reused without holding any file open, and a runs page read again parses no run
body again."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from dagster import DagsterInstance, job, op

import sqlalchemy
from sqlalchemy.pool import NullPool
from alembic.script import ScriptDirectory
from dagster._core.storage import sql as dagster_sql
from dagster._core.storage.event_log.sqlite import sqlite_event_log

from listory_pipeline.runner import dagster_fixes
from listory_pipeline.runner.dagster_fixes import apply_dagster_fixes

HELD_SECONDS = 3.0
REPO_ROOT = Path(__file__).resolve().parents[3]

# A run worker of its own (a process, the run in its main thread, as the launcher runs it):
# it says when it starts the run, then how long the run took and the CPU it spent.
POOLED_RUN = """
import json, sys, time
from dagster import DagsterInstance
from listory_pipeline.runner.dagster_fixes import apply_dagster_fixes
from tests.unit.runner.test_dagster_fixes import pooled_job
if sys.argv[2] == "fixed":
    apply_dagster_fixes()  # what both code locations do when they load

instance = DagsterInstance.from_config(sys.argv[1])
print("starting", flush=True)
cpu_started, wall_started = time.process_time(), time.monotonic()
result = pooled_job.execute_in_process(instance=instance)
print(json.dumps({"success": result.success, "cpu": time.process_time() - cpu_started,
                  "wall": time.monotonic() - wall_started}), flush=True)
"""


@op(pool="duckdb")
def write_the_warehouse() -> int:
    return 1


@job
def pooled_job():
    write_the_warehouse()


def _run_queued_behind_the_slot(tmp_path, mode: str) -> dict:
    home = tmp_path / mode
    home.mkdir()
    (home / "dagster.yaml").write_text("concurrency:\n  pools:\n    default_limit: 1\ntelemetry:\n  enabled: false\n")
    storage = DagsterInstance.from_config(str(home)).event_log_storage
    storage.set_concurrency_slots("duckdb", 1)
    assert storage.claim_concurrency_slot("duckdb", "another-run", "load").is_claimed  # another run's load holds it
    script = tmp_path / "pooled_run.py"
    script.write_text(POOLED_RUN)
    worker = subprocess.Popen([sys.executable, str(script), str(home), mode], stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True, env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
    try:
        assert worker.stdout.readline().strip() == "starting"
        time.sleep(HELD_SECONDS)
        storage.free_concurrency_slot_for_step("another-run", "load")
        out, _ = worker.communicate(timeout=120)
    finally:
        worker.kill()
    return json.loads(out.strip().splitlines()[-1])


def test_a_run_queued_behind_the_slot_holder_waits_without_spinning(tmp_path):
    fixed = _run_queued_behind_the_slot(tmp_path, "fixed")
    assert fixed["success"] and fixed["wall"] >= HELD_SECONDS  # it did wait for the slot
    assert fixed["cpu"] < fixed["wall"] / 3
    unfixed = _run_queued_behind_the_slot(tmp_path, "dagster")  # Dagster 1.13 alone spins: CPU about the wait
    assert unfixed["success"] and unfixed["cpu"] > fixed["cpu"] + HELD_SECONDS / 3


def test_an_instance_opened_again_reads_no_migration_script_and_an_old_database_is_still_seen(tmp_path, monkeypatch):
    apply_dagster_fixes()
    home = tmp_path / "dagster"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    DagsterInstance.from_config(str(home)).dispose()
    script_reads = []
    original = ScriptDirectory.from_config.__func__
    monkeypatch.setattr(ScriptDirectory, "from_config", classmethod(lambda cls, *a, **k: script_reads.append(1) or original(cls, *a, **k)))
    again = DagsterInstance.from_config(str(home))  # what a code server does for every sensor tick
    again.get_runs()
    again.dispose()
    assert script_reads == []

    config = dagster_sql.get_alembic_config(sqlite_event_log.__file__)
    engine = sqlalchemy.create_engine(f"sqlite:///{tmp_path / 'old.db'}")
    scripts = original(ScriptDirectory, config)
    newest = scripts.as_revision_number("head")
    older = scripts.get_revision(newest).down_revision
    with engine.connect() as connection:
        dagster_sql.stamp_alembic_rev(config, connection, rev=older)  # a database from an older Dagster
        assert dagster_fixes.check_alembic_revision(config, connection) == (older, newest)
        dagster_sql.stamp_alembic_rev(config, connection, rev="head")
        assert dagster_fixes.check_alembic_revision(config, connection) == (newest, newest)


def _open_files_under(folder) -> list[str]:
    paths = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith(str(folder)):
            paths.append(target)
    return paths


def test_sqlite_engines_are_reused_but_hold_no_file_open(tmp_path):
    apply_dagster_fixes()
    assert sqlite_event_log.create_engine is dagster_fixes.create_engine  # what Dagster's SQLite storages call
    url = f"sqlite:///{tmp_path / 'reused.db'}"
    assert dagster_fixes.create_engine(url, poolclass=NullPool) is dagster_fixes.create_engine(url, poolclass=NullPool)
    assert dagster_fixes.create_engine(url, poolclass=NullPool) is not dagster_fixes.create_engine(
        url, poolclass=NullPool, connect_args={"timeout": 5}
    )
    assert dagster_fixes.create_engine(url) is not dagster_fixes.create_engine(url)  # pooling engines: never shared

    home = tmp_path / "dagster"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    instance = DagsterInstance.from_config(str(home))
    first = pooled_job.execute_in_process(instance=instance)
    assert _open_files_under(home / "history") == []  # the retention job can delete any run's file
    shard = home / "history" / "runs" / f"{first.run_id}.db"
    events = len(instance.all_logs(first.run_id))
    shard.unlink()  # what the retention job does after delete_run
    assert not shard.exists()
    second = pooled_job.execute_in_process(instance=instance)
    assert len(instance.all_logs(second.run_id)) == events


# A daemon's day in miniature: sensor state read and written many times, in a process of its own
# (holding connections is for the whole process). Every connection and table-list query counted.
DAEMON_LIKE = """
import json, sqlite3, sqlite3.dbapi2, sys
opened, table_lists = [], []
real_connect = sqlite3.connect
def counting_connect(*args, **kwargs):
    opened.append(str(args[0]).rsplit("/", 1)[-1])
    connection = real_connect(*args, **kwargs)
    connection.set_trace_callback(lambda sql: table_lists.append(sql) if "sqlite_master" in sql else None)
    return connection
sqlite3.connect = sqlite3.dbapi2.connect = counting_connect
from dagster import DagsterInstance
from dagster._core.scheduler.instigation import InstigatorState, InstigatorStatus, InstigatorType, SensorInstigatorData
from dagster._core.remote_origin import RemoteInstigatorOrigin, RemoteRepositoryOrigin, GrpcServerCodeLocationOrigin
from listory_pipeline.runner import dagster_fixes
if sys.argv[2] == "held":  # what runner/daemon.py does; "plain" is Dagster as it is
    dagster_fixes.apply_dagster_fixes()
    dagster_fixes.hold_sqlite_connections(only=dagster_fixes.SHARED_FILES)
instance = DagsterInstance.from_config(sys.argv[1])
origin = RemoteInstigatorOrigin(RemoteRepositoryOrigin(GrpcServerCodeLocationOrigin(port=1, host="h", location_name="loc"), "repo"), "s")
state = InstigatorState(origin, InstigatorType.SENSOR, InstigatorStatus.RUNNING, SensorInstigatorData(cursor="0"))
instance.add_instigator_state(state)
del opened[:], table_lists[:]
for tick in range(20):
    stored = instance.get_instigator_state(origin.get_id(), state.selector_id)
    instance.update_instigator_state(stored.with_data(SensorInstigatorData(cursor=str(tick))))
assert instance.get_instigator_state(origin.get_id(), state.selector_id).instigator_data.cursor == "19"
print(json.dumps({"schedules_connections": opened.count("schedules.db"), "table_lists": len(table_lists)}))
"""


def _daemon_like(tmp_path, mode: str) -> dict:
    home = tmp_path / mode
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    script = tmp_path / "daemon_like.py"
    script.write_text(DAEMON_LIKE)
    done = subprocess.run([sys.executable, str(script), str(home), mode], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_daemon_keeps_one_connection_to_the_tick_database_and_reads_its_table_list_once(tmp_path):
    plain, held = _daemon_like(tmp_path, "plain"), _daemon_like(tmp_path, "held")
    assert plain["schedules_connections"] >= 40  # a connection per read and per write
    assert plain["table_lists"] >= 20  # the table list read before every state read or write
    assert held["schedules_connections"] == 0  # the one opened when the state was added, kept
    assert held["table_lists"] == 0  # the tables were seen when the state was added: remembered


def test_counting_runs_counts_the_same_runs_without_reading_their_bodies(tmp_path):
    """The runs page counts runs on every refresh; Dagster's count read every run's serialized body."""
    from dagster import RunsFilter
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    apply_dagster_fixes()
    (tmp_path / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    instance = DagsterInstance.from_config(str(tmp_path))
    for index in range(30):
        instance.create_run_for_job(pooled_job, tags={"even": str(index % 2 == 0)})
    statements = []
    listener = lambda conn, cursor, statement, *rest: statements.append(statement)  # noqa: E731
    event.listen(Engine, "before_cursor_execute", listener)
    try:
        assert instance.get_runs_count() == 30
        assert instance.get_runs_count(RunsFilter(tags={"even": "True"})) == 15
        assert instance.get_runs_count(RunsFilter(job_name="pooled_job", exclude_subruns=True)) == 30
    finally:
        event.remove(Engine, "before_cursor_execute", listener)
    counts = [s for s in statements if "count(" in s.lower()]
    assert len(counts) == 3 and not [s for s in counts if "run_body" in s]


def test_the_runs_page_read_again_parses_no_run_body_and_still_sees_every_change(tmp_path, monkeypatch):
    """The UI refreshes its runs page while it is open: the same finished runs were parsed anew each time,
    and the run storage asked twice whether its backfill index was built."""
    from dagster import RunsFilter
    from dagster._core.storage.dagster_run import DagsterRunStatus
    from dagster_shared import serdes
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    apply_dagster_fixes()
    (tmp_path / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    instance = DagsterInstance.from_config(str(tmp_path))
    runs = [instance.create_run_for_job(pooled_job, tags={"index": str(index)}) for index in range(26)]

    def page() -> dict:
        return {record.dagster_run.run_id: record.dagster_run
                for record in instance.get_run_records(RunsFilter(exclude_subruns=True), limit=26)}

    first = page()
    parsed, index_checks = [], []
    real_deserialize = serdes.deserialize_value
    monkeypatch.setattr(serdes, "deserialize_value", lambda *args, **kwargs: parsed.append(args) or real_deserialize(*args, **kwargs))

    def note_index_checks(_conn, _cursor, statement, *_rest) -> None:
        if "secondary_indexes" in statement:
            index_checks.append(statement)

    event.listen(Engine, "before_cursor_execute", note_index_checks)
    try:
        assert page() == first
        assert parsed == [] and index_checks == []
        # a change writes a new body or a new status: the page shows it
        instance.add_run_tags(runs[-1].run_id, {"index": "changed"})
        instance.report_run_failed(runs[0])
        changed = page()
    finally:
        event.remove(Engine, "before_cursor_execute", note_index_checks)
    assert changed[runs[-1].run_id].tags["index"] == "changed"
    assert changed[runs[0].run_id].status == DagsterRunStatus.FAILURE
    assert changed[runs[1].run_id] == first[runs[1].run_id]
    assert 1 <= len(parsed) <= 2  # the changed bodies were parsed, the 24 others were not
