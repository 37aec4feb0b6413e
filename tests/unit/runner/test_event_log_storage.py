"""The embedded event log: run files from a compact template, read by Dagster's own storage too."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from dagster import (
    AssetCheckKey,
    AssetCheckResult,
    AssetCheckSpec,
    AssetKey,
    DagsterInstance,
    Definitions,
    Output,
    asset,
    define_asset_job,
    job,
    op,
)
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage

from listory_pipeline.runner.event_log_storage import TemplatedSqliteEventLogStorage, template_name
from listory_pipeline.runner.instance import EMBEDDED_DAGSTER_YAML, upgrade_instance_config

STOCK_YAML = "telemetry:\n  enabled: false\n"


@op
def count_to_ten(context) -> int:
    for step in range(10):
        context.log.info(f"step {step}")
    return 10


@job
def small_job():
    count_to_ten()


def _instance(home: Path, yaml: str) -> DagsterInstance:
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text(yaml, encoding="utf-8")
    return DagsterInstance.from_config(str(home))


def _pragma(path: Path, name: str):
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as connection:
        return connection.execute(f"PRAGMA {name}").fetchone()[0]


def _revision(path: Path) -> str:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as connection:
        return connection.execute("select version_num from alembic_version").fetchone()[0]


def test_a_run_file_is_a_compact_copy_of_the_stamped_template_and_half_the_size(tmp_path):
    stock = _instance(tmp_path / "stock", STOCK_YAML)
    stock_run = small_job.execute_in_process(instance=stock)
    compact = _instance(tmp_path / "compact", EMBEDDED_DAGSTER_YAML)
    compact_run = small_job.execute_in_process(instance=compact)

    assert isinstance(compact.event_log_storage, TemplatedSqliteEventLogStorage)
    runs = tmp_path / "compact" / "history" / "runs"
    assert (runs / template_name()).is_file()
    stock_file = tmp_path / "stock" / "history" / "runs" / f"{stock_run.run_id}.db"
    compact_file = runs / f"{compact_run.run_id}.db"
    assert _pragma(compact_file, "page_size") == 1024 and _pragma(compact_file, "journal_mode") == "wal"
    assert _revision(compact_file) == _revision(stock_file)  # the same schema revision, so no migration is needed
    assert compact_file.stat().st_size * 2 < stock_file.stat().st_size
    # the run is whole: the same events as on Dagster's own storage, and the template is not a run
    assert len(compact.all_logs(compact_run.run_id)) == len(stock.all_logs(stock_run.run_id))
    assert compact.event_log_storage.get_all_run_ids() == [compact_run.run_id]
    assert not list(runs.glob("*.tmp"))


def test_dagster_s_own_storage_reads_the_files_and_old_runs_stay_readable_after_the_upgrade(tmp_path):
    home = tmp_path / "home"
    before = _instance(home, STOCK_YAML)  # an instance from before the templated event log
    old_run = small_job.execute_in_process(instance=before)
    old_events = len(before.all_logs(old_run.run_id))
    before.dispose()

    upgraded_yaml = upgrade_instance_config(STOCK_YAML)
    after = _instance(home, upgraded_yaml)
    assert isinstance(after.event_log_storage, TemplatedSqliteEventLogStorage)
    new_run = small_job.execute_in_process(instance=after)
    assert len(after.all_logs(old_run.run_id)) == old_events
    after.dispose()

    back = _instance(home, STOCK_YAML)  # and a plain Dagster instance reads the templated run file
    assert len(back.all_logs(new_run.run_id)) == old_events
    assert {run.run_id for run in back.get_runs()} == {old_run.run_id, new_run.run_id}


def test_an_operator_s_storage_choice_is_left_alone():
    chosen = "storage:\n  postgres:\n    postgres_url: postgresql://example/dagster\n"
    assert "event_log_storage" not in upgrade_instance_config(chosen)
    assert upgrade_instance_config(EMBEDDED_DAGSTER_YAML) == EMBEDDED_DAGSTER_YAML


def test_a_run_file_another_process_created_first_is_never_replaced(tmp_path):
    instance = _instance(tmp_path / "home", EMBEDDED_DAGSTER_YAML)
    run = small_job.execute_in_process(instance=instance)
    events = len(instance.all_logs(run.run_id))

    # a second process (its own storage object) opening the same run file for the first time
    other = _instance(tmp_path / "home", EMBEDDED_DAGSTER_YAML)
    assert len(other.all_logs(run.run_id)) == events
    path = Path(other.event_log_storage.path_for_shard(run.run_id))
    other.event_log_storage._place_template_at(path)
    assert len(other.all_logs(run.run_id)) == events


@asset
def first_table() -> int:
    return 1


@asset(deps=[first_table], check_specs=[AssetCheckSpec("not_empty", asset="second_table")])
def second_table():
    yield Output(2)
    yield AssetCheckResult(passed=True)


tables_job = define_asset_job("tables_job", selection=[first_table, second_table])
tables = Definitions(assets=[first_table, second_table], jobs=[tables_job])


def _planned_events(instance: DagsterInstance, run_id: str) -> list[tuple[str, str]]:
    return [
        (entry.dagster_event_type.value, entry.dagster_event.step_key)
        for entry in instance.all_logs(run_id)
        if entry.dagster_event_type.value.endswith("_PLANNED")
    ]


def test_a_new_run_s_planned_events_are_written_once_per_file_and_read_as_dagster_s(tmp_path, monkeypatch):
    job_def = tables.resolve_job_def("tables_job")
    stock = _instance(tmp_path / "stock", STOCK_YAML)
    stock_run = stock.create_run_for_job(job_def)
    connections: list[str] = []
    original_connect = SqliteEventLogStorage._connect

    def counted_connect(self, shard):
        connections.append(shard)
        return original_connect(self, shard)

    monkeypatch.setattr(SqliteEventLogStorage, "_connect", counted_connect)
    compact = _instance(tmp_path / "compact", EMBEDDED_DAGSTER_YAML)
    connections.clear()
    compact_run = compact.create_run_for_job(job_def)
    opened = list(connections)

    # two asset and one check "planned" events, as Dagster's own storage records them
    assert _planned_events(compact, compact_run.run_id) == _planned_events(stock, stock_run.run_id)
    assert len(_planned_events(compact, compact_run.run_id)) == 3
    assert opened.count(compact_run.run_id) == 1  # one transaction on the run's file, not one per event
    assert opened.count("index") == 1
    planned = compact.get_latest_planned_materialization_info(AssetKey("second_table"))
    assert planned is not None and planned.run_id == compact_run.run_id  # the index knows the plan
    check = compact.event_log_storage.get_asset_check_execution_history(
        AssetCheckKey(AssetKey("second_table"), "not_empty"), limit=1
    )
    assert [record.run_id for record in check] == [compact_run.run_id]


def test_a_batch_that_fails_keeps_nothing_and_dagster_stores_the_events_one_by_one(tmp_path, monkeypatch):
    job_def = tables.resolve_job_def("tables_job")
    instance = _instance(tmp_path / "home", EMBEDDED_DAGSTER_YAML)
    storage = instance.event_log_storage
    original_store = TemplatedSqliteEventLogStorage.store_event
    stored_in_batch: list[str] = []

    def store_then_fail(self, event):
        original_store(self, event)
        stored_in_batch.append(event.dagster_event_type.value)
        if len(stored_in_batch) == 2 and self._batch.connections is not None:
            raise OSError("disk full")

    monkeypatch.setattr(TemplatedSqliteEventLogStorage, "store_event", store_then_fail)
    run = instance.create_run_for_job(job_def)

    # the two events written before the failure were rolled back, then all three stored singly
    assert len(_planned_events(instance, run.run_id)) == 3
    assert storage._batch.connections is None
