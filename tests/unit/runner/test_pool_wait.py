"""A run waiting for the warehouse's pool slot sleeps: it does not burn a core while it waits."""

from __future__ import annotations

import threading
import time

from dagster import DagsterInstance, job, op

from listory_pipeline.runner.dagster_fixes import apply_dagster_fixes

HELD_SECONDS = 3.0


@op(pool="duckdb")
def write_the_warehouse() -> int:
    return 1


@job
def pooled_job():
    write_the_warehouse()


def test_a_run_queued_behind_the_slot_holder_waits_without_spinning(tmp_path):
    apply_dagster_fixes()  # what both code locations do when they load
    home = tmp_path / "dagster"
    home.mkdir()
    (home / "dagster.yaml").write_text("concurrency:\n  pools:\n    default_limit: 1\ntelemetry:\n  enabled: false\n")
    instance = DagsterInstance.from_config(str(home))
    storage = instance.event_log_storage
    storage.set_concurrency_slots("duckdb", 1)
    assert storage.claim_concurrency_slot("duckdb", "another-run", "load").is_claimed  # another run's load holds it

    outcome = {}

    def run() -> None:
        cpu_started, wall_started = time.thread_time(), time.monotonic()
        result = pooled_job.execute_in_process(instance=instance)
        outcome.update(success=result.success, cpu=time.thread_time() - cpu_started, wall=time.monotonic() - wall_started)

    worker = threading.Thread(target=run)
    worker.start()
    time.sleep(HELD_SECONDS)
    storage.free_concurrency_slot_for_step("another-run", "load")
    worker.join(timeout=60)

    assert outcome["success"]
    assert outcome["wall"] >= HELD_SECONDS  # it did wait for the slot
    assert outcome["cpu"] < outcome["wall"] / 3  # Dagster 1.13 alone spins here: CPU about equal to the wait
