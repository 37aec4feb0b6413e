"""Resources of the reports code location, bound in one place.

`dbt` runs the project in dbt_project/ with the `dbt` of this environment (found beside the
interpreter, so it works whether or not the venv is on PATH); `warehouse` is the same
settings-driven resource the crawl location uses, so both write `LISTORY_HOME/warehouse.duckdb`
(the path reaches dbt in the environment, see listory_pipeline/reports/project.py).
"""

from __future__ import annotations

from functools import cached_property

from dagster import ConfigurableResource
from dagster_dbt import DbtCliResource
from packaging import version

from listory_pipeline.defs.resources import WarehouseResource
from listory_pipeline.reports.build import dbt_executable
from listory_pipeline.reports.project import DBT_PROJECT_DIR


class ListoryDbtCliResource(DbtCliResource):
    """DbtCliResource that knows the dbt version without asking a `dbt --version` subprocess.

    DbtCliResource runs `dbt --version` (about 1.8 s: a second dbt start-up) on the first `cli()`
    of every run to tell dbt-core from the Fusion engine. This project runs dbt-core from its
    own environment, whose version is importable.
    """

    @cached_property
    def _cli_version(self) -> version.Version:
        from dbt.version import __version__

        return version.parse(__version__)


def build_report_resources() -> dict[str, ConfigurableResource]:
    return {
        "dbt": ListoryDbtCliResource(
            project_dir=str(DBT_PROJECT_DIR), profiles_dir=str(DBT_PROJECT_DIR), dbt_executable=dbt_executable()
        ),
        "warehouse": WarehouseResource(),
    }
