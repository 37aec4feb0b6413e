"""A dbt build inside the run worker, reported to Dagster the way dagster-dbt reports a dbt subprocess.

dagster-dbt's `DbtCliResource.cli()` starts `dbt` as a subprocess and turns each line of its
JSON log into Dagster events. Here dbt runs in this process (listory_pipeline/reports/
dbt_runner.py) and hands over the same events as dicts; dagster-dbt's own pieces do the rest:
the selection of the step's asset subset (`get_updated_cli_invocation_params_for_context`) and
the conversion of each result event (`DbtCoreCliEventMessage.to_default_asset_events`), so
outputs, asset checks and observations are exactly what the subprocess path would yield.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from dagster import AssetExecutionContext
from dagster_dbt import DagsterDbtTranslator
from dagster_dbt.asset_utils import get_updated_cli_invocation_params_for_context
from dagster_dbt.core.dbt_cli_event import DbtCoreCliEventMessage

from listory_pipeline.reports import dbt_runner
from listory_pipeline.reports.build_lock import Waiting
from listory_pipeline.reports.project import DBT_PROJECT_DIR, dbt_target_path
from listory_pipeline.settings import Settings

# The events dagster-dbt turns into Dagster events (unit tests report as LogTestResult too,
# and dagster-dbt skips them); each is also a progress line in the step's stdout.
RESULT_EVENTS = frozenset({"LogModelResult", "LogTestResult", "LogSeedResult", "LogSnapshotResult"})


@dataclass
class InProcessBuild:
    """Dagster events of one build, in the order dbt finished the nodes, and dbt's own outcome."""

    events: list[Any] = field(default_factory=list)
    outcome: dbt_runner.DbtInvocation | None = None


def build_in_process(
    context: AssetExecutionContext,
    settings: Settings,
    as_of: date | None,
    translator: DagsterDbtTranslator,
    *,
    tests: bool = True,
) -> InProcessBuild:
    """`dbt build` of the step's selected models and checks (`dbt run` without tests), printing each node's result as it finishes."""
    params = get_updated_cli_invocation_params_for_context(
        context=context, manifest={}, dagster_dbt_translator=translator
    )
    project_dir = Path(params.dbt_project.project_dir) if params.dbt_project else DBT_PROJECT_DIR
    command = ["build" if tests else "run", "--no-use-colors", *params.selection_args]
    if params.indirect_selection:
        command += ["--indirect-selection", params.indirect_selection]
    context.log.info("dbt %s (in this process, project parsed %s)", " ".join(command),
                     "before the run" if dbt_runner.is_warm(settings) else "now")
    build = InProcessBuild()
    target = dbt_target_path(settings)
    for item in dbt_runner.stream(settings, as_of, command, event_names=RESULT_EVENTS, project_dir=project_dir):
        if isinstance(item, dbt_runner.DbtInvocation):
            build.outcome = item
            continue
        if isinstance(item, Waiting):
            context.log.info(item.message)
            continue
        info = item["info"]
        if info["level"] == "error":
            context.log.error(info["msg"])
        elif info["name"] in RESULT_EVENTS:
            # to the step's captured stdout, as dagster-dbt echoes a dbt subprocess: a Dagster
            # log event per node would be ~100 event-log writes on top of the outputs and checks
            print(info["msg"], flush=True)
        message = DbtCoreCliEventMessage(raw_event=item, event_history_metadata={})
        build.events.extend(
            message.to_default_asset_events(
                manifest=params.manifest,
                dagster_dbt_translator=params.dagster_dbt_translator,
                context=context,
                target_path=target,
                project=params.dbt_project,
            )
        )
    return build
