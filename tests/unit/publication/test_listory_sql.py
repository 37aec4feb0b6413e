"""`listory sql`: the read copy, never the pipeline's file, and nothing but reading."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from listory_pipeline.cli import main
from listory_pipeline.settings import load_settings
from listory_pipeline.warehouse.connection import open_warehouse

HOLD_WRITER = textwrap.dedent(
    """
    import sys, time, duckdb
    conn = duckdb.connect(sys.argv[1])   # a pipeline run in the middle of a write
    conn.execute("begin transaction")
    print("holding", flush=True)
    time.sleep(60)
    """
)


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("LISTORY_HOME", str(tmp_path))
    settings = load_settings()
    with open_warehouse(settings.warehouse_path, publication=settings.publication) as warehouse:
        warehouse.conn.execute(
            "insert into core.users (user_id, display_name, timezone, status, updated_at) values ('ann', 'Ann', 'UTC', 'active', now())"
        )
    return settings


def test_it_answers_at_once_while_a_run_holds_the_pipeline_file(home, capsys):
    writer = subprocess.Popen([sys.executable, "-c", HOLD_WRITER, str(home.warehouse_path)], stdout=subprocess.PIPE, text=True)
    try:
        assert writer.stdout.readline().strip() == "holding"
        assert main(["sql", "select display_name from core.users"]) == 0
    finally:
        writer.kill()
        writer.wait()
    assert "Ann" in capsys.readouterr().out


@pytest.mark.parametrize(
    "query",
    [
        "copy core.users to '{home}/out.csv'",
        "select * from read_text('{home}/secret.key')",
        "attach '{home}/pipeline/warehouse.duckdb' as writable",
        "set enable_external_access = true",
        "delete from core.users",
    ],
)
def test_it_cannot_write_files_read_others_or_change_data(home, capsys, query):
    (home.home / "secret.key").write_text("not-for-sql")
    assert main(["sql", query.format(home=home.home)]) == 1
    captured = capsys.readouterr()
    assert "query failed" in captured.err and "not-for-sql" not in captured.out
    assert not (home.home / "out.csv").exists()
    assert main(["sql", "select count(*) as n from core.users"]) == 0
    assert "1" in capsys.readouterr().out


def test_a_negative_limit_is_refused(home, capsys):
    with pytest.raises(SystemExit) as exited:
        main(["sql", "select 1", "--limit", "-1"])
    assert exited.value.code == 2 and "must be 0 or more" in capsys.readouterr().err
