"""What a run executed in the CLI's own process tells its user: why it failed, what it materialized."""

from __future__ import annotations

from typing import Any


def failure_reason(result) -> str:
    """One line saying why a run failed: its first failed step's error, else the run's own message.

    A run can fail without a failed step (a resource that cannot start, a run-level error), so
    step failure data is read only from STEP_FAILURE events.
    """
    for event in result.all_events:
        if event.is_step_failure and event.step_failure_data is not None and event.step_failure_data.error:
            error = event.step_failure_data.error
            # Dagster wraps the step's own exception; say that one, not its wrapper or its cause
            while error.cause is not None and (error.cls_name or "").startswith("Dagster"):
                error = error.cause
            return _without_module_path(_first_line(error.message), error.cls_name)
    for event in result.all_events:
        if event.is_run_failure:
            return _first_line(event.message or "the run failed")
    return "the run failed"


def materialized_metadata(result) -> dict[str, Any]:
    """Every materialization's metadata values, keyed `asset/key:name` (what the CLI's summaries print)."""
    metadata = {}
    for event in result.all_events:
        materialization = event.event_specific_data.materialization if event.is_step_materialization else None
        if materialization is not None:
            for key, value in materialization.metadata.items():
                metadata[f"{materialization.asset_key.to_user_string()}:{key}"] = value.value
    return metadata


def _without_module_path(line: str, class_name: str | None) -> str:
    """`WarehouseLockedError: …` rather than `listory_pipeline.warehouse.connection.WarehouseLockedError: …`;
    a step's own `Failure` says only its description."""
    if class_name:
        head, separator, rest = line.partition(": ")
        if separator and head.rsplit(".", 1)[-1] == class_name:
            return rest if class_name == "Failure" else f"{class_name}: {rest}"
    return line


def _first_line(text: str) -> str:
    lines = [line.strip() for line in (text or "").strip().splitlines() if line.strip()]
    return lines[0] if lines else "the run failed"
