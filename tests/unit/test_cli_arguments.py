"""Values that used to crash or mislead the CLI: each is now a usage error that says what is wrong."""

from __future__ import annotations

import pytest

from listory_pipeline.cli import main
from listory_pipeline.settings import load_settings
from listory_pipeline.warehouse.connection import open_warehouse


@pytest.mark.parametrize(
    "argv, says",
    [
        (["report", "listens", "--user", "u", "--from", "0001-01-01", "--to", "9999-12-31"], "outside 1900-01-01"),
        (["report", "top-artists", "--user", "u", "--from", "2026-01-01", "--to", "2026-01-31", "--limit", "-1"], "0 or more"),
        (["login", "--port", "99999"], "a port is 0 to 65535"),
        (["ui", "--port", "-5"], "0 or more"),
        (["export", "--user", "u", "--from", "2026-02-30"], "expected YYYY-MM-DD"),
    ],
)
def test_bad_values_are_usage_errors(argv, says, capsys):
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    assert says in capsys.readouterr().err


def test_a_report_for_an_unknown_user_says_so(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LISTORY_HOME", str(tmp_path))
    settings = load_settings()
    with open_warehouse(settings.warehouse_path, publication=settings.publication) as warehouse:
        warehouse.conn.execute(
            "insert into core.users (user_id, display_name, timezone, status, updated_at) values ('ann', 'Ann', 'UTC', 'active', now())"
        )
    assert main(["report", "listens", "--user", "nobody", "--from", "2026-01-01", "--to", "2026-01-31"]) == 2
    assert "unknown user 'nobody'" in capsys.readouterr().err
    assert main(["report", "listens", "--user", "ann", "--from", "2026-01-01", "--to", "2026-01-03"]) == 0
    assert "no listens of ann" in capsys.readouterr().out
