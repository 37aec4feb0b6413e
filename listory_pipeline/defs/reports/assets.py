"""The report assets: every dbt model (staging → marts → reports) and the chart previews.

The manifest is built by `dbt parse` outside imports: `listory ui` and `listory reports build`
write it when missing or stale (reports/dbt_runner.py), `prepare_if_dev()` does it under
`dagster dev`; elsewhere run `uv run dbt parse --project-dir dbt_project --profiles-dir
dbt_project` once per deployment (tests do it in a fixture).
"""


from dagster import (
    AssetExecutionContext,
    AssetKey,
    Config,
    Failure,
    MaterializeResult,
    MetadataValue,
    Output,
    asset,
)
from dagster_dbt import DbtProject, dbt_assets
from pydantic import Field

from listory_pipeline.defs.reports.translator import ListoryDbtTranslator
from listory_pipeline.defs.resources import WarehouseResource
from listory_pipeline.reports.project import (
    DBT_PROJECT_DIR,
    REPORT_TABLES,
    REPORT_VIEWS,
    dbt_target_path,
    parse_as_of,
)

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)
dbt_project.prepare_if_dev()

REPORT_KEYS = [AssetKey(["reports", name]) for name in [*REPORT_TABLES, *REPORT_VIEWS]]


class ReportBuildConfig(Config):
    as_of: str | None = Field(
        default=None,
        description="YYYY-MM-DD: build every report as of this date. Empty: each user's local today.",
    )
    tests: bool = Field(
        default=True,
        description="Run dbt's data tests (the asset checks) and unit tests with the models; off: `dbt run`, the tables only.",
    )


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    dagster_dbt_translator=ListoryDbtTranslator(),
    pool="duckdb",  # the DuckDB file admits one writer: queue behind crawl loads
    name="listory_dbt_models",
)
def listory_dbt_models(context: AssetExecutionContext, warehouse: WarehouseResource, config: ReportBuildConfig):
    """`dbt build` of the selected models with their data tests (as asset checks) and unit tests.

    dbt runs inside the run worker (listory_pipeline/reports/dbt_runner.py): forked from a
    process that has imported dbt and parsed the project, a build starts running models at once
    instead of paying dbt's ~3.5 s start-up in a subprocess.
    """
    from listory_pipeline.defs.reports.dbt_events import build_in_process
    from listory_pipeline.publication.snapshot import publish
    from listory_pipeline.reports.build import ensure_core_schema, table_row_counts

    settings = warehouse.settings()
    ensure_core_schema(settings)
    as_of = parse_as_of(config.as_of)
    context.log.info("building reports as of %s into %s", as_of or "each user's local today", settings.warehouse_path)
    # dbt holds the DuckDB file while it runs: collect its events, count rows once it is done
    build = build_in_process(context, settings, as_of, ListoryDbtTranslator(), tests=config.tests)
    counts = table_row_counts(settings.warehouse_path)
    if build.outcome is not None and build.outcome.success:
        # readers get the whole build at once; a failed one waits for the next load's copy
        published = publish(settings.publication, wait_seconds=settings.warehouse_lock_wait_seconds)
        if published is not None:
            context.log.info("published the read copy (generation %s) in %.2f s", published.generation, published.seconds)
    for event in build.events:
        if isinstance(event, Output):
            key = context.asset_key_for_output(event.output_name)
            if tuple(key.path) in counts:
                event = event.with_metadata(
                    {**event.metadata, "dagster/row_count": MetadataValue.int(counts[tuple(key.path)])}
                )
        yield event
    if build.outcome is None or not build.outcome.success:
        failures = build.outcome.failures if build.outcome else ["dbt ended without a result"]
        raise Failure(
            description=f"dbt build failed: {len(failures)} node(s) did not pass; first: {failures[0]}",
            metadata={"failures": MetadataValue.json(failures), "dbt_log": str(dbt_target_path(settings) / "dbt.log")},
        )


@asset(
    key=["reports", "charts"],
    deps=REPORT_KEYS,
    group_name="reports",
    pool="duckdb",
    kinds={"duckdb", "python"},
    description="Per user: listens over time as a chart and the top-10 lists, as markdown metadata.",
)
def report_charts(context: AssetExecutionContext, warehouse: WarehouseResource) -> MaterializeResult:
    from listory_pipeline.reports.build import table_row_counts
    from listory_pipeline.reports.previews import user_previews

    path = warehouse.settings().published_warehouse_path  # the copy published after the build
    previews = user_previews(path)
    counts = table_row_counts(path)
    metadata = {
        "users": MetadataValue.int(len(previews)),
        "report_rows": MetadataValue.json({".".join(k): v for k, v in counts.items() if k[0] == "reports"}),
    }
    for preview in previews:
        metadata[f"user {preview.user_id}"] = MetadataValue.md(preview.markdown)
    context.log.info("charts for %s users", len(previews))
    return MaterializeResult(metadata=metadata)
