"""How long one tick of the adaptive crawl sensor takes at 10, 1,000 and 10,000 users.

The tick must stay cheap in the number of users and independent of listens: it
reads the registry, its cursor, the new crawl outcomes in Dagster's event log
and the runs in flight. For each size this script registers the users in a
fresh LISTORY_HOME, adds their partitions to a SQLite-backed instance, runs a
first tick (everyone is due), then times steady-state ticks, each after 100 new
crawl materialisations (or one per user when fewer) land in the event log.

Usage: uv run python benchmarks/sensor_tick.py
Last line: {"tick_seconds": {"10": x, "1000": x, "10000": x}}
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path


def measure(size: int) -> tuple[float, float]:
    home = Path(tempfile.mkdtemp(prefix=f"listory-tick-{size}-"))
    os.environ["LISTORY_HOME"] = str(home)
    os.environ["DAGSTER_HOME"] = str(home / "dagster")
    from dagster import AssetKey, AssetMaterialization, DagsterInstance, build_sensor_context

    from listory_pipeline import runtime
    from listory_pipeline.runner.instance import ensure_dagster_home
    from listory_pipeline.defs.crawl.sensors import adaptive_crawl_sensor
    from listory_pipeline.defs.resources import RegistryResource
    from listory_pipeline.settings import load_settings

    settings = load_settings()
    ensure_dagster_home(settings)
    registry = runtime.user_registry(settings)
    user_ids = [f"listener-{index:05d}" for index in range(size)]
    for user_id in user_ids:
        registry.register(user_id, f"refresh-{user_id}", timezone_name="Europe/Berlin")
    resources = {"registry": RegistryResource(listory_home=str(home))}
    with DagsterInstance.get() as instance:
        instance.add_dynamic_partitions("spotify_users", user_ids)
        started = time.perf_counter()
        result = adaptive_crawl_sensor(build_sensor_context(instance=instance, resources=resources))
        first = time.perf_counter() - started
        assert len(result.run_requests) == size
        cursor = result.cursor
        timings = []
        for tick in range(3):
            now = datetime.now(timezone.utc)
            for user_id in user_ids[tick * 100 % size :][: min(100, size)]:
                instance.report_runless_asset_event(
                    AssetMaterialization(
                        asset_key=AssetKey(["landing", "recently_played"]),
                        partition=user_id,
                        metadata={"newest_played_at": (now - timedelta(minutes=5)).isoformat(), "plays_in_pull": 50},
                    )
                )
            started = time.perf_counter()
            result = adaptive_crawl_sensor(build_sensor_context(instance=instance, resources=resources, cursor=cursor))
            timings.append(time.perf_counter() - started)
            cursor = result.cursor
    return first, statistics.median(timings)


def main() -> int:
    figures = {}
    for size in (10, 1000, 10000):
        first, steady = measure(size)
        print(f"{size} users: first tick {first:.3f} s, steady tick {steady:.3f} s", flush=True)
        figures[str(size)] = round(steady, 4)
    print(json.dumps({"tick_seconds": figures}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
