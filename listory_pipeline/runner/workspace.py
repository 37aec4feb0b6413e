"""The code locations of `workspace.yaml`, loaded in the process that serves them.

`dagster dev` runs every code location as a gRPC server behind a proxy process, and the
webserver and the daemon each poll every server once a second, refresh their whole
workspace every minute and make a gRPC call per sensor tick: with two locations that was
six processes and about three CPU-seconds a minute before any crawl ran. `listory ui` loads
both locations inside the webserver and inside the daemon instead (Dagster's in-process
code location): no code server, no proxy, no polling. The location names are those
`dagster dev` gives (the module names), so sensors, schedules and runs keep theirs.

What is given up: the UI cannot reload a location; a change to the Python code needs
`listory ui` restarted, as the fork servers already did (runner/launcher.py).
`workspace.yaml` stays the one list of locations, and `dagster dev -w workspace.yaml`
still works for development.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import yaml

WORKSPACE_YAML = Path(__file__).resolve().parents[2] / "workspace.yaml"
DEFAULT_MODULES = ("listory_pipeline.definitions", "listory_pipeline.reports_definitions")


def location_modules(workspace_yaml: Path = WORKSPACE_YAML) -> list[str]:
    """The `python_module` entries of workspace.yaml (the package's two locations without the file)."""
    if not workspace_yaml.exists():
        return list(DEFAULT_MODULES)
    document = yaml.safe_load(workspace_yaml.read_text(encoding="utf-8")) or {}
    modules = []
    for entry in document.get("load_from") or []:
        spec = entry.get("python_module") if isinstance(entry, dict) else None
        name = spec.get("module_name") if isinstance(spec, dict) else spec
        if not isinstance(name, str) or not name:
            raise ValueError(f"{workspace_yaml}: only python_module entries with a module_name are served in process, got {entry!r}")
        modules.append(name)
    if not modules:
        raise ValueError(f"{workspace_yaml} names no code location")
    return modules


def in_process_load_target(modules: list[str] | None = None):
    """A workspace load target holding each module as an in-process code location named after it."""
    from dagster._core.remote_origin import InProcessCodeLocationOrigin
    from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
    from dagster._core.workspace.load_target import InProcessWorkspaceLoadTarget

    working_directory = str(WORKSPACE_YAML.parent) if WORKSPACE_YAML.exists() else os.getcwd()
    origins = [
        InProcessCodeLocationOrigin(
            LoadableTargetOrigin(executable_path=sys.executable, module_name=module, working_directory=working_directory),
            location_name=module,
        )
        for module in modules or location_modules()
    ]
    return InProcessWorkspaceLoadTarget(origins)


def share_the_instance_with_sensors() -> None:
    """In-process sensors get the serving process's own instance instead of a new one each tick.

    Dagster hands a sensor an instance *reference* and the sensor context opens a fresh instance
    from it (every storage, its schema checks) at each tick: right for a code server in another
    process, but in process the daemon's own instance is at hand. What is evaluated and how
    errors surface is Dagster's (`get_external_sensor_execution`), with the instance given.
    """
    from dagster._core.definitions.sensor_definition import SensorEvaluationContext
    from dagster._core.errors import DagsterUserCodeProcessError, SensorExecutionError, user_code_error_boundary
    from dagster._core.execution.resources_init import get_transitive_required_resource_keys
    from dagster._core.remote_representation.code_location import InProcessCodeLocation
    from dagster._core.remote_representation.external_data import SensorExecutionErrorSnap
    from dagster._utils.error import serializable_error_info_from_exc_info

    def get_sensor_execution_data(self, instance, repository_handle, name, last_tick_completion_time,
                                  last_run_key, cursor, log_key, last_sensor_start_time):
        repo_def = self._get_repo_def(repository_handle.repository_name)
        try:
            sensor_def = repo_def.get_sensor_def(name)
            top_level = repo_def.get_top_level_resources()
            required = get_transitive_required_resource_keys(sensor_def.required_resource_keys, top_level)
            with SensorEvaluationContext(
                instance.get_ref(),
                last_tick_completion_time=last_tick_completion_time,
                last_run_key=last_run_key,
                cursor=cursor,
                log_key=log_key,
                repository_name=repo_def.name,
                repository_def=repo_def,
                sensor_name=name,
                resources={key: value for key, value in top_level.items() if key in required},
                last_sensor_start_time=last_sensor_start_time,
                code_location_origin=self.origin,
                instance=instance,
            ) as context:
                with user_code_error_boundary(
                    SensorExecutionError, lambda: f"Error occurred during the execution of evaluation_fn for sensor {name}"
                ):
                    return sensor_def.evaluate_tick(context)
        except Exception:
            error = SensorExecutionErrorSnap(error=serializable_error_info_from_exc_info(sys.exc_info()))
        raise DagsterUserCodeProcessError.from_error_info(error.error)

    InProcessCodeLocation.get_sensor_execution_data = get_sensor_execution_data
