"""Days of crawling through real Dagster runs, fast-forwarded: the disk and history they leave, retention on.

Years of crawling cannot be waited for, so the clock is moved instead: one process, its
clock travelling (time-machine) one simulated minute per step from `--days` + 1 days ago,
the simulator over HTTP on 127.0.0.1 reading the same clock. Each minute the real
`adaptive_crawl_sensor` is evaluated against the embedded SQLite instance, and every run it
requests is executed as a real `crawl_user_job` run on that instance (in this process, as
the in-process executor runs it in a worker); every simulated day at 03:17 the real
`dagster_retention_job` runs. Dagster stamps runs and events with the travelled clock, so
the retention ages are simulated days. The retention window is `--retention-days` (2 by
default, so a week shows the history going flat; production keeps 14: the projection uses 14).

Printed: bytes per user-day of the landing zone, the warehouse (the pipeline's file and
the published read copy) and Dagster storage; Dagster rows and files before and after the
last purge; events per crawl run; the sensor tick and the runs page's GraphQL queries
timed against this history and against an instance without history with the same users:
the tick with no run at all, the page with one page of crawl runs, so that the same 26 rows
are drawn in both (the page against a blank instance, which draws none, is printed too; each
page in fresh processes, as the webserver serves it: benchmarks/runs_page.py); and the
projection for one user-year; and `core.listens` against the simulator's ground truth (every
play found exactly once, with retention and the compact landing zone on). Then, unless `--instance-minutes 0`, what a crawl run costs the
whole instance under `listory ui` (benchmarks/instance_cpu.py) beside the `import dagster`
yardstick, both measured here (the yardstick five times before the instance, every three
minutes inside its window and five times after).

Not simulated: report builds (their tables are rebuilt in place, so they add no growth per
day of crawling) and sensor ticks (Dagster's tick retention bounds them; the daemon applies it).

With `--dagster-storage postgres`, Dagster's history is kept on a private PostgreSQL cluster
started here (the Debian package's binaries, as the tests use them) with the shipped
deploy/dagster-postgres.yaml, as in production: what is measured then is its disk (the
database's size plus DAGSTER_HOME's files); the tick, runs-page and instance figures are
embedded-instance measurements, skipped (null).

Usage: uv run python benchmarks/long_run.py [--days 7] [--users 5] [--retention-days 2]
                                           [--instance-minutes 30] [--instance-users 20]
                                           [--dagster-storage sqlite|postgres]
Last line: {"bytes_per_user_day": x, "landing_bytes_per_user_day": x, "dagster_bytes_per_user_day": x,
            "projected_gb_per_user_year": x, "events_per_crawl_run": n, "instance_cpu_seconds_per_crawl_run": x,
            "dagster_import_cpu_seconds": x, "instance_to_import_dagster": x, "sensor_tick_slowdown": x,
            "runs_page_slowdown": x, "runs_page_slowdown_against_blank_instance": x}
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import time_machine
from postgres_storage import postgres_dagster_home, scalar, start_postgres
from runs_page import RUNS_PAGE_SIZE, interleaved_medians, timed

PRODUCTION_RETENTION_DAYS = 14
RETENTION_AT = timedelta(hours=3, minutes=17)  # dagster_retention_schedule's time of day
TIMED_REPEATS = 15

def folder_bytes(path: Path) -> int:
    return sum(entry.stat().st_size for entry in path.rglob("*") if entry.is_file()) if path.exists() else 0


def file_count(path: Path) -> int:
    return sum(1 for entry in path.rglob("*") if entry.is_file())


def dagster_rows(dagster_home: Path) -> dict[str, int]:
    """Rows in the embedded instance's SQLite files: runs, event rows (index and per-run files), ticks."""

    def count(path: Path, table: str) -> int:
        if not path.is_file():
            return 0
        # A read-write connection, closed at once: the last one to close a WAL database removes its
        # -wal and -shm files, which a read-only one leaves behind (32 KB a run file, counted as Dagster's).
        connection = sqlite3.connect(path)
        try:
            return connection.execute(f"select count(*) from {table}").fetchone()[0]
        except sqlite3.OperationalError:
            return 0
        finally:
            connection.close()

    history = dagster_home / "history"
    shard_events = sum(count(path, "event_logs") for path in (history / "runs").glob("*.db") if path.name != "index.db")
    return {
        "runs": count(history / "runs.db", "runs"),
        "index_event_rows": count(history / "runs" / "index.db", "event_logs"),
        "run_file_event_rows": shard_events,
        "check_execution_rows": count(history / "runs" / "index.db", "asset_check_executions"),
        "ticks": count(dagster_home / "schedules" / "schedules.db", "job_ticks"),
        "files": file_count(dagster_home),
    }


class SqliteHistory:
    """Dagster's history in the embedded instance: SQLite files under DAGSTER_HOME."""

    storage = "sqlite"

    def __init__(self, dagster_home: Path) -> None:
        self.dagster_home = dagster_home

    def bytes(self) -> int:
        return folder_bytes(self.dagster_home)

    def rows(self) -> dict[str, int]:
        return dagster_rows(self.dagster_home)


class PostgresHistory:
    """Dagster's history on PostgreSQL, as deploy/dagster-postgres.yaml sets production up.

    Its bytes are the database's size on disk plus what stays under DAGSTER_HOME (compute
    logs). PostgreSQL keeps the space a purge's deletes free for its next rows (autovacuum
    marks it reusable) instead of giving it back to the file system, so the size going flat,
    not shrinking, is what a bounded history looks like here."""

    storage = "postgres"

    def __init__(self, dagster_home: Path, server) -> None:
        self.dagster_home = dagster_home
        self.server = server

    def _scalar(self, statement: str) -> int:
        return scalar(self.server, statement)

    def database_bytes(self) -> int:
        return self._scalar("select pg_database_size(current_database())")

    def bytes(self) -> int:
        return self.database_bytes() + folder_bytes(self.dagster_home)

    def rows(self) -> dict[str, int]:
        return {
            "runs": self._scalar("select count(*) from runs"),
            "event_rows": self._scalar("select count(*) from event_logs"),
            "ticks": self._scalar("select count(*) from job_ticks"),
            "check_execution_rows": self._scalar("select count(*) from asset_check_executions"),
            "database_bytes": self.database_bytes(),
            "files": file_count(self.dagster_home),
        }


class Footprint:
    """Bytes of the three stores of one LISTORY_HOME."""

    def __init__(self, home: Path, history: SqliteHistory | PostgresHistory) -> None:
        self.home = home
        self.history = history

    def measure(self) -> dict[str, int]:
        warehouse = sum(
            path.stat().st_size
            for path in [*(self.home / "pipeline").glob("warehouse.duckdb*"), *self.home.glob("warehouse.duckdb*")]
        )
        return {
            "landing": folder_bytes(self.home / "landing"),
            "warehouse": warehouse,
            "dagster": self.history.bytes(),
        }


def plays_against_ground_truth(settings, simulator, user_ids) -> dict[str, int]:
    """`core.listens` of each user against the simulator's ground truth, from their oldest stored
    play to their last landed pull (what Spotify could have shown by then): plays missing, stored
    twice, or that never happened. All three are 0 when every play was found exactly once."""
    import duckdb

    from listory_pipeline import runtime

    landing = runtime.landing_zone(settings)
    counts = {"plays_stored": 0, "plays_missing": 0, "plays_stored_twice": 0, "plays_invented": 0}
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as warehouse:
        for user_id in user_ids:
            rows = warehouse.execute(
                "select epoch_ms(played_at), track_id from core.listens where user_id = ? order by all", [user_id]
            ).fetchall()
            last_pull = max((pull.fetched_at for pull in landing.pulls(user_id)), default=None)
            if not rows or last_pull is None:
                continue
            start = datetime.fromtimestamp((rows[0][0] - 1) / 1000, timezone.utc)
            truth = {(int(played.timestamp() * 1000), track) for played, track in simulator.ground_truth(user_id, start, last_pull)}
            stored = set(rows)
            counts["plays_stored"] += len(rows)
            counts["plays_stored_twice"] += len(rows) - len(stored)
            counts["plays_missing"] += len(truth - stored)
            counts["plays_invented"] += len({row for row in stored if row[0] <= int(last_pull.timestamp() * 1000)} - truth)
    return counts


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--days", type=float, default=7.0)
    parser.add_argument("--users", type=int, default=5)
    parser.add_argument("--retention-days", type=float, default=2.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--instance-minutes", type=float, default=30.0, help="0 skips the whole-instance measurement")
    parser.add_argument("--instance-users", type=int, default=20)
    parser.add_argument("--warmup-minutes", type=float, default=3.0)
    parser.add_argument(
        "--dagster-storage", choices=["sqlite", "postgres"], default="sqlite",
        help="postgres: Dagster's history on a private PostgreSQL cluster, as in production (its disk only: the "
             "timings and the instance measurement are taken on the embedded instance, and skipped)",
    )
    args = parser.parse_args()
    if args.days <= args.retention_days:
        parser.error("--days must exceed --retention-days, or the history never reaches its steady state")
    with contextlib.ExitStack() as stack:
        return run(args, stack)


def run(args, stack: contextlib.ExitStack) -> int:
    root = Path(tempfile.mkdtemp(prefix="listory-long-run-"))
    home, empty_home = root / "home", root / "empty"
    os.environ.pop("SPOTIFY_CLIENT_ID", None)
    os.environ.pop("SPOTIFY_CLIENT_SECRET", None)
    os.environ["LISTORY_HOME"] = str(home)
    os.environ["DAGSTER_HOME"] = str(home / "dagster")
    log_path = root / "runs.log"
    print(f"home: {home} (run logs in {log_path})", flush=True)
    if args.dagster_storage == "postgres":
        postgres = start_postgres(stack, root / "postgres")
        postgres_dagster_home(home / "dagster", postgres)
        history = PostgresHistory(home / "dagster", postgres)
        print(f"Dagster storage: PostgreSQL on {postgres.host}:{postgres.port} (deploy/dagster-postgres.yaml)", flush=True)
    else:
        history = SqliteHistory(home / "dagster")

    real_start = datetime.now(timezone.utc).replace(second=0, microsecond=0)
    start = real_start - timedelta(days=args.days + 1)  # the travelled clock stays behind the real one
    traveller = time_machine.travel(start, tick=True)
    coordinates = traveller.start()

    from dagster import DagsterInstance, build_sensor_context

    from listory_pipeline import runtime
    from listory_pipeline.definitions import defs
    from listory_pipeline.defs.crawl.sensors import adaptive_crawl_sensor
    from listory_pipeline.defs.resources import RegistryResource
    from listory_pipeline.runner.instance import ensure_dagster_home
    from listory_pipeline.runner.dagster_fixes import hold_postgres_connections
    from listory_pipeline.settings import load_settings
    from listory_pipeline.spotify.simulator import Simulator, SimulatorConfig, SimulatorServer

    simulator = Simulator(SimulatorConfig(seed=args.seed, n_users=args.users))
    crawl_job = defs.resolve_job_def("crawl_user_job")
    retention_job = defs.resolve_job_def("dagster_retention_job")
    retention_config = {
        "ops": {"purge_old_dagster_runs": {"config": {"success_days": args.retention_days, "failure_days": 2 * args.retention_days}}}
    }
    footprint = Footprint(home, history)
    daily: list[dict] = []
    tick_seconds: list[float] = []
    crawl_runs = failed_runs = 0
    retention_outcomes: list[dict] = []
    before_last_purge = after_last_purge = None

    with SimulatorServer(simulator) as server, open(log_path, "w") as run_log:
        os.environ["LISTORY_SIMULATOR_URL"] = server.base_url
        settings = load_settings()
        ensure_dagster_home(settings)
        instance = DagsterInstance.from_config(str(home / "dagster"))
        # This process is the crawl runs' worker: it keeps its PostgreSQL connections as a forked run
        # worker does (nothing changes on SQLite, whose connections the sensor tick's timing includes).
        hold_postgres_connections(instance)
        registry = runtime.user_registry(settings)
        user_ids = []
        for user in simulator.users():
            registry.register(user.user_id, simulator.refresh_token_for(user.user_id), display_name=user.display_name,
                              timezone_name=user.timezone)
            user_ids.append(user.user_id)
        instance.add_dynamic_partitions("spotify_users", user_ids)  # what the crawl sensor's first tick does
        resources = {"registry": RegistryResource(listory_home=str(home))}
        cursor = None
        minutes = int(args.days * 24 * 60)
        next_retention = datetime.combine(start.date(), datetime.min.time(), timezone.utc) + RETENTION_AT
        if next_retention <= start:
            next_retention += timedelta(days=1)
        wall_started = time.monotonic()
        stderr = sys.stderr
        for minute in range(minutes + 1):
            now = start + timedelta(minutes=minute)
            coordinates.move_to(now)
            sys.stderr = run_log  # Dagster's console lines go to the log file, not the terminal
            try:
                started = time.perf_counter()
                result = adaptive_crawl_sensor(build_sensor_context(instance=instance, cursor=cursor, resources=resources))
                tick_seconds.append(time.perf_counter() - started)
                cursor = result.cursor
                for request in result.run_requests:
                    run = crawl_job.execute_in_process(
                        instance=instance, partition_key=request.partition_key, tags=request.tags, raise_on_error=False
                    )
                    crawl_runs += 1
                    failed_runs += 0 if run.success else 1
                if now >= next_retention:
                    before = {**history.rows(), "bytes": footprint.measure()["dagster"]}
                    purge = retention_job.execute_in_process(instance=instance, run_config=retention_config, raise_on_error=False)
                    after = {**history.rows(), "bytes": footprint.measure()["dagster"]}
                    retention_outcomes.append({"at": now.isoformat(), "success": purge.success, "before": before, "after": after})
                    before_last_purge, after_last_purge = before, after
                    next_retention += timedelta(days=1)
            finally:
                sys.stderr = stderr
            if minute % 1440 == 0 or minute == minutes:
                day = {"day": round(minute / 1440, 2), "crawl_runs": crawl_runs, **footprint.measure()}
                daily.append(day)
                print(json.dumps({**day, "wall_seconds": round(time.monotonic() - wall_started, 1)}), flush=True)
            elif minute % 240 == 0:
                print(f"  simulated {minute / 1440:.2f} of {args.days} days, {crawl_runs} crawl runs "
                      f"({time.monotonic() - wall_started:.0f} s)", flush=True)
        events_per_run = events_per_crawl_run(instance)
        final_cursor = cursor
        exactness = plays_against_ground_truth(settings, simulator, user_ids)
        traveller.stop()

        timings = None
        if history.storage == "sqlite":  # both instances embedded, as the runs page is timed against one
            timings = timings_against_an_empty_instance(
                instance, crawl_job, simulator, server.base_url, user_ids, final_cursor, resources, home, empty_home
            )

    users = args.users
    # the first day includes the catalog's first fill (a run shorter than two days counts from its start)
    steady_from = next((day for day in daily if day["day"] >= 1.0 and day is not daily[-1]), daily[0])
    last = daily[-1]
    steady_user_days = users * (last["day"] - steady_from["day"])
    landing_per_user_day = (last["landing"] - steady_from["landing"]) / steady_user_days
    warehouse_per_user_day = (last["warehouse"] - steady_from["warehouse"]) / steady_user_days
    kept_days = args.retention_days  # just after a purge the history holds the window's runs
    dagster_per_user_day = (after_last_purge["bytes"] if after_last_purge else last["dagster"]) / (users * kept_days)
    bytes_per_user_day = landing_per_user_day + warehouse_per_user_day
    projected = (bytes_per_user_day * 365 + dagster_per_user_day * (PRODUCTION_RETENTION_DAYS + 1)) / 1e9
    dagster_after_purges = [outcome["after"]["bytes"] for outcome in retention_outcomes]
    details = {
        "simulated_days": args.days,
        "users": users,
        "crawl_runs": crawl_runs,
        "failed_crawl_runs": failed_runs,
        "crawl_runs_per_user_day": round(crawl_runs / (users * args.days), 1),
        "retention_days": args.retention_days,
        "core_listens_against_ground_truth": exactness,
        "warehouse_bytes_per_user_day": round(warehouse_per_user_day),
        "dagster_bytes_after_each_purge": dagster_after_purges,
        "dagster_before_last_purge": before_last_purge,
        "dagster_after_last_purge": after_last_purge,
        "dagster_storage": history.storage,
        "sensor_tick_seconds": {"median_during_run": round(statistics.median(tick_seconds), 4), **({} if timings is None else {
            "history": round(timings["tick_full"], 4), "empty": round(timings["tick_empty"], 4)})},
        "runs_page_seconds": None if timings is None else {
            "history": round(timings["runs_page_full"], 4), "without_history": round(timings["runs_page_without_history"], 4),
            "blank_instance": round(timings["runs_page_blank"], 4), "history_beside_blank": round(timings["runs_page_beside_blank"], 4)},
        "projection": f"365 x (landing + warehouse per user-day) + {PRODUCTION_RETENTION_DAYS + 1} x Dagster per user-day kept",
    }
    print(json.dumps(details), flush=True)

    instance_cpu = yardstick = None
    if args.instance_minutes > 0 and history.storage == "sqlite":
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from instance_cpu import import_dagster_cpu_samples, measure_instance_against_yardstick

        # five yardsticks before the instance, one every three minutes inside it and five after, as in crawl_run_cost.py
        cost, yardstick = measure_instance_against_yardstick(
            import_dagster_cpu_samples(),
            users=args.instance_users, minutes=args.instance_minutes, warmup_minutes=args.warmup_minutes,
        )
        print(json.dumps({"instance": cost.__dict__}), flush=True)
        instance_cpu = cost.cpu_per_crawl_run  # what report runs cost is not charged to crawls (instance_cpu.py)
    print(json.dumps({
        "bytes_per_user_day": round(bytes_per_user_day),
        "landing_bytes_per_user_day": round(landing_per_user_day),
        "dagster_bytes_per_user_day": round(dagster_per_user_day),
        "projected_gb_per_user_year": round(projected, 3),
        "events_per_crawl_run": events_per_run,
        "instance_cpu_seconds_per_crawl_run": None if instance_cpu is None else round(instance_cpu, 3),
        "dagster_import_cpu_seconds": None if yardstick is None else round(yardstick, 3),
        "instance_to_import_dagster": None if instance_cpu is None else round(instance_cpu / yardstick, 3),
        "sensor_tick_slowdown": ratio(timings, "tick_full", "tick_empty"),
        "runs_page_slowdown": ratio(timings, "runs_page_full", "runs_page_without_history"),
        "runs_page_slowdown_against_blank_instance": ratio(timings, "runs_page_beside_blank", "runs_page_blank"),
    }))
    return 0


def ratio(timings: dict[str, float] | None, numerator: str, denominator: str) -> float | None:
    return None if timings is None else round(timings[numerator] / timings[denominator], 2)


def timings_against_an_empty_instance(instance, crawl_job, simulator, simulator_url, user_ids, final_cursor, resources,
                                      home: Path, empty_home: Path) -> dict[str, float]:
    """The same sensor tick and runs page, against this history and against an empty instance (seconds)."""
    from dagster import DagsterInstance, build_sensor_context

    from listory_pipeline import runtime
    from listory_pipeline.defs.crawl.sensors import adaptive_crawl_sensor
    from listory_pipeline.defs.resources import RegistryResource
    from listory_pipeline.runner.instance import ensure_dagster_home
    from listory_pipeline.settings import load_settings

    empty_settings = load_settings({"LISTORY_HOME": str(empty_home), "LISTORY_SIMULATOR_URL": simulator_url})
    os.environ["DAGSTER_HOME"] = str(empty_home / "dagster")
    ensure_dagster_home(empty_settings)
    empty_registry = runtime.user_registry(empty_settings)
    for user in simulator.users():
        empty_registry.register(user.user_id, simulator.refresh_token_for(user.user_id), timezone_name=user.timezone)
    empty_instance = DagsterInstance.from_config(str(empty_home / "dagster"))
    empty_instance.add_dynamic_partitions("spotify_users", user_ids)
    tick_full = timed(lambda: adaptive_crawl_sensor(
        build_sensor_context(instance=instance, cursor=final_cursor, resources=resources)), TIMED_REPEATS)
    tick_empty = timed(lambda: adaptive_crawl_sensor(build_sensor_context(
        instance=empty_instance, cursor=final_cursor, resources={"registry": RegistryResource(listory_home=str(empty_home))})), TIMED_REPEATS)
    # each page in a fresh process, as the webserver serves it (see runs_page.py)
    runs_page_beside_blank, runs_page_blank = interleaved_medians([home, empty_home])
    # A blank page draws no run at all: against it the history would be charged with drawing
    # 26 rows. The instance without history gets one page of crawl runs, so the same page is
    # timed with and without the history behind it (the headline); the blank figure is kept.
    os.environ["LISTORY_HOME"] = str(empty_home)
    for index in range(RUNS_PAGE_SIZE):
        crawl_job.execute_in_process(instance=empty_instance, partition_key=user_ids[index % len(user_ids)],
                                     raise_on_error=False)
    runs_page_full, runs_page_without_history = interleaved_medians([home, empty_home])
    os.environ["LISTORY_HOME"] = str(home)
    os.environ["DAGSTER_HOME"] = str(home / "dagster")
    return {
        "tick_full": tick_full, "tick_empty": tick_empty, "runs_page_full": runs_page_full,
        "runs_page_without_history": runs_page_without_history, "runs_page_blank": runs_page_blank,
        "runs_page_beside_blank": runs_page_beside_blank,
    }


def events_per_crawl_run(instance) -> float:
    """Mean events of the crawl runs still kept (successful ones: what a steady day leaves)."""
    from dagster import DagsterRunStatus, RunsFilter

    runs = instance.get_runs(RunsFilter(job_name="crawl_user_job", statuses=[DagsterRunStatus.SUCCESS]), limit=500)
    counts = [len(instance.all_logs(run.run_id)) for run in runs]
    return round(statistics.mean(counts), 1) if counts else 0.0


if __name__ == "__main__":
    raise SystemExit(main())
