"""Resources of the reports code location, bound in one place.

`dbt` runs the project in dbt_project/; `warehouse` is the same settings-driven resource the
crawl location uses, so both write `LISTORY_HOME/warehouse.duckdb` (the path reaches dbt as
the var `warehouse_path`, see listory_pipeline/reports/project.py).
"""

from __future__ import annotations

from dagster import ConfigurableResource
from dagster_dbt import DbtCliResource

from listory_pipeline.defs.resources import WarehouseResource
from listory_pipeline.reports.project import DBT_PROJECT_DIR


def build_report_resources() -> dict[str, ConfigurableResource]:
    return {
        "dbt": DbtCliResource(project_dir=str(DBT_PROJECT_DIR), profiles_dir=str(DBT_PROJECT_DIR)),
        "warehouse": WarehouseResource(),
    }
