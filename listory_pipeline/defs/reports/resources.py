"""Resources of the reports code location, bound in one place.

`warehouse` is the same settings-driven resource the crawl location uses, so both write
`LISTORY_HOME/pipeline/warehouse.duckdb`. dbt needs no resource of its own: it runs inside the run
worker from the project in dbt_project/ (listory_pipeline/reports/dbt_runner.py), told the
warehouse path through its environment (listory_pipeline/reports/project.py).
"""

from __future__ import annotations

from dagster import ConfigurableResource

from listory_pipeline.defs.resources import WarehouseResource


def build_report_resources() -> dict[str, ConfigurableResource]:
    return {"warehouse": WarehouseResource()}
