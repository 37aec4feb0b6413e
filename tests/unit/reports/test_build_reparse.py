"""dbt runs in this process and parses the project once: a new as-of date, a second build, a
fresh process that finds dbt's partial-parse state, a changed project file.

The as-of date travels as the environment variable LISTORY_REPORTS_AS_OF (read by the macro
only when a node runs), not as a dbt var, so no build needs a parse of its own.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date

import duckdb
import pytest

from listory_pipeline.reports import dbt_runner
from listory_pipeline.reports.build import build_reports
from listory_pipeline.reports.project import AS_OF_ENV, DBT_PROJECT_DIR, dbt_target_path
from listory_pipeline.settings import load_settings
from tests.unit.reports.builders import seed
from tests.unit.reports.hand_built import hand_built_catalog

SELECT = "+int_users__report_dates"  # the as-of date's model and its staging views: quick


def as_of_dates(settings) -> set[date]:
    conn = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        return {row[0] for row in conn.execute("select as_of_date from marts.int_users__report_dates").fetchall()}
    finally:
        conn.close()


@pytest.fixture
def parses(monkeypatch):
    """The project folders dbt parsed during the test."""
    parsed = []
    real = dbt_runner._parse

    def counting(settings, project_dir):
        parsed.append(project_dir)
        return real(settings, project_dir)

    monkeypatch.setattr(dbt_runner, "_parse", counting)
    return parsed


def test_a_new_as_of_date_is_used_without_a_reparse(tmp_path, monkeypatch, parses):
    monkeypatch.delenv(AS_OF_ENV, raising=False)
    settings = load_settings({"LISTORY_HOME": str(tmp_path)})
    seed(settings.warehouse_path, hand_built_catalog())

    first = build_reports(settings, date(2027, 1, 4), select=SELECT, tests=False, quiet=True)
    assert first.success, first.failures
    assert as_of_dates(settings) == {date(2027, 1, 4)}
    assert (dbt_target_path(settings) / "partial_parse.msgpack").exists()
    assert dbt_runner.is_warm(settings)

    second = build_reports(settings, date(2026, 12, 31), select=SELECT, tests=False, quiet=True)
    assert second.success, second.failures
    assert as_of_dates(settings) == {date(2026, 12, 31)}
    assert len(parses) <= 1  # the first build parsed (unless an earlier test left this home's parse); the second never
    assert AS_OF_ENV not in os.environ  # the build passes its environment to dbt only


def test_a_new_process_reuses_dbts_partial_parse_state(tmp_path):
    settings = load_settings({"LISTORY_HOME": str(tmp_path)})
    seed(settings.warehouse_path, hand_built_catalog())
    assert build_reports(settings, date(2027, 1, 4), select=SELECT, tests=False, quiet=True).success
    log = dbt_target_path(settings) / "dbt.log"
    log.unlink()
    probe = (
        "import sys; from datetime import date; from listory_pipeline.reports.build import build_reports; "
        "from listory_pipeline.settings import load_settings; "
        f"r = build_reports(load_settings({{'LISTORY_HOME': {str(tmp_path)!r}}}), date(2026, 12, 31), "
        f"select={SELECT!r}, tests=False, quiet=True); sys.exit(0 if r.success else 1)"
    )
    subprocess.run([sys.executable, "-c", probe], check=True)
    text = log.read_text()
    assert "Unable to do partial parsing" not in text
    assert "Partial parsing enabled" in text
    assert as_of_dates(settings) == {date(2026, 12, 31)}


def test_a_changed_project_file_is_parsed_again(tmp_path, monkeypatch, parses):
    settings = load_settings({"LISTORY_HOME": str(tmp_path)})
    seed(settings.warehouse_path, hand_built_catalog())
    assert build_reports(settings, date(2027, 1, 4), select=SELECT, tests=False, quiet=True).success
    before = len(parses)
    monkeypatch.setattr(dbt_runner, "project_fingerprint", lambda project_dir: "edited since the last parse")
    assert build_reports(settings, date(2027, 1, 4), select=SELECT, tests=False, quiet=True).success
    assert len(parses) == before + 1


def test_the_fingerprint_follows_the_project_files(tmp_path):
    import shutil

    project = tmp_path / "project"
    shutil.copytree(DBT_PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs"))
    before = dbt_runner.project_fingerprint(project)
    (project / "target").mkdir()
    (project / "target" / "manifest.json").write_text("{}")
    assert dbt_runner.project_fingerprint(project) == before  # dbt's output is not its input
    model = project / "models" / "marts" / "int_users__report_dates.sql"
    model.write_text(model.read_text() + "\n-- edited\n")
    assert dbt_runner.project_fingerprint(project) != before


def test_the_warehouse_is_released_after_a_build(tmp_path):
    settings = load_settings({"LISTORY_HOME": str(tmp_path)})
    seed(settings.warehouse_path, hand_built_catalog())
    assert build_reports(settings, date(2027, 1, 4), select=SELECT, tests=False, quiet=True).success
    # another process can write (a crawl load), and this one can open it read-write too
    writer = "import duckdb, sys; c = duckdb.connect(sys.argv[1]); c.execute('create table main.after_build as select 1'); c.close()"
    subprocess.run([sys.executable, "-c", writer, str(settings.warehouse_path)], check=True)
    conn = duckdb.connect(str(settings.warehouse_path))
    assert conn.execute("select count(*) from main.after_build").fetchall() == [(1,)]
    conn.close()


def test_a_malformed_as_of_date_fails_the_build_with_a_message(tmp_path, monkeypatch):
    settings = load_settings({"LISTORY_HOME": str(tmp_path)})
    seed(settings.warehouse_path, hand_built_catalog())
    monkeypatch.setattr(
        "listory_pipeline.reports.project.dbt_env",
        lambda s, as_of: {"LISTORY_WAREHOUSE_PATH": str(s.warehouse_path), AS_OF_ENV: "2027-01-04'; drop", "LISTORY_DEFAULT_TIMEZONE": "UTC"},
    )
    result = build_reports(settings, None, select=SELECT, tests=False, quiet=True)
    assert not result.success
    assert any("Compilation Error in model int_users__report_dates" in f for f in result.failures), result.failures
    log = (dbt_target_path(settings) / "dbt.log").read_text()
    assert "as-of date must be YYYY-MM-DD" in log
