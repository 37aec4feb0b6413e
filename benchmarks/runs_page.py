"""The UI's runs page (the GraphQL queries it sends) timed against one instance, in a fresh process.

`long_run.py` compares the page against a week of history with the page against an empty
instance. It used to time both inside its own process, the one that had just executed the
week's runs in process and still held both instances: a process the webserver never is. Each
page is now timed in a process of its own that loads the code location and the instance as
the webserver does, and the homes take turns (`interleaved_medians`), because on this
machine one process's median of 15 moved by 30-40 % from one process to the next.

The figure is the fastest of 40 answers (as `timeit` advises: what the page itself costs,
without whatever else the machine did meanwhile), the median printed beside it. Against the
same two homes, three rounds each, the medians of a blank instance's page were 6.75 and
9.25 ms in two runs a minute apart, the fastest 6.16 and 6.80.

Usage: uv run python benchmarks/runs_page.py LISTORY_HOME [--repeats 40]
Last line: {"runs_page_seconds": x, "median_seconds": x, "runs_shown": n}
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

RUNS_PAGE_SIZE = 26  # what the UI's runs page asks for
RUNS_PAGE_QUERY = """
query RunsPage($limit: Int!, $cursor: String) {
  runsFeedOrError(limit: $limit, cursor: $cursor, view: ROOTS) {
    __typename
    ... on RunsFeedConnection {
      cursor hasMore
      results { __typename id runStatus creationTime startTime endTime jobName tags { key value } assetSelection { path } }
    }
  }
  runsFeedCountOrError(view: ROOTS) { __typename ... on RunsFeedCount { count } }
}
"""


def wall_times(function, repeats: int) -> list[float]:
    """Wall time of each of `repeats` calls."""
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        samples.append(time.perf_counter() - started)
    return samples


def timed(function, repeats: int) -> float:
    """Median wall time of `repeats` calls."""
    return statistics.median(wall_times(function, repeats))


def runs_page_seconds(listory_home: Path, repeats: int = 40) -> tuple[float, float, int]:
    """Fastest and median time of the page's queries in this process, code location loaded; and the runs shown."""
    os.environ["LISTORY_HOME"] = str(listory_home)
    os.environ["DAGSTER_HOME"] = str(listory_home / "dagster")
    from dagster import DagsterInstance
    from dagster._core.workspace.context import WorkspaceProcessContext
    from dagster._core.workspace.load_target import ModuleTarget
    from dagster_graphql.test.utils import execute_dagster_graphql

    instance = DagsterInstance.from_config(str(listory_home / "dagster"))
    target = ModuleTarget(module_name="listory_pipeline.definitions", attribute="defs", working_directory=None,
                          location_name="listory_pipeline")
    with WorkspaceProcessContext(instance, target) as workspace:

        def query() -> int:
            result = execute_dagster_graphql(workspace.create_request_context(), RUNS_PAGE_QUERY, {"limit": RUNS_PAGE_SIZE})
            if result.errors or result.data["runsFeedOrError"]["__typename"] != "RunsFeedConnection":
                raise SystemExit(f"runs page query failed: {result.errors or result.data}")
            return len(result.data["runsFeedOrError"]["results"])

        shown = query()  # the first answer loads the code location's snapshot
        samples = wall_times(query, repeats)
        return min(samples), statistics.median(samples), shown


def runs_page_seconds_in_fresh_process(listory_home: Path, repeats: int = 40) -> float:
    """The fastest page of `runs_page_seconds` for this home, in a new Python process (read back)."""
    finished = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), str(listory_home), "--repeats", str(repeats)],
        capture_output=True, text=True, check=False,
    )
    if finished.returncode != 0:
        raise SystemExit(f"timing the runs page for {listory_home} failed:\n{finished.stderr[-2000:]}")
    # the code server's own log lines may follow the figure on the same stdout
    figures = [line for line in finished.stdout.splitlines() if line.startswith('{"runs_page_seconds"')]
    return json.loads(figures[-1])["runs_page_seconds"]


def interleaved_medians(homes: list[Path], rounds: int = 3) -> list[float]:
    """Each home's fastest page in `rounds` fresh processes, the homes taking turns; the median per home.

    Taking turns spreads whatever else the machine does over all the homes.
    """
    samples: list[list[float]] = [[] for _ in homes]
    for _ in range(rounds):
        for index, home in enumerate(homes):
            samples[index].append(runs_page_seconds_in_fresh_process(home))
    return [statistics.median(one) for one in samples]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("listory_home", type=Path)
    parser.add_argument("--repeats", type=int, default=40)
    args = parser.parse_args()
    if not (args.listory_home / "dagster" / "dagster.yaml").exists():
        parser.error(f"{args.listory_home} holds no Dagster instance (no dagster/dagster.yaml)")
    fastest, median, shown = runs_page_seconds(args.listory_home.resolve(), args.repeats)
    print(json.dumps({"runs_page_seconds": round(fastest, 4), "median_seconds": round(median, 4), "runs_shown": shown}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
