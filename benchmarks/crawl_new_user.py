"""Listory's benchmark case: a new user, 50 new plays, all catalog new.

Runs the crawl steps the Dagster graph runs (land → load → enrich) against the
simulator over real HTTP, with a fresh LISTORY_HOME each time, in two app modes:
several-ids endpoints allowed, and refused (a 2026 development-mode app). Then
crawls the same user again with no new plays. Prints one JSON object as the last
line:

  {"bulk_allowed": R, "bulk_refused": R, "recrawl": R}
  R = {"spotify_requests": {"total": n, "<endpoint>": n, ...},
       "duckdb_statements": n,        # write statements of the load
       "enrichment_statements": n,    # write statements of genre enrichment
       "new_listens": n, "wall_seconds": x}

Listory for reference (from its changelog): 8 requests and 8 inserts after its
bulk rewrite, 208 and 96 before.

Usage: uv run python benchmarks/crawl_new_user.py
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from listory_pipeline import runtime
from listory_pipeline.crawl import steps as crawl
from listory_pipeline.settings import load_settings
from listory_pipeline.spotify.auth import SpotifyApp
from listory_pipeline.spotify.simulator import Simulator, SimulatorConfig, SimulatorServer
from listory_pipeline.warehouse.loader import UserRow

FIXED_NOW = datetime(2026, 11, 20, 21, 30, tzinfo=timezone.utc)


def crawl_once(home: Path, server: SimulatorServer, user_id: str) -> dict:
    settings = load_settings({"LISTORY_HOME": str(home), "LISTORY_SIMULATOR_URL": server.base_url})
    app = SpotifyApp(
        client_id=server.simulator.config.client_id,
        client_secret=server.simulator.config.client_secret,
        api_url=server.api_url,
        accounts_url=server.accounts_url,
    )
    registry = runtime.user_registry(settings)
    user = registry.get(user_id)
    started = time.perf_counter()
    with runtime.spotify_client(settings, app) as client:
        session = client.user_session(user_id, registry.refresh_token(user_id))
        landed = crawl.land_recent_plays(session, runtime.landing_zone(settings), user_id)
        loaded, checks = crawl.load_landed(
            settings.warehouse_path,
            runtime.landing_zone(settings),
            UserRow(user.user_id, user.display_name, user.timezone, user.status),
            lock_wait_seconds=30,
        )
        enriched = crawl.enrich_artists(
            settings.warehouse_path, client, session, runtime.app_key(app), max_requests=200, lock_wait_seconds=30
        )
        requests = client.counter.snapshot()
    wall = time.perf_counter() - started
    assert all(check.passed for check in checks), checks
    return {
        "spotify_requests": requests,
        "duckdb_statements": loaded.write_statement_count,
        "enrichment_statements": sum(enriched.result.write_statements.values()) if enriched.result else 0,
        "new_listens": loaded.new_listens,
        "wall_seconds": round(wall, 3),
        "_load_by_table": loaded.write_statements,
        "_plays_in_pull": landed.plays_in_pull,
        "_artists_checked": enriched.result.artists_checked if enriched.result else 0,
    }


def run_mode(bulk_refused: bool) -> tuple[dict, dict | None]:
    simulator = Simulator(SimulatorConfig(seed=7, n_users=1))
    simulator.clock.set(FIXED_NOW)
    simulator.faults.bulk_refused = bulk_refused
    with SimulatorServer(simulator) as server, tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        user = simulator.users()[0]
        settings = load_settings({"LISTORY_HOME": str(home)})
        runtime.user_registry(settings).register(
            user.user_id, simulator.refresh_token_for(user.user_id), display_name=user.display_name, timezone_name=user.timezone
        )
        first = crawl_once(home, server, user.user_id)
        again = crawl_once(home, server, user.user_id) if not bulk_refused else None
    return first, again


def public(figures: dict) -> dict:
    return {key: value for key, value in figures.items() if not key.startswith("_")}


def main() -> int:
    allowed, recrawl = run_mode(bulk_refused=False)
    refused, _ = run_mode(bulk_refused=True)
    for name, figures in (("bulk_allowed", allowed), ("bulk_refused", refused), ("recrawl", recrawl)):
        print(
            f"{name}: {figures['spotify_requests']['total']} requests, "
            f"load writes by table {figures['_load_by_table']}, "
            f"{figures['_plays_in_pull']} plays in pull, {figures['_artists_checked']} artists enriched"
        )
    print("listory reference: 8 requests, 8 inserts (bulk); 208 requests, 96 inserts (before)", flush=True)
    print(json.dumps({"bulk_allowed": public(allowed), "bulk_refused": public(refused), "recrawl": public(recrawl)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
