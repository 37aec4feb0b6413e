"""The embedded Dagster instance under `LISTORY_HOME/dagster`.

SQLite storage (Dagster's default), a run queue with a concurrency limit, a
pool `duckdb` of one slot so only one step writes the warehouse at a time, and
the fork-server run launcher (see `runner.launcher`). The file is written once; an
operator's edits are kept, and only what a newer version of this package moved is
rewritten in place (see `upgrade_instance_config`).
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

from listory_pipeline.settings import Settings

TICK_RETENTION_YAML = """\
# Tick history: sensors tick every few seconds (43,200 ticks a day for a 2 s sensor), so ticks
# that did nothing go after a day, the rest after the run retention windows (dagster_retention_job).
retention:
  schedule:
    purge_after_days: 90
  sensor:
    purge_after_days:
      skipped: 1
      success: 14
      started: 14
      failure: 90
"""

AUTOMATION_DAEMONS_YAML = """\
# No asset here is automated by conditions or freshness policies (sensors and schedules start every
# run): the asset and freshness daemons would only poll. Set `enabled: true` when adding such policies.
auto_materialize:
  enabled: false
  use_sensors: false
freshness:
  enabled: false
"""

RUN_MONITORING_YAML = """\
# A run whose worker was killed outright (out of memory, power cut) is marked failed instead of staying
# STARTED for ever: the crawl sensors never start a second run for a user with one in flight.
run_monitoring:
  enabled: true
  poll_interval_seconds: 60
  start_timeout_seconds: 180
  cancel_timeout_seconds: 180
  max_resume_run_attempts: 0
"""

EVENT_LOG_STORAGE_YAML = """\
# Dagster's SQLite event log, each run's file made from a compact template (~85 KB a crawl run, not ~180).
event_log_storage:
  module: listory_pipeline.runner.event_log_storage
  class: TemplatedSqliteEventLogStorage
"""

# Top-level keys that choose the instance's storage: an operator who set one keeps their choice.
STORAGE_KEYS = ("storage", "run_storage", "event_log_storage", "schedule_storage")

EMBEDDED_DAGSTER_YAML = """\
# Embedded default instance for listory-pipeline (written by `listory`; edit freely).
# Storage: SQLite files in this folder. For PostgreSQL see deploy/dagster-postgres.yaml.
# Run workers are forked from a warm process: a crawl run costs ~0.6 CPU-s instead of ~2.4.
run_launcher:
  module: listory_pipeline.runner.launcher
  class: ForkserverRunLauncher
concurrency:
  runs:
    max_concurrent_runs: 4
  pools:
    default_limit: 1
telemetry:
  enabled: false
""" + EVENT_LOG_STORAGE_YAML + TICK_RETENTION_YAML + RUN_MONITORING_YAML + AUTOMATION_DAEMONS_YAML


# Module paths an older dagster.yaml may name, and where they live now.
MOVED_MODULES = {"listory_pipeline.run_launcher": "listory_pipeline.runner.launcher"}


def upgrade_instance_config(text: str) -> str:
    """`text` with every `module:` line that names a moved module pointed at its new home.

    Instances written before the run machinery moved into `runner/` would otherwise fail to
    load their launcher; those written before tick retention get it unless the operator set a
    `retention:` section of their own, those written before run monitoring get it unless they have a
    `run_monitoring:` section, those written before the asset and freshness daemons were turned
    off get that unless they set either, and those written before the templated event log get it
    unless the operator chose a storage (runs already stored stay readable: the files are the
    same kind). Nothing else in the operator's file is touched.
    """
    for old, new in MOVED_MODULES.items():
        text = re.sub(rf"^(\s*module:\s*){re.escape(old)}\s*$", rf"\g<1>{new}", text, flags=re.MULTILINE)
    if not re.search(r"^retention:", text, flags=re.MULTILINE):
        text = text.rstrip("\n") + "\n" + TICK_RETENTION_YAML  # an instance from before tick retention
    if not re.search(r"^run_monitoring:", text, flags=re.MULTILINE):
        text = text.rstrip("\n") + "\n" + RUN_MONITORING_YAML  # from before run monitoring
    if not re.search(r"^(auto_materialize|freshness):", text, flags=re.MULTILINE):
        text = text.rstrip("\n") + "\n" + AUTOMATION_DAEMONS_YAML  # from before the idle daemons were turned off
    if not any(re.search(rf"^{key}:", text, flags=re.MULTILINE) for key in STORAGE_KEYS):
        text = text.rstrip("\n") + "\n" + EVENT_LOG_STORAGE_YAML  # from before the templated event log
    return text


def ensure_dagster_home(settings: Settings) -> Path:
    """Create the instance folder and its dagster.yaml if missing (upgraded if old), and point DAGSTER_HOME at it."""
    home = Path(os.environ.get("DAGSTER_HOME") or settings.dagster_home)
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text(EMBEDDED_DAGSTER_YAML, encoding="utf-8")
    else:
        text = config.read_text(encoding="utf-8")
        upgraded = upgrade_instance_config(text)
        if upgraded != text:
            config.write_text(upgraded, encoding="utf-8")
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def open_and_close_instance(failure: str) -> bool:
    """Open the instance `DAGSTER_HOME` names and close it again; False, with `failure: <why>` on
    stderr, when it cannot be opened. Callers do it for what the opening leaves behind (the
    storage files created, modules imported), and each process using the instance afterwards
    reports a broken one itself: so this says why and carries on."""
    from dagster import DagsterInstance

    try:
        with DagsterInstance.get():
            return True
    except Exception as exc:  # noqa: BLE001 - see the docstring
        print(f"{failure} ({type(exc).__name__}: {exc})", file=sys.stderr)
        return False
