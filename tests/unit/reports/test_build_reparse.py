"""A new as-of date reaches dbt without making it re-parse the project.

The as-of date travels as the environment variable LISTORY_REPORTS_AS_OF (read by the macro
only when a node runs), not as a dbt var, and the target folder is stable per home: the second
build reuses dbt's partial-parse state (`partial_parse.msgpack`) and still uses the new date.
"""

from __future__ import annotations

import os
from datetime import date

import duckdb

from listory_pipeline.reports.build import build_reports
from listory_pipeline.reports.project import AS_OF_ENV, dbt_target_path
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


def test_a_new_as_of_date_is_used_without_a_reparse(tmp_path, monkeypatch):
    monkeypatch.delenv(AS_OF_ENV, raising=False)
    settings = load_settings({"LISTORY_HOME": str(tmp_path)})
    seed(settings.warehouse_path, hand_built_catalog())
    log = dbt_target_path(settings) / "dbt.log"

    first = build_reports(settings, date(2027, 1, 4), select=SELECT, tests=False, quiet=True)
    assert first.success, first.failures
    assert as_of_dates(settings) == {date(2027, 1, 4)}
    assert (dbt_target_path(settings) / "partial_parse.msgpack").exists()

    log.unlink()
    second = build_reports(settings, date(2026, 12, 31), select=SELECT, tests=False, quiet=True)
    assert second.success, second.failures
    assert as_of_dates(settings) == {date(2026, 12, 31)}
    text = log.read_text()
    assert "Unable to do partial parsing" not in text
    assert "Partial parsing enabled" in text
    assert AS_OF_ENV not in os.environ  # the build passes its environment to dbt only


def test_a_malformed_as_of_date_fails_the_build_with_a_message(tmp_path, monkeypatch):
    settings = load_settings({"LISTORY_HOME": str(tmp_path)})
    seed(settings.warehouse_path, hand_built_catalog())
    monkeypatch.setattr(
        "listory_pipeline.reports.build.dbt_env",
        lambda s, as_of: {"LISTORY_WAREHOUSE_PATH": str(s.warehouse_path), AS_OF_ENV: "2027-01-04'; drop", "LISTORY_DEFAULT_TIMEZONE": "UTC"},
    )
    result = build_reports(settings, None, select=SELECT, tests=False, quiet=True)
    assert not result.success
    assert any("Compilation Error in model int_users__report_dates" in f for f in result.failures), result.failures
    log = (dbt_target_path(settings) / "dbt.log").read_text()
    assert "as-of date must be YYYY-MM-DD" in log
