"""A forked run worker (runner/worker_io.py) keeps one connection per SQLite file for the run and
captures its output without tail processes; every event and every printed line is still stored."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from dagster import DagsterInstance, DagsterRunStatus, in_process_executor, job, op, reconstructable
from dagster._core.storage.compute_log_manager import ComputeIOType

from listory_pipeline.runner.instance import EMBEDDED_DAGSTER_YAML

REPO_ROOT = Path(__file__).resolve().parents[3]

# The worker body in a process of its own (holding connections is for the whole process), with
# every SQLite connection and every subprocess it starts counted.
WORKER = """
import json, sqlite3, sqlite3.dbapi2, subprocess, sys
from dagster import DagsterInstance
opened, started = [], []
real_connect, real_popen_init = sqlite3.connect, subprocess.Popen.__init__
def counting_connect(*args, **kwargs):
    opened.append(str(args[0]))
    return real_connect(*args, **kwargs)
def counting_popen(self, args, *rest, **kwargs):
    started.append(args[0] if isinstance(args, list) else args)
    return real_popen_init(self, args, *rest, **kwargs)
sqlite3.connect = sqlite3.dbapi2.connect = counting_connect  # SQLAlchemy calls the latter
subprocess.Popen.__init__ = counting_popen
from listory_pipeline.runner import launcher, worker_io
if sys.argv[3] == "dagster":  # what Dagster's own run worker does with its files and output
    worker_io.prepare_worker_process = lambda: None
instance = DagsterInstance.from_config(sys.argv[1])
del opened[:]  # the run's own, from here
launcher.run_worker(sys.argv[2], instance.get_ref(), {"DAGSTER_HOME": sys.argv[1], "PATH": "/usr/bin:/bin"})
def name(path):  # the run's own event file by a fixed name; the template is built once per Dagster version
    base = path.rsplit("/", 1)[-1]
    return "template" if "template" in base else "run.db" if base == sys.argv[2] + ".db" else base
by_file = {}
for path in opened:
    by_file[name(path)] = by_file.get(name(path), 0) + 1
print(json.dumps({"connections_by_file": by_file, "subprocesses": started}))
"""


@op
def say_hello() -> int:
    print("hello from the worker", flush=True)
    return 1


@op
def add_one(value: int) -> int:
    return value + 1


@job(executor_def=in_process_executor)  # as crawl_user_job
def printing_job():
    add_one(add_one(say_hello()))


def _run_in_worker(tmp_path: Path, mode: str) -> tuple[dict, DagsterInstance, str]:
    home = tmp_path / mode
    home.mkdir()
    (home / "dagster.yaml").write_text(EMBEDDED_DAGSTER_YAML)
    instance = DagsterInstance.from_config(str(home))
    run = instance.create_run_for_job(printing_job, job_code_origin=reconstructable(printing_job).get_python_origin())
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    finished = subprocess.run(
        [sys.executable, str(script), str(home), run.run_id, mode],
        capture_output=True, text=True, timeout=120, cwd=REPO_ROOT, env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )
    assert finished.returncode == 0, finished.stderr[-3000:]
    return json.loads(finished.stdout.strip().splitlines()[-1]), instance, run.run_id


def test_a_run_worker_opens_each_file_once_starts_no_tail_and_stores_every_event_and_line(tmp_path):
    ours, instance, run_id = _run_in_worker(tmp_path, "held")
    dagster, dagster_instance, dagster_run_id = _run_in_worker(tmp_path, "dagster")

    assert instance.get_run_by_id(run_id).status == DagsterRunStatus.SUCCESS
    # Dagster's way: a connection for every storage operation, and tail -F plus a watchdog per stream.
    assert dagster["connections_by_file"]["run.db"] > 20 and dagster["connections_by_file"]["runs.db"] > 10
    assert "tail" in dagster["subprocesses"]
    # Ours: a connection or two per file for the whole run, and no subprocess.
    assert ours["connections_by_file"]["run.db"] == ours["connections_by_file"]["index.db"] == 1
    assert ours["connections_by_file"]["runs.db"] <= 2
    assert ours["subprocesses"] == []
    # Nothing lost: the same events were stored, and the printed line is in the captured stdout.
    kinds = lambda inst, rid: sorted(e.dagster_event.event_type_value for e in inst.all_logs(rid) if e.dagster_event)  # noqa: E731
    assert kinds(instance, run_id) == kinds(dagster_instance, dagster_run_id)
    (file_key,) = [e.dagster_event.logs_captured_data.file_key for e in instance.all_logs(run_id)
                   if e.dagster_event and e.dagster_event.event_type_value == "LOGS_CAPTURED"]
    log_key = instance.compute_log_manager.build_log_key_for_run(run_id, file_key)
    captured = instance.compute_log_manager.get_log_data_for_type(log_key, ComputeIOType.STDOUT, 0, None)[0]
    assert b"hello from the worker" in captured
