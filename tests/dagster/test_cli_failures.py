"""Every `listory` command under the failures people meet: one line naming the problem, a non-zero exit, no traceback.

A busy warehouse, an unusable LISTORY_HOME, a wrong secret key, unwritable or odd output paths, a
time zone the warehouse holds that Python does not know, a taken port, an unreachable simulator.
"""

from __future__ import annotations

import io
import shutil
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pytest

from listory_pipeline.cli import main
from listory_pipeline.settings import load_settings

from tests.support.ports import free_port

HOLD_WRITER = textwrap.dedent(
    """
    import sys, time, duckdb
    conn = duckdb.connect(sys.argv[1])  # another pipeline writer, stuck
    print("holding", flush=True)
    time.sleep(120)
    """
)
TOO_LONG = "x" * 300  # a file name no file system takes: an OSError on write, even for root


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory) -> Path:
    """Two crawled simulated users, made once; each test works on its own copy."""
    home = tmp_path_factory.mktemp("demo") / "home"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LISTORY_HOME", str(home))
        patch.setenv("DAGSTER_HOME", "")  # recorded, so whatever the demo sets is removed afterwards
        for name in ("DAGSTER_HOME", "LISTORY_SIMULATOR_URL", "SPOTIFY_CLIENT_ID", "SPOTIFY_CLIENT_SECRET", "LISTORY_SECRET_KEY"):
            patch.delenv(name, raising=False)
        assert main(["demo", "--users", "2", "--no-history", "--no-reports"]) == 0
    return home


@pytest.fixture
def home(demo_home, tmp_path, monkeypatch) -> Path:
    copy = tmp_path / "home"
    shutil.copytree(demo_home, copy)
    monkeypatch.setenv("LISTORY_HOME", str(copy))
    monkeypatch.setenv("LISTORY_WAREHOUSE_LOCK_WAIT_SECONDS", "1")
    for name in ("LISTORY_SIMULATOR_URL", "SPOTIFY_CLIENT_ID", "SPOTIFY_CLIENT_SECRET", "LISTORY_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    return copy


@pytest.fixture
def fresh_home(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "fresh"
    monkeypatch.setenv("LISTORY_HOME", str(path))
    for name in ("LISTORY_SIMULATOR_URL", "SPOTIFY_CLIENT_ID", "SPOTIFY_CLIENT_SECRET", "LISTORY_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    return path


@pytest.fixture
def held_warehouse(home):
    """Another process holds the pipeline's DuckDB file for writing while the test runs."""
    writer = subprocess.Popen(
        [sys.executable, "-c", HOLD_WRITER, str(load_settings().warehouse_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert writer.stdout.readline().strip() == "holding"
        yield home
    finally:
        writer.kill()
        writer.wait()


def _one_line_failure(capsys, code: int, expected: int = 1) -> str:
    out, err = capsys.readouterr()
    assert code == expected, out + err
    assert "Traceback" not in out + err and "Stack Trace" not in err, err
    lines = [line for line in err.splitlines() if line.strip() and not line.endswith("%)")]  # not progress lines
    assert len(lines) == 1, err
    return lines[0]


def _drop_read_copy(home: Path) -> None:
    """A home whose pipeline file was never published: the first reader publishes it."""
    (home / "warehouse.duckdb").unlink()
    (home / "pipeline" / "publication.json").unlink()


def test_readers_say_the_warehouse_is_busy_when_there_is_no_read_copy_yet(held_warehouse, capsys):
    _drop_read_copy(held_warehouse)
    for argv in (
        ["sql", "select 1"],
        ["report", "listens", "--user", "sim-alice", "--from", "2026-01-01", "--to", "2026-01-31"],
        ["export", "--user", "sim-alice", "--format", "csv", "--out", str(held_warehouse.parent / "out.csv")],
    ):
        line = _one_line_failure(capsys, main(argv))
        assert "no read copy yet" in line and "locked by another process for 1 s" in line, (argv, line)
    assert not (held_warehouse.parent / "out.csv").exists()
    # the registry still answers: users list lists them, without the warehouse's columns
    assert main(["users", "list"]) == 0
    out, err = capsys.readouterr()
    assert "sim-alice" in out and "warehouse is busy" in out, out + err


def test_reports_build_on_a_busy_warehouse_says_so_at_once(held_warehouse, capsys):
    line = _one_line_failure(capsys, main(["reports", "build"]))
    assert line.startswith("reports not built: ") and "locked by another process for 1 s" in line


def test_reports_build_names_the_failed_node_and_counts_the_skipped_ones(fresh_home, monkeypatch, capsys):
    from listory_pipeline.defs.reports import cli_run

    failed = "error model.listory.int_users__report_dates: Runtime Error in model int_users__report_dates: Unknown TimeZone"
    run = cli_run.ReportRun(
        success=False, run_id="r1", seconds=1.0, failures=[failed, "skipped test.listory.a: ", "skipped test.listory.b: "]
    )
    monkeypatch.setattr(cli_run, "build_reports_as_run", lambda *args, **kwargs: run)
    assert main(["reports", "build"]) == 1
    err = capsys.readouterr().err
    assert [line for line in err.splitlines() if "FAILED" in line] == [f"  FAILED {failed}"]
    assert err.splitlines()[-1] == "  (2 more node(s) skipped because of that)"


def test_a_dbt_node_error_says_what_went_wrong_not_only_where():
    from listory_pipeline.reports.dbt_runner import _first_line

    message = (
        "Runtime Error in model int_users__report_dates (models/marts/int_users__report_dates.sql)\n"
        "  Not implemented Error: Unknown TimeZone 'Mars/Olympus_Mons'!\n  \n  Candidate time zones: ..."
    )
    assert _first_line(message).endswith("(models/marts/int_users__report_dates.sql): Not implemented Error: "
                                         "Unknown TimeZone 'Mars/Olympus_Mons'!")
    assert _first_line("Got 3 results, configured to fail if != 0\nmore") == "Got 3 results, configured to fail if != 0"


def test_a_wrong_secret_key_is_one_line(fresh_home, monkeypatch, capsys):
    monkeypatch.setenv("LISTORY_SECRET_KEY", "not-a-fernet-key")
    line = _one_line_failure(capsys, main(["crawl"]))
    assert "LISTORY_SECRET_KEY" in line


def test_import_history_with_another_key_stops_before_storing_anything(home, monkeypatch, capsys):
    from cryptography.fernet import Fernet

    export = home.parent / "my_spotify_data.zip"
    assert main(["simulator-export", "--user", "sim-bruno", "--days", "3", "--out", str(export)]) == 0
    capsys.readouterr()
    landed = home / "landing" / "extended_history"
    before = sorted(landed.rglob("*")) if landed.exists() else []
    monkeypatch.setenv("LISTORY_SECRET_KEY", Fernet.generate_key().decode())
    line = _one_line_failure(capsys, main(["import-history", "--user", "sim-bruno", str(export), "--no-reports"]))
    assert "cannot be decrypted" in line and "nothing was imported" in line
    assert (sorted(landed.rglob("*")) if landed.exists() else []) == before


def test_a_home_that_is_a_file_is_a_configuration_error(tmp_path, monkeypatch, capsys):
    path = tmp_path / "home"
    path.write_text("not a folder")
    monkeypatch.setenv("LISTORY_HOME", str(path))
    line = _one_line_failure(capsys, main(["users", "list"]), expected=2)
    assert line == f"configuration error: LISTORY_HOME {path} is a file, not a folder"


def test_an_unusable_registry_file_is_one_line(home, capsys):
    registry = home / "registry.sqlite"
    registry.unlink()
    registry.mkdir()  # sqlite cannot open it, even as root
    line = _one_line_failure(capsys, main(["users", "list"]))
    assert line.startswith("cannot use the files in LISTORY_HOME")


def test_a_damaged_read_copy_is_one_line(home, capsys):
    copy = home / "warehouse.duckdb"
    copy.chmod(0o600)
    copy.write_bytes(b"\0garbage" * 1000)
    line = _one_line_failure(capsys, main(["sql", "select 1"]))
    assert line.startswith("cannot open the warehouse: ") and "not a valid DuckDB database file" in line


def test_export_refuses_an_unknown_user_and_says_what_it_cannot_write(home, capsys):
    out = home.parent / "listens.csv"
    line = _one_line_failure(capsys, main(["export", "--user", "nobody", "--format", "csv", "--out", str(out)]), expected=2)
    assert line.startswith("unknown user 'nobody'") and not out.exists()
    line = _one_line_failure(capsys, main(["export", "--user", "sim-alice", "--format", "csv", "--out", str(home.parent)]), expected=2)
    assert "it is a folder" in line
    for fmt in ("parquet", "spotify-extended"):
        target = home.parent / f"{TOO_LONG}.{fmt}"
        code = main(["export", "--user", "sim-alice", "--format", fmt, "--out", str(target)])
        line = _one_line_failure(capsys, code)
        assert line.startswith(f"export failed: cannot write {target}: "), line
    assert sorted(p.name for p in home.parent.iterdir()) == ["home"]  # no partial file left


def test_report_checks_the_chart_target_and_says_what_it_cannot_write(home, capsys):
    report = ["report", "top-artists", "--user", "sim-alice", "--from", "2026-01-01", "--to", "2026-12-31"]
    missing = home.parent / "no-such-folder" / "chart.png"
    line = _one_line_failure(capsys, main([*report, "--chart", str(missing)]), expected=2)
    assert line == f"cannot write {missing}: the folder {missing.parent} does not exist"
    too_long = home.parent / f"{TOO_LONG}.svg"
    line = _one_line_failure(capsys, main([*report, "--chart", str(too_long)]))
    assert line.startswith(f"cannot write {too_long}: ")


def test_report_and_export_name_a_time_zone_python_does_not_know(home, capsys):
    with duckdb.connect(str(home / "pipeline" / "warehouse.duckdb")) as conn:
        conn.execute("update core.users set timezone = 'Mars/Olympus_Mons' where user_id = 'sim-bruno'")
    _drop_read_copy(home)
    report = ["report", "listens", "--user", "sim-bruno", "--from", "2026-01-01", "--to", "2026-12-31"]
    line = _one_line_failure(capsys, main(report))
    assert "Mars/Olympus_Mons" in line and "listory users set-timezone sim-bruno" in line
    export = ["export", "--user", "sim-bruno", "--format", "json", "--out", str(home.parent / "listens.json")]
    line = _one_line_failure(capsys, main(export))
    assert line.startswith("export failed: ") and "Mars/Olympus_Mons" in line


def test_sql_without_a_query(home, monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    line = _one_line_failure(capsys, main(["sql", "-"]), expected=2)
    assert line == "no SQL given on stdin"
    assert main(["sql", "-- only a comment"]) == 0


def test_simulator_export_paths_and_spans(fresh_home, capsys):
    target = fresh_home.parent / f"{TOO_LONG}.zip"
    line = _one_line_failure(capsys, main(["simulator-export", "--user", "sim-alice", "--days", "1", "--out", str(target)]))
    assert line.startswith(f"cannot write {target}: ")
    line = _one_line_failure(
        capsys, main(["simulator-export", "--user", "sim-alice", "--until-days-ago", "100000000"]), expected=2
    )
    assert "outside the calendar" in line


def test_demo_says_when_the_simulator_cannot_be_reached(fresh_home, monkeypatch, capsys):
    port = free_port()
    monkeypatch.setenv("LISTORY_SIMULATOR_URL", f"http://127.0.0.1:{port}")
    line = _one_line_failure(capsys, main(["demo", "--users", "1", "--no-history", "--no-reports"]))
    assert line.startswith(f"cannot reach the simulator at http://127.0.0.1:{port}")


def test_simulator_and_ui_say_when_their_port_is_taken(fresh_home, monkeypatch, capsys):
    from listory_pipeline.runner import supervise

    def no_dagster(*args, **kwargs):
        raise AssertionError("dagster dev was started although its port is taken")

    monkeypatch.setattr(supervise, "start_in_own_group", no_dagster)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        line = _one_line_failure(capsys, main(["simulator", "--port", port]))
        assert line.startswith(f"cannot listen on 127.0.0.1:{port} (")
        line = _one_line_failure(capsys, main(["ui", "--port", port]))
        assert line.startswith(f"cannot serve the UI on 127.0.0.1:{port} (")
