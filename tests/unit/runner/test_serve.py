"""`listory ui`'s supervisor: what it prepares before the webserver and the daemon start."""

from __future__ import annotations

import sqlite3
import subprocess
from pathlib import Path

from listory_pipeline.runner import serve
from listory_pipeline.runner.instance import EMBEDDED_DAGSTER_YAML


def _recorded_versions(runs_db: Path) -> list[str]:
    with sqlite3.connect(f"file:{runs_db}?mode=ro", uri=True) as connection:
        return [row[0] for row in connection.execute("select version_num from alembic_version")]


def test_the_instance_storage_exists_with_one_version_before_the_webserver_and_the_daemon_start(tmp_path, monkeypatch):
    """Both processes creating a new instance at once could record two migration versions in
    runs.db, after which no process can open the instance again."""
    home = tmp_path / "dagster"
    home.mkdir()
    (home / "dagster.yaml").write_text(EMBEDDED_DAGSTER_YAML, encoding="utf-8")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setattr(serve, "_prepare_reports_manifest", lambda: None)
    versions_at_start: list[list[str]] = []
    real_popen = subprocess.Popen

    def popen(command, *args, **kwargs):
        if command not in serve.commands("127.0.0.1", 0).values():
            return real_popen(command, *args, **kwargs)
        versions_at_start.append(_recorded_versions(home / "history" / "runs.db"))
        raise KeyboardInterrupt  # stop there: `listory ui` stopped before anything ran

    monkeypatch.setattr(subprocess, "Popen", popen)
    assert serve.main(["--port", "0"]) == 0
    assert len(versions_at_start) == 1 and len(versions_at_start[0]) == 1


def test_a_broken_instance_is_reported_and_left_to_the_processes(tmp_path, monkeypatch, capsys):
    home = tmp_path / "dagster"
    home.mkdir()
    (home / "dagster.yaml").write_text("run_launcher: [not, a, mapping]\n", encoding="utf-8")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    serve._create_the_instance_storage()
    assert "the Dagster instance could not be opened" in capsys.readouterr().err
