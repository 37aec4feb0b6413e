"""The embedded event log: run files from a compact template, read by Dagster's own storage too."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from dagster import DagsterInstance, job, op

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
