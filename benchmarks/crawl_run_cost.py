"""What one crawl run costs when Dagster launches it: CPU seconds and wall time.

A crawl run happens every minute for every listening user, so its cost is the
pipeline's running cost. Two ways of launching `crawl_user_job` on a
SQLite-backed instance in a temporary LISTORY_HOME, with the simulator as a
server in this process:

- `default`: what Dagster's DefaultRunLauncher amounts to — a fresh Python
  running `dagster api execute_run <args>`; CPU from the kernel's accounting of
  the finished child.
- `forkserver`: the project's ForkserverRunLauncher, which the embedded and
  production dagster.yaml configure: the instance's launcher forks the worker
  from a warm process; CPU is the worker's own (it tags the run with it).

The JSON figures are those of the configured (forkserver) launcher; the default
launcher's figures are printed above them for comparison.

Then what the machine pays per crawl run (benchmarks/instance_cpu.py): `listory ui`
with `--instance-users` simulated users for `--instance-minutes` after a warm-up, the
CPU of its whole process tree (webserver, daemon, code servers, fork servers, run
workers) divided by the crawl runs it finished (what report runs cost, the reports fork server
included, is shown apart; see instance_cpu.py), beside the run workers' own share; and
the yardstick, `python -c "import dagster"` in a fresh process, measured in the same run (five
times before the instance, every three minutes inside its window and five times after it; the
ratios use the median of them all).

With `--dagster-storage postgres` the instance is production's: deploy/dagster-postgres.yaml
on a private PostgreSQL cluster started by the benchmark, whose server processes' CPU is
counted as the instance's, and the server sessions opened per crawl run are printed.

Usage: uv run python benchmarks/crawl_run_cost.py [--runs N] [--instance-minutes 30] [--instance-users 20]
                                                  [--dagster-storage sqlite|postgres]
Last line: {"cpu_seconds_per_run": x, "wall_seconds_per_run": x, "sustainable_active_users": n,
            "instance_cpu_seconds_per_crawl_run": x, "instance_run_worker_cpu_seconds_per_crawl_run": x,
            "dagster_import_cpu_seconds": x, "instance_to_import_dagster": x, ...}
cpu_seconds_per_run is the run worker alone; instance_cpu_seconds_per_crawl_run is the whole
instance but what report runs cost (instance_cpu_seconds_per_crawl_run_with_reports: all of it).
sustainable_active_users: users crawled every minute that fit in half of this
machine's cores (the other half left for the UI, daemon, reports and the OS), by the run
worker's figure; sustainable_active_users_by_instance: the same by the instance's.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--instance-minutes", type=float, default=30.0, help="0 skips the instance measurement")
    parser.add_argument("--instance-users", type=int, default=20)
    parser.add_argument("--warmup-minutes", type=float, default=3.0)
    parser.add_argument(
        "--dagster-storage", choices=["sqlite", "postgres"], default="sqlite",
        help="the instance's storage: the embedded SQLite, or production's PostgreSQL (deploy/dagster-postgres.yaml) "
             "on a private cluster started here, its server's CPU counted as the instance's",
    )
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from instance_cpu import import_dagster_cpu_samples, measure_instance_against_yardstick

    # The yardstick is taken before the runs, and inside and after the instance's window (when it
    # is measured): the ratios use the median of all of them.
    yardstick_samples = import_dagster_cpu_samples()
    yardstick = statistics.median(yardstick_samples)
    print(f"yardstick: python -c 'import dagster' took {yardstick:.3f} CPU s (median of {len(yardstick_samples)})", flush=True)
    home = Path(tempfile.mkdtemp(prefix="listory-runcost-"))
    os.environ["LISTORY_HOME"] = str(home)
    os.environ["DAGSTER_HOME"] = str(home / "dagster")

    from dagster import DagsterInstance, DagsterRunStatus
    from dagster._core.launcher.base import LaunchRunContext
    from dagster._core.definitions.reconstruct import ReconstructableRepository
    from dagster._grpc.types import ExecuteRunArgs
    from dagster._serdes import serialize_value

    from listory_pipeline import runtime
    from listory_pipeline.runner.instance import ensure_dagster_home
    from listory_pipeline.definitions import defs
    from listory_pipeline.runner.launcher import CPU_TAG
    from listory_pipeline.settings import load_settings
    from listory_pipeline.spotify.simulator import Simulator, SimulatorConfig, SimulatorServer

    ensure_dagster_home(load_settings())  # the embedded dagster.yaml, with the fork-server launcher
    simulator = Simulator(SimulatorConfig(seed=11, n_users=1))
    cpu, wall = [], []
    with SimulatorServer(simulator) as server:
        os.environ["LISTORY_SIMULATOR_URL"] = server.base_url
        settings = load_settings()
        user = simulator.users()[0]
        runtime.user_registry(settings).register(
            user.user_id, simulator.refresh_token_for(user.user_id), timezone_name=user.timezone
        )
        instance = DagsterInstance.get()
        instance.add_dynamic_partitions("spotify_users", [user.user_id])
        repository = ReconstructableRepository.for_module("listory_pipeline.definitions", "defs", working_directory=os.getcwd())
        origin = repository.get_reconstructable_job("crawl_user_job").get_python_origin()
        job = defs.resolve_job_def("crawl_user_job")
        def launch_default(run) -> float:
            payload = serialize_value(
                ExecuteRunArgs(job_origin=origin, run_id=run.run_id, instance_ref=instance.get_ref(), set_exit_code_on_failure=True)
            )
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            completed = subprocess.run(
                [sys.executable, "-m", "dagster", "api", "execute_run", payload], capture_output=True, text=True
            )
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            if completed.returncode != 0:
                print(completed.stdout[-3000:], completed.stderr[-3000:], file=sys.stderr)
            return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)

        def launch_forkserver(run) -> float:
            instance.run_launcher.launch_run(LaunchRunContext(run, None))
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                current = instance.get_run_by_id(run.run_id)
                if current.is_finished and CPU_TAG in current.tags:
                    return float(current.tags[CPU_TAG])
                time.sleep(0.01)
            raise SystemExit(f"run {run.run_id} did not finish")

        figures = {}
        for name, launch in (("default", launch_default), ("forkserver", launch_forkserver)):
            cpu, wall = [], []
            # Run 0 warms up (first crawl of the user, fork server start); the measured runs are the steady state.
            for index in range(args.runs + 1):
                run = instance.create_run_for_job(job, tags={"dagster/partition": user.user_id}, job_code_origin=origin)
                started = time.perf_counter()
                seconds = launch(run)
                elapsed = time.perf_counter() - started
                status = instance.get_run_by_id(run.run_id).status
                if status != DagsterRunStatus.SUCCESS:
                    raise SystemExit(f"crawl run {run.run_id} ended {status}")
                print(f"{name} launcher, {'warm-up' if index == 0 else f'run {index}'}: {seconds:.2f} CPU s, {elapsed:.2f} s wall", flush=True)
                if index:
                    cpu.append(seconds)
                    wall.append(elapsed)
            figures[name] = (statistics.median(cpu), statistics.median(wall))
        instance.run_launcher.join()
    cores = os.cpu_count() or 1
    default_cpu, default_wall = figures["default"]
    print(
        f"default launcher: {default_cpu:.3f} CPU s, {default_wall:.3f} s wall a run, "
        f"{int((cores / 2) * 60 // default_cpu)} users sustainable",
        flush=True,
    )
    cpu_per_run, wall_per_run = figures["forkserver"]
    result = {
        "cpu_seconds_per_run": round(cpu_per_run, 3),
        "wall_seconds_per_run": round(wall_per_run, 3),
        "sustainable_active_users": int((cores / 2) * 60 // cpu_per_run),
        "dagster_import_cpu_seconds": round(yardstick, 3),
        "run_worker_to_import_dagster": round(cpu_per_run / yardstick, 3),
    }
    if args.instance_minutes > 0:
        print(f"listory ui with {args.instance_users} users: {args.warmup_minutes} min warm-up, "
              f"{args.instance_minutes} min measured ...", flush=True)
        cost, yardstick = measure_instance_against_yardstick(
            yardstick_samples,
            users=args.instance_users, minutes=args.instance_minutes, warmup_minutes=args.warmup_minutes,
            dagster_storage=args.dagster_storage,
        )
        print(
            f"instance: {cost.tree_cpu_seconds:.1f} CPU s over {cost.minutes} min, {cost.crawl_runs} crawl runs "
            f"({cost.failed_crawl_runs} failed), {cost.report_runs} report runs (their workers {cost.report_worker_cpu_seconds:.1f} CPU s; "
            f"with the reports fork server {cost.reports_cpu_seconds:.1f} CPU s, not charged to crawls), "
            f"up to {cost.processes_seen} processes",
            flush=True,
        )
        result.update({
            "instance_cpu_seconds_per_crawl_run": round(cost.cpu_per_crawl_run, 3),
            "instance_run_worker_cpu_seconds_per_crawl_run": round(cost.run_worker_cpu_per_crawl_run, 3),
            "instance_to_import_dagster": round(cost.cpu_per_crawl_run / yardstick, 3),
            "instance_cpu_seconds_per_crawl_run_with_reports": round(cost.cpu_per_crawl_run_with_reports, 3),
            "instance_report_runs": cost.report_runs,
            "dagster_import_cpu_seconds": round(yardstick, 3),
            "run_worker_to_import_dagster": round(cpu_per_run / yardstick, 3),
            "instance_cpu_seconds_by_process": cost.cpu_seconds_by_role,
            "instance_crawl_runs": cost.crawl_runs,
            "instance_minutes": cost.minutes,
            "instance_users": cost.users,
            "instance_dagster_storage": cost.dagster_storage,
            "instance_postgres_sessions_per_crawl_run": (
                None if cost.postgres_sessions is None else round(cost.postgres_sessions / max(cost.crawl_runs, 1), 1)),
            "sustainable_active_users_by_instance": int((cores / 2) * 60 // cost.cpu_per_crawl_run) if cost.crawl_runs else 0,
        })
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
