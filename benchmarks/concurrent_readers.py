"""Readers beside the pipeline: 20 users crawled while 3 reader processes query all along.

The pipeline side runs in this process as the crawl runs would: every round the
simulator's clock moves one minute and each of the 20 users is crawled (land → load →
enrich, the plain step functions the Dagster assets call), spread over the round;
write sessions publish the read copy when due, and a thread does what
`warehouse_publish_sensor` does in the daemon. Mid-way and at the end the reports are
rebuilt with dbt. Rounds run faster than real time (one simulated minute every
`--round-seconds`, 10 by default: six times the real write rate), which only makes
publishing look worse: its cost is bounded by the interval, not by the number of loads.

Three reader processes each keep one connection open for the whole run, running report
queries on it in a loop (what a DuckDB CLI or notebook session does), and once a second
open a new connection the documented way to see how fresh the data is.

Figures:
- failed_loads: crawl loads that raised; delayed_loads: loads whose warehouse connection
  had to wait for a lock (anyone's: readers never take it, so only the pipeline could);
- reader_lock_errors / reader_errors: errors the readers got (lock ones, all);
- freshness p50/p95: from the start of a load to a reader's new connection seeing it
  (each load records its pull in meta.loaded_pulls, so every load counts, new plays or not);
- maintenance CPU: CPU seconds spent publishing (inline and trailing), per hour of this
  run and as a share of one core;
- publish_seconds_10m: one publish of a 200 users x 50,000 plays warehouse (generated
  with benchmarks/reports.py's SQL), beside a plain copy of the same file as baseline.

Usage: uv run python benchmarks/concurrent_readers.py [--rounds 12] [--round-seconds 10] [--skip-10m]
Last line: {"failed_loads": n, "delayed_loads": n, "reader_lock_errors": n,
            "freshness_p95_seconds": x, "maintenance_cpu_share": x, "publish_seconds_10m": x}
Targets: 0, 0, 0, <= 60 s, <= 0.10 of one core. Wall and CPU figures depend on the
machine being quiet: the load average is printed at the start and the end.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

USERS = 20
READERS = 3
FIXED_NOW = datetime(2026, 11, 20, 18, 0, tzinfo=timezone.utc)

# What an analyst's session runs again and again: a top-artists ranking over the raw
# plays and the built report, both for one user.
REPORT_QUERIES = [
    "select a.name, count(*) as listens from core.listens l "
    "join core.track_artists ta on ta.track_id = l.track_id and ta.position = 0 "
    "join core.artists a on a.artist_id = ta.artist_id "
    "where l.user_id = (select min(user_id) from core.users) group by all order by listens desc limit 10",
    "select count(*) from core.listens l join core.tracks t using (track_id) group by l.user_id",
]
REPORTS_QUERY = "select * from reports.top_artists where time_preset = 'last_7_days' order by user_id, rank limit 50"


# -- the reader processes --------------------------------------------------------------------


def reader_main(path: str, stop: str, out: str) -> int:
    """One reader: a connection held all run long, and a fresh one every second for freshness."""
    from listory_pipeline.publication.readers import open_read_copy

    held = open_read_copy(Path(path))
    errors: list[str] = []
    latencies: list[float] = []
    snapshots: list[tuple[float, dict[str, int]]] = []
    next_fresh = 0.0
    while not os.path.exists(stop):
        for sql in REPORT_QUERIES + [REPORTS_QUERY]:
            started = time.perf_counter()
            try:
                held.execute(sql).fetchall()
                latencies.append(time.perf_counter() - started)
            except Exception as exc:  # every failure is a figure
                if sql is REPORTS_QUERY and "does not exist" in str(exc):
                    continue  # reports not built in the snapshot this session holds
                errors.append(f"{type(exc).__name__}: {exc}")
        if time.monotonic() >= next_fresh:
            next_fresh = time.monotonic() + 1.0
            seen_at = time.time()
            try:
                fresh = open_read_copy(Path(path))
                counts = dict(fresh.execute("select user_id, count(*) from meta.loaded_pulls group by 1").fetchall())
                if fresh.execute("select count(*) from duckdb_tables() where database_name = 'warehouse' and schema_name = 'reports'").fetchone()[0]:
                    fresh.execute(REPORTS_QUERY).fetchall()
                fresh.close()
                snapshots.append((seen_at, counts))
            except Exception as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
        time.sleep(0.05)
    held.close()
    Path(out).write_text(json.dumps({"errors": errors, "latencies": latencies, "snapshots": snapshots}))
    return 0


# -- the pipeline side -----------------------------------------------------------------------


class PublishMeter:
    """Counts lock waits of warehouse connections and the CPU spent publishing, by wrapping both."""

    def __init__(self) -> None:
        self.cpu_seconds = 0.0
        self.publishes = 0
        self.lock_waits = 0
        self._lock = threading.Lock()

    def install(self) -> None:
        from listory_pipeline.publication import snapshot
        from listory_pipeline.warehouse import connection

        original_publish, original_connect = snapshot.publish_from, connection.connect_with_retry

        def timed_publish(*args, **kwargs):
            started = time.thread_time()
            result = original_publish(*args, **kwargs)
            with self._lock:
                self.cpu_seconds += time.thread_time() - started
                self.publishes += result is not None
            return result

        def counting_connect(path, **kwargs):
            waited = []

            def sleep(seconds):
                waited.append(seconds)
                time.sleep(seconds)

            conn = original_connect(path, sleep=sleep, **kwargs)
            if waited:
                with self._lock:
                    self.lock_waits += 1
            return conn

        snapshot.publish_from = timed_publish
        connection.publish_from = timed_publish
        connection.connect_with_retry = counting_connect


def trailing_publisher(publication, stop: threading.Event, errors: list[str]) -> None:
    """What warehouse_publish_sensor does in the daemon, at its interval."""
    from listory_pipeline.publication.snapshot import TRAILING_CHECK_SECONDS, publish_trailing
    from listory_pipeline.warehouse.connection import WarehouseLockedError

    while not stop.wait(TRAILING_CHECK_SECONDS):
        try:
            publish_trailing(publication, wait_seconds=1.0)
        except WarehouseLockedError:
            pass  # a pipeline writer holds the file; it publishes when due
        except Exception as exc:
            errors.append(f"trailing publish: {type(exc).__name__}: {exc}")


def run_pipeline(home: Path, rounds: int, round_seconds: float) -> dict:
    from listory_pipeline import runtime
    from listory_pipeline.crawl import steps as crawl
    from listory_pipeline.reports.build import build_reports
    from listory_pipeline.settings import load_settings
    from listory_pipeline.spotify.auth import SpotifyApp
    from listory_pipeline.spotify.simulator import Simulator, SimulatorConfig, SimulatorServer
    from listory_pipeline.warehouse.loader import UserRow

    simulator = Simulator(SimulatorConfig(seed=23, n_users=USERS))
    simulator.clock.set(FIXED_NOW)
    meter = PublishMeter()
    meter.install()
    with SimulatorServer(simulator) as server:
        settings = load_settings({"LISTORY_HOME": str(home), "LISTORY_SIMULATOR_URL": server.base_url})
        registry = runtime.user_registry(settings)
        for user in simulator.users():
            registry.register(user.user_id, simulator.refresh_token_for(user.user_id), display_name=user.display_name, timezone_name=user.timezone)
        users = {u.user_id: UserRow(u.user_id, u.display_name, u.timezone, u.status) for u in registry.list()}
        app = SpotifyApp(
            client_id=simulator.config.client_id,
            client_secret=simulator.config.client_secret,
            api_url=server.api_url,
            accounts_url=server.accounts_url,
        )
        landing = runtime.landing_zone(settings)
        publication = settings.publication
        loads: list[dict] = []
        failures: list[str] = []
        counts = {user_id: 0 for user_id in users}
        load_seconds: list[float] = []  # the writer's time per load: what one warehouse host can sustain

        def crawl_user(client, user_id: str) -> None:
            started = time.time()
            try:
                session = client.user_session(user_id, registry.refresh_token(user_id))
                crawl.land_recent_plays(session, landing, user_id)
                load_started = time.perf_counter()
                result, _ = crawl.load_landed(settings.warehouse_path, landing, users[user_id], lock_wait_seconds=120, publication=publication)
                load_seconds.append(time.perf_counter() - load_started)
                counts[user_id] += 1  # every load records its pull in meta.loaded_pulls, new plays or not
                loads.append({"user": user_id, "count": counts[user_id], "started": started, "new": result.new_listens})
                crawl.enrich_artists(settings.warehouse_path, client, session, runtime.app_key(app), max_requests=5, lock_wait_seconds=120, publication=publication)
            except Exception as exc:
                failures.append(f"{user_id}: {type(exc).__name__}: {exc}")

        stop_readers = home.parent / "stop-readers"
        reader_files = [home.parent / f"reader-{i}.json" for i in range(READERS)]
        readers: list[subprocess.Popen] = []
        stop_trailing = threading.Event()
        trailing_errors: list[str] = []
        report_builds: list[float] = []
        with runtime.spotify_client(settings, app) as client:
            for user_id in users:  # a first crawl of everyone, so readers have a copy to open
                crawl_user(client, user_id)
            loads.clear()  # freshness counts from here, with the readers running
            readers = [
                subprocess.Popen([sys.executable, __file__, "--reader", str(settings.published_warehouse_path), str(stop_readers), str(out)])
                for out in reader_files
            ]
            trailing = threading.Thread(target=trailing_publisher, args=(publication, stop_trailing, trailing_errors), daemon=True)
            trailing.start()
            cpu_before, publishes_before = meter.cpu_seconds, meter.publishes
            run_started = time.monotonic()
            for round_index in range(rounds):
                round_started = time.monotonic()
                simulator.clock.advance(60)
                for position, user_id in enumerate(users):
                    pause = round_started + round_seconds * position / len(users) - time.monotonic()
                    if pause > 0:
                        time.sleep(pause)
                    crawl_user(client, user_id)
                if round_index in (rounds // 2, rounds - 1):
                    built = build_reports(settings, quiet=True, tests=False)
                    if not built.success:
                        failures.append("report build: " + "; ".join(built.failures))
                    report_builds.append(built.seconds)
                print(f"round {round_index + 1}/{rounds}: {len(loads)} loads ({sum(1 for x in loads if x['new'])} with new plays), "
                      f"{meter.publishes} publishes, lock waits {meter.lock_waits}", flush=True)
            time.sleep(max(0.0, round_started + round_seconds - time.monotonic()))
            elapsed = time.monotonic() - run_started
            # let the last writes reach readers the way they would: through the trailing publish
            time.sleep(publication.min_interval_seconds * 2 + 12)
        stop_trailing.set()
        stop_readers.touch()
        for reader in readers:
            reader.wait(timeout=60)
    reports = [json.loads(path.read_text()) for path in reader_files]
    return {
        "loads": loads,
        "failures": failures + trailing_errors,
        "lock_waits": meter.lock_waits,
        "publish_cpu_seconds": meter.cpu_seconds - cpu_before,
        "publishes": meter.publishes - publishes_before,
        "elapsed": elapsed,
        "readers": reports,
        "report_builds": report_builds,
        "warehouse_bytes": settings.warehouse_path.stat().st_size,
        "load_seconds": load_seconds,
    }


def freshness_lags(loads: list[dict], readers: list[dict]) -> list[float]:
    """For each load and each reader: first fresh snapshot that holds it, minus the load's start."""
    lags = []
    for reader in readers:
        snapshots = reader["snapshots"]
        for load in loads:
            seen = next((t for t, counts in snapshots if t >= load["started"] and counts.get(load["user"], 0) >= load["count"]), None)
            if seen is not None:
                lags.append(seen - load["started"])
    return lags


def percentile(values: list[float], fraction: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


# -- publishing at 10M plays -----------------------------------------------------------------


def publish_cost_10m(root: Path) -> dict:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from reports import generate, warehouse_of  # the reports benchmark's data generator

    from listory_pipeline.publication.snapshot import publish
    from listory_pipeline.settings import load_settings

    home = root / "home_10m"
    home.mkdir()
    print(f"generating 200 users x 50,000 plays ... {generate(home, 200, 50_000):.1f} s", flush=True)
    publication = load_settings({"LISTORY_HOME": str(home)}).publication
    size = warehouse_of(home).stat().st_size
    runs = []
    for _ in range(3):
        wall, cpu = time.perf_counter(), time.thread_time()
        publish(publication, wait_seconds=10, force=True)
        runs.append((time.perf_counter() - wall, time.thread_time() - cpu))
    plain = []
    for _ in range(3):
        started = time.perf_counter()
        shutil.copyfile(warehouse_of(home), root / "plain-copy.duckdb")
        plain.append(time.perf_counter() - started)
    (root / "plain-copy.duckdb").unlink()
    return {
        "bytes": size,
        "publish_seconds": statistics.median(r[0] for r in runs),
        "publish_cpu_seconds": statistics.median(r[1] for r in runs),
        "plain_copy_seconds": statistics.median(plain),
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=12, help="simulated minutes of crawling (default 12)")
    parser.add_argument("--round-seconds", type=float, default=10.0, help="wall seconds per simulated minute (default 10)")
    parser.add_argument("--skip-10m", action="store_true", help="skip the 10M-play publish measurement")
    parser.add_argument("--reader", nargs=3, metavar=("PATH", "STOP", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.reader:
        return reader_main(*args.reader)
    root = Path(tempfile.mkdtemp(prefix="listory-bench-readers-"))
    print(f"load average at start: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores", flush=True)
    try:
        home = root / "home"
        home.mkdir()
        run = run_pipeline(home, args.rounds, args.round_seconds)
        lags = freshness_lags(run["loads"], run["readers"])
        reader_errors = [e for reader in run["readers"] for e in reader["errors"]]
        latencies = [x for reader in run["readers"] for x in reader["latencies"]]
        share = run["publish_cpu_seconds"] / run["elapsed"]
        print(f"{args.rounds} simulated minutes in {run['elapsed']:.0f} s: {len(run['loads'])} loads "
              f"({sum(1 for x in run['loads'] if x['new'])} with new plays), {run['publishes']} publishes, report builds {['%.1f s' % s for s in run['report_builds']]}, "
              f"warehouse {run['warehouse_bytes'] / 1e6:.1f} MB")
        print(f"failures: {run['failures'] or 'none'}")
        load_p50 = percentile(run["load_seconds"], .5)
        print(f"one load (open, migrate check, load one pull, checks, publish when due): p50 {load_p50 * 1000:.0f} ms, "
              f"p95 {percentile(run['load_seconds'], .95) * 1000:.0f} ms: one writer sustains about "
              f"{60 / load_p50:,.0f} users crawled every minute")
        print(f"readers: {len(latencies)} report queries on held connections (p50 {percentile(latencies, .5) * 1000:.1f} ms, "
              f"p95 {percentile(latencies, .95) * 1000:.1f} ms), errors: {reader_errors[:5] or 'none'}")
        print(f"freshness over {len(lags)} (load, reader) pairs: p50 {percentile(lags, .5):.1f} s, p95 {percentile(lags, .95):.1f} s, "
              f"max {max(lags):.1f} s; loads never seen: {len(run['loads']) * READERS - len(lags)}")
        print(f"publishing: {run['publish_cpu_seconds']:.2f} CPU-s in {run['elapsed']:.0f} s = "
              f"{run['publish_cpu_seconds'] / run['elapsed'] * 3600:.0f} CPU-s per hour ({share:.4f} of one core)")
        ten = None if args.skip_10m else publish_cost_10m(root)
        if ten:
            print(f"publish at 10M plays ({ten['bytes'] / 1e6:.0f} MB): {ten['publish_seconds']:.2f} s wall, "
                  f"{ten['publish_cpu_seconds']:.2f} CPU-s; a plain copy of the file {ten['plain_copy_seconds']:.2f} s "
                  f"(ratio {ten['publish_seconds'] / ten['plain_copy_seconds']:.2f}); at one publish per "
                  f"15 s interval that is at most {ten['publish_cpu_seconds'] / 15:.3f} of one core")
        print(f"load average at end: {os.getloadavg()[0]:.2f}", flush=True)
        print(json.dumps({
            "failed_loads": len(run["failures"]),
            "delayed_loads": run["lock_waits"],
            "reader_lock_errors": sum("lock" in e.lower() for e in reader_errors),
            "reader_errors": len(reader_errors),
            "freshness_p50_seconds": round(percentile(lags, .5), 2),
            "freshness_p95_seconds": round(percentile(lags, .95), 2),
            "maintenance_cpu_seconds_per_hour": round(run["publish_cpu_seconds"] / run["elapsed"] * 3600, 1),
            "maintenance_cpu_share": round(share, 4),
            "publish_seconds_10m": round(ten["publish_seconds"], 2) if ten else None,
        }))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
