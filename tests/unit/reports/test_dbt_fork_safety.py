"""A process forked after dbt parsed the project (every report run, forked from the fork server)
can parse and build on its own: no thread, lock or thread pool of the parent's parse is left
behind half-alive in the child."""

from __future__ import annotations

import subprocess
import sys
import textwrap

PROBE = textwrap.dedent(
    """
    import os, signal, sys
    from datetime import date
    from listory_pipeline.reports import dbt_runner
    from listory_pipeline.settings import load_settings

    parent_home, child_home = sys.argv[1], sys.argv[2]
    dbt_runner.warm_up(load_settings({"LISTORY_HOME": parent_home}))  # a full parse: no earlier state
    threads = len(os.listdir("/proc/self/task"))
    if threads != 1:
        sys.exit(f"{threads} threads left after the parse")
    pid = os.fork()
    if pid == 0:
        signal.alarm(120)  # a hang fails the test instead of blocking it
        from tests.unit.reports.builders import seed  # Polars: its thread pool starts in the child only
        from tests.unit.reports.hand_built import hand_built_catalog

        settings = load_settings({"LISTORY_HOME": child_home})  # another home: the child parses itself
        seed(settings.warehouse_path, hand_built_catalog())
        outcome = dbt_runner.invoke(settings, date(2027, 1, 4), ["run", "--select", "+int_users__report_dates"])
        os._exit(0 if outcome.success else 1)
    _, status = os.waitpid(pid, 0)
    sys.exit(f"child ended with status {status}" if status else 0)
    """
)


def test_a_child_forked_after_a_full_parse_parses_and_builds(tmp_path):
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(tmp_path / "parent"), str(tmp_path / "child")],
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
