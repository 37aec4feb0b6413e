"""A code location for tests of in-process serving (runner/workspace.py): one sensor that says which
instance it was given, one that fails."""

from dagster import Definitions, SensorEvaluationContext, SkipReason, job, op, sensor


@op
def nothing() -> None:
    return None


@job
def nothing_job():
    nothing()


@sensor(job=nothing_job)
def which_instance_sensor(context: SensorEvaluationContext):
    return SkipReason(f"instance {id(context.instance)}")


@sensor(job=nothing_job)
def failing_sensor(context: SensorEvaluationContext):
    raise ValueError("the registry is unreadable")


defs = Definitions(jobs=[nothing_job], sensors=[which_instance_sensor, failing_sensor])
