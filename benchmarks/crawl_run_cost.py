"""What one crawl run costs when Dagster launches it: CPU seconds and wall time.

A crawl run happens every minute for every listening user, so its cost is the
pipeline's running cost. Dagster's default run launcher starts each run as a new
process, `dagster api execute_run <args>`; this script does exactly that for
`crawl_user_job` on a SQLite-backed instance in a temporary LISTORY_HOME, with
the simulator as a server in this process, and measures the child's CPU time
(user + system, from the kernel's accounting of the finished child).

Usage: uv run python benchmarks/crawl_run_cost.py [--runs N]
Last line: {"cpu_seconds_per_run": x, "wall_seconds_per_run": x, "sustainable_active_users": n}
sustainable_active_users: users crawled every minute that fit in half of this
machine's cores (the other half left for the UI, daemon, reports and the OS).
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
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="listory-runcost-"))
    os.environ["LISTORY_HOME"] = str(home)
    os.environ["DAGSTER_HOME"] = str(home / "dagster")

    from dagster import DagsterInstance, DagsterRunStatus
    from dagster._core.definitions.reconstruct import ReconstructableRepository
    from dagster._grpc.types import ExecuteRunArgs
    from dagster._serdes import serialize_value

    from listory_pipeline import runtime
    from listory_pipeline.dagster_home import ensure_dagster_home
    from listory_pipeline.definitions import defs
    from listory_pipeline.settings import load_settings
    from listory_pipeline.spotify.simulator import Simulator, SimulatorConfig, SimulatorServer

    ensure_dagster_home(load_settings())
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
        # Run 0 is the new user's first crawl (catalog work); the measured runs are the steady state.
        for index in range(args.runs + 1):
            run = instance.create_run_for_job(job, tags={"dagster/partition": user.user_id}, job_code_origin=origin)
            payload = serialize_value(
                ExecuteRunArgs(job_origin=origin, run_id=run.run_id, instance_ref=instance.get_ref(), set_exit_code_on_failure=True)
            )
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            started = time.perf_counter()
            completed = subprocess.run(
                [sys.executable, "-m", "dagster", "api", "execute_run", payload], capture_output=True, text=True
            )
            elapsed = time.perf_counter() - started
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            status = instance.get_run_by_id(run.run_id).status
            if completed.returncode != 0 or status != DagsterRunStatus.SUCCESS:
                print(completed.stdout[-3000:], completed.stderr[-3000:], file=sys.stderr)
                raise SystemExit(f"crawl run {run.run_id} ended {status}")
            seconds = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
            label = "first crawl" if index == 0 else f"run {index}"
            print(f"{label}: {seconds:.2f} CPU s, {elapsed:.2f} s wall", flush=True)
            if index:
                cpu.append(seconds)
                wall.append(elapsed)
    cpu_per_run = statistics.median(cpu)
    cores = os.cpu_count() or 1
    sustainable = int((cores / 2) * 60 // cpu_per_run)
    print(
        json.dumps(
            {
                "cpu_seconds_per_run": round(cpu_per_run, 3),
                "wall_seconds_per_run": round(statistics.median(wall), 3),
                "sustainable_active_users": sustainable,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
