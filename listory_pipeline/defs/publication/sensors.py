"""`warehouse_publish_sensor`: the trailing publish of the read copy, visible in the UI.

Write sessions publish on their way out when the copy is older than the interval; the
last writes of a busy stretch are left for this sensor, which copies them once the copy
is two intervals old. It launches no run: a copy takes a fraction of a second at a
million plays (benchmarks/concurrent_readers.py) and a run would cost more than that.
If a pipeline writer holds the file, the tick skips: that writer publishes when it is due.
"""

from __future__ import annotations

from dagster import DefaultSensorStatus, SensorEvaluationContext, SkipReason, sensor

from listory_pipeline.defs.resources import WarehouseResource
from listory_pipeline.publication.snapshot import TRAILING_CHECK_SECONDS, publish_trailing, read_state
from listory_pipeline.warehouse.connection import WarehouseLockedError


@sensor(
    minimum_interval_seconds=TRAILING_CHECK_SECONDS,
    default_status=DefaultSensorStatus.RUNNING,
    description=(
        "Publishes the read copy LISTORY_HOME/warehouse.duckdb that DuckDB clients open, when writes are "
        "left unpublished; launches no run."
    ),
)
def warehouse_publish_sensor(context: SensorEvaluationContext, warehouse: WarehouseResource) -> SkipReason:
    publication = warehouse.publication()
    try:
        published = publish_trailing(publication, wait_seconds=1.0)
    except WarehouseLockedError:
        return SkipReason("a pipeline writer holds the warehouse; it publishes when due")
    if published is not None:
        context.log.info("published generation %s (%s bytes) in %.2f s", published.generation, published.source_size, published.seconds)
        return SkipReason(f"published generation {published.generation} in {published.seconds:.2f} s")
    state = read_state(publication)
    if state is None:
        return SkipReason("nothing to publish yet (no warehouse)")
    return SkipReason(f"read copy current (generation {state.generation})")
