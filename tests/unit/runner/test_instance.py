"""The embedded instance's dagster.yaml: written once, the operator's edits kept, moved modules followed, tick retention added."""

from __future__ import annotations

from dagster import DagsterInstance
from dagster._core.definitions.run_request import InstigatorType
from dagster._core.scheduler.instigation import TickStatus

from listory_pipeline.runner.instance import EMBEDDED_DAGSTER_YAML, ensure_dagster_home
from listory_pipeline.runner.launcher import ForkserverRunLauncher
from listory_pipeline.settings import load_settings

# What `listory` wrote before the run machinery moved into listory_pipeline/runner/, with an operator's edit.
OLD_EMBEDDED_YAML = """\
run_launcher:
  module: listory_pipeline.run_launcher
  class: ForkserverRunLauncher
concurrency:
  runs:
    max_concurrent_runs: 2   # edited by the operator
telemetry:
  enabled: false
"""


def _settings(tmp_path, monkeypatch):
    monkeypatch.setenv("LISTORY_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    return load_settings()


def test_a_new_home_gets_the_embedded_instance(tmp_path, monkeypatch):
    home = ensure_dagster_home(_settings(tmp_path, monkeypatch))
    assert (home / "dagster.yaml").read_text(encoding="utf-8") == EMBEDDED_DAGSTER_YAML


def test_an_instance_written_before_the_move_loads_its_launcher_and_keeps_its_edits(tmp_path, monkeypatch):
    settings = _settings(tmp_path, monkeypatch)
    settings.dagster_home.mkdir(parents=True)
    (settings.dagster_home / "dagster.yaml").write_text(OLD_EMBEDDED_YAML, encoding="utf-8")

    home = ensure_dagster_home(settings)

    text = (home / "dagster.yaml").read_text(encoding="utf-8")
    assert "module: listory_pipeline.runner.launcher\n" in text
    assert "max_concurrent_runs: 2   # edited by the operator" in text
    with DagsterInstance.from_config(str(home)) as instance:
        assert isinstance(instance.run_launcher, ForkserverRunLauncher)
        assert instance.get_concurrency_config().run_queue_config.max_concurrent_runs == 2
        # and it gained tick retention: skipped sensor ticks (most of them) go after a day
        retention = instance.get_tick_retention_settings(InstigatorType.SENSOR)
        assert retention[TickStatus.SKIPPED] == 1 and retention[TickStatus.FAILURE] == 90
        # and run monitoring: a run whose worker was killed is failed, not left in flight for ever
        assert instance.run_monitoring_enabled and instance.run_launcher.supports_check_run_worker_health
        # and no daemon polling for automation this project does not use
        assert "AssetDaemon" not in instance.get_required_daemon_types()
        assert "FreshnessDaemon" not in instance.get_required_daemon_types()
