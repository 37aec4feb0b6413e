"""`listory ui` loads the code locations in process (runner/workspace.py): named as `dagster dev`
names them, and in-process sensors evaluated with the serving process's own instance."""

from __future__ import annotations

import pytest
from dagster import DagsterInstance
from dagster._core.errors import DagsterUserCodeProcessError
from dagster._core.workspace.context import WorkspaceProcessContext

from listory_pipeline.runner.workspace import in_process_load_target, location_modules, share_the_instance_with_sensors

MODULE = "tests.unit.runner.in_process_location"


def test_the_locations_are_workspace_yaml_s_modules(tmp_path):
    assert location_modules() == ["listory_pipeline.definitions", "listory_pipeline.reports_definitions"]
    odd = tmp_path / "workspace.yaml"
    odd.write_text("load_from:\n  - python_file: {relative_path: x.py}\n")
    with pytest.raises(ValueError, match="only python_module entries"):
        location_modules(odd)


def _evaluate(context, sensor_name):
    location = context.create_request_context().get_code_location(MODULE)
    repository = next(iter(location.get_repositories().values()))
    return location.get_sensor_execution_data(
        context.instance, repository.handle, sensor_name, None, None, None, None, None
    )


def test_an_in_process_sensor_gets_the_serving_process_s_instance_and_its_errors_still_surface(tmp_path):
    share_the_instance_with_sensors()
    (tmp_path / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    with DagsterInstance.from_config(str(tmp_path)) as instance:
        with WorkspaceProcessContext(instance, workspace_load_target=in_process_load_target([MODULE])) as context:
            assert list(context.create_request_context().get_code_location_entries()) == [MODULE]
            data = _evaluate(context, "which_instance_sensor")
            assert data.skip_message == f"instance {id(instance)}"  # not a fresh one opened for the tick
            with pytest.raises(DagsterUserCodeProcessError, match="the registry is unreadable"):
                _evaluate(context, "failing_sensor")
