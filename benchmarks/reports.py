"""Reports at scale: 1 user with 1,000,000 plays and 200 users with 50,000 plays each, 10 years.

Generates both histories straight into fresh DuckDB warehouses with SQL (seconds), then:

1. `dbt build` of every report model (data tests and unit tests included), as `listory reports
   build` runs it — wall time including dbt's own start-up, parse and test overhead;
2. the compiled SQL of the same models executed directly on DuckDB in dependency order (what
   the models themselves cost; compiled once by the dbt build above) — this is the figure
   reported as one_user_1m_seconds / rebuild_10m_seconds;
3. Listory's listens report on the 1M user: a per-bucket scan (one COUNT query per day since
   the first listen; a sample of days is timed and extrapolated, and the output says so) and
   its later "SQL GROUP BY day, then fill the missing days in Python" version.

Peak RSS covers this process (DuckDB runs in it for 2. and 3.) and the dbt subprocesses.
The last line is JSON:
{"one_user_1m_seconds": x, "rebuild_10m_seconds": x, "per_bucket_scan_seconds": x,
 "listory_sql_fill_seconds": x, "speedup_vs_per_bucket": x, "peak_rss_mb": x}
speedup_vs_per_bucket = per-bucket scan of the day listens report / our whole report build for that user.

Usage: uv run python benchmarks/reports.py [--keep DIR] [--sample-buckets 200]
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import shutil
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import duckdb

from listory_pipeline.reports.project import DBT_PROJECT_DIR, dbt_vars_arg
from listory_pipeline.settings import load_settings
from listory_pipeline.warehouse.connection import open_warehouse

AS_OF = date(2026, 11, 24)
YEARS_SECONDS = 10 * 365 * 86_400
START = datetime(2016, 11, 27, tzinfo=timezone.utc)
TIMEZONES = ["Europe/Berlin", "America/New_York", "Asia/Tokyo", "UTC", "Asia/Kolkata", "America/Los_Angeles", "Australia/Sydney"]

# Generation: bound parameters only ($start, $step, $plays, $users).
CATALOG_SQL = [
    "insert into core.artists (artist_id, name, genres_status, first_seen_at, updated_at) "
    "select 'ar' || i, 'Artist ' || (i % 9000), 'found', now(), now() from range(10000) t(i)",
    "insert into core.artist_genres select 'ar' || i, 'genre ' || ((i * 7 + k * 13) % 500) "
    "from range(10000) t(i), range(3) g(k) where (i + k) % 4 <> 0",
    "insert into core.albums (album_id, name, first_seen_at, updated_at) "
    "select 'al' || i, 'Album ' || i, now(), now() from range(5000) t(i)",
    "insert into core.tracks (track_id, name, duration_ms, album_id, first_seen_at, updated_at) "
    "select 'tr' || i, 'Track ' || (i % 40000), 120000 + hash(i) % 240000, 'al' || (i % 5000), now(), now() "
    "from range(50000) t(i)",
    "insert into core.track_artists select 'tr' || i, 'ar' || (i % 10000), 0 from range(50000) t(i)",
    "insert into core.track_artists select 'tr' || i, 'ar' || ((i * 31 + 7) % 10000), 1 from range(50000) t(i) "
    "where i % 5 = 0 and (i * 31 + 7) % 10000 <> i % 10000",
]
USERS_SQL = (
    "insert into core.users select 'u' || lpad(u::varchar, 4, '0'), 'user ' || u, "
    "($timezones::varchar[])[1 + u % len($timezones::varchar[])], 'active', now() from range($users) t(u)"
)
# plays evenly spread over 10 years with jitter inside each slot (so (user, track, played_at) is
# unique); tracks skewed towards a popular head; half the plays carry ms_played
LISTENS_SQL = (
    "insert into core.listens (user_id, played_at, track_id, source, ms_played, loaded_at) "
    "select 'u' || lpad(u::varchar, 4, '0'), "
    "       $start::timestamptz + to_microseconds((i * $step + hash(u, i) % $step)::bigint), "
    "       'tr' || (floor(50000 * pow((hash(i, u, 1) % 1000003) / 1000003.0, 3)))::bigint, "
    "       case when i % 2 = 0 then 'extended_history' else 'recently_played' end, "
    "       case when i % 2 = 0 then 1000 + hash(i, u, 2) % 300000 end, now() "
    "from range($users) s(u), range($plays) t(i)"
)


def rss_mb() -> tuple[float, float]:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return own, children


def generate(home: Path, users: int, plays_per_user: int) -> float:
    started = time.perf_counter()
    step_us = YEARS_SECONDS * 1_000_000 // plays_per_user
    with open_warehouse(home / "warehouse.duckdb") as warehouse:
        conn = warehouse.conn
        for sql in CATALOG_SQL:
            conn.execute(sql)
        conn.execute(USERS_SQL, {"users": users, "timezones": TIMEZONES})
        conn.execute(LISTENS_SQL, {"users": users, "plays": plays_per_user, "start": START, "step": step_us})
        conn.execute("checkpoint")
    return time.perf_counter() - started


def dbt_build(home: Path) -> tuple[float, Path, bool]:
    from dagster_dbt import DbtCliResource

    settings = load_settings({"LISTORY_HOME": str(home)})
    target = home / "dbt-target"
    dbt = DbtCliResource(project_dir=str(DBT_PROJECT_DIR), profiles_dir=str(DBT_PROJECT_DIR))
    started = time.perf_counter()
    invocation = dbt.cli(["build", "--quiet", *dbt_vars_arg(settings, AS_OF)], target_path=target, raise_on_error=False)
    invocation.wait()
    return time.perf_counter() - started, target, invocation.is_successful()


def compiled_models(target: Path) -> list[tuple[str, str, str, str]]:
    """(schema, relation, materialization, compiled select) of every model, in dependency order."""
    manifest = json.loads((target / "manifest.json").read_text())
    models = {uid: node for uid, node in manifest["nodes"].items() if node["resource_type"] == "model"}
    ordered, done = [], set()

    def visit(uid: str) -> None:
        if uid in done:
            return
        for parent in models[uid]["depends_on"]["nodes"]:
            if parent in models:
                visit(parent)
        done.add(uid)
        ordered.append(uid)

    for uid in sorted(models):
        visit(uid)
    result = []
    for uid in ordered:
        node = models[uid]
        compiled = (target / "compiled" / node["package_name"] / node["original_file_path"]).read_text()
        result.append((node["schema"], node["alias"], node["config"]["materialized"], compiled))
    return result


def run_compiled(home: Path, models: list[tuple[str, str, str, str]]) -> tuple[float, dict[str, float]]:
    conn = duckdb.connect(str(home / "warehouse.duckdb"))
    per_model = {}
    started = time.perf_counter()
    for schema, relation, materialized, sql in models:
        t = time.perf_counter()
        kind = "view" if materialized == "view" else "table"
        conn.execute(f'create or replace {kind} "{schema}"."{relation}" as {sql}')  # names from dbt's manifest
        per_model[f"{schema}.{relation}"] = time.perf_counter() - t
    total = time.perf_counter() - started
    conn.close()
    return total, per_model


def listory_per_bucket(home: Path, user_id: str, sample: int) -> tuple[float, int, int]:
    """One COUNT per local day since the first listen, Listory's loop; timed on a sample, extrapolated."""
    conn = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    [(tz,)] = conn.execute("select timezone from core.users where user_id = $u", {"u": user_id}).fetchall()
    [(first,)] = conn.execute(
        "select cast(timezone($tz, min(played_at)) as date) from core.listens where user_id = $u", {"u": user_id, "tz": tz}
    ).fetchall()
    days = (AS_OF - first).days + 1
    rng = random.Random(1)
    chosen = sorted(rng.sample(range(days), min(sample, days)))
    query = (
        "select count(*), coalesce(sum(ms_played), 0) from core.listens where user_id = $u "
        "and played_at >= timezone($tz, $lo::timestamp) and played_at < timezone($tz, $hi::timestamp)"
    )
    started = time.perf_counter()
    for offset in chosen:
        day = first + timedelta(days=offset)
        conn.execute(query, {"u": user_id, "tz": tz, "lo": datetime.combine(day, datetime.min.time()),
                             "hi": datetime.combine(day + timedelta(days=1), datetime.min.time())}).fetchall()
    sampled = time.perf_counter() - started
    conn.close()
    return sampled / len(chosen) * days, len(chosen), days


def listory_sql_then_fill(home: Path, user_id: str) -> tuple[float, int]:
    """GROUP BY local day in SQL, then fill every missing day since the first listen in Python."""
    conn = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    started = time.perf_counter()
    [(tz,)] = conn.execute("select timezone from core.users where user_id = $u", {"u": user_id}).fetchall()
    counts = dict(
        conn.execute(
            "select cast(timezone($tz, played_at) as date), count(*) from core.listens where user_id = $u group by 1",
            {"u": user_id, "tz": tz},
        ).fetchall()
    )
    filled = []
    day = min(counts)
    while day <= AS_OF:
        filled.append((day, counts.get(day, 0)))
        day += timedelta(days=1)
    elapsed = time.perf_counter() - started
    conn.close()
    return elapsed, len(filled)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--keep", type=Path, help="build in this folder and keep it (default: a temporary folder)")
    parser.add_argument("--sample-buckets", type=int, default=300)
    args = parser.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="listory-bench-reports-"))
    root.mkdir(parents=True, exist_ok=True)
    one, many = root / "one_user_1m", root / "many_users_10m"
    for home in (one, many):
        shutil.rmtree(home, ignore_errors=True)
        home.mkdir(parents=True)
    try:
        print(f"generating 1 user x 1,000,000 plays ... {generate(one, 1, 1_000_000):.1f} s", flush=True)
        print(f"generating 200 users x 50,000 plays ... {generate(many, 200, 50_000):.1f} s", flush=True)

        dbt_one, target_one, ok_one = dbt_build(one)
        print(f"dbt build (models + tests), 1M plays: {dbt_one:.1f} s, success={ok_one}", flush=True)
        dbt_many, target_many, ok_many = dbt_build(many)
        print(f"dbt build (models + tests), 10M plays: {dbt_many:.1f} s, success={ok_many}", flush=True)

        models = compiled_models(target_one)
        sql_one, per_model_one = run_compiled(one, models)
        print(f"report models as SQL on DuckDB, 1M plays: {sql_one:.2f} s", flush=True)
        sql_many, per_model_many = run_compiled(many, compiled_models(target_many))
        print(f"report models as SQL on DuckDB, 10M plays: {sql_many:.2f} s", flush=True)
        slowest = sorted(per_model_many.items(), key=lambda kv: -kv[1])[:5]
        print("  slowest at 10M: " + ", ".join(f"{name} {sec:.2f} s" for name, sec in slowest))

        scan, sampled, days = listory_per_bucket(one, "u0000", args.sample_buckets)
        print(f"Listory per-bucket scan, 1M plays: {days} day buckets; {sampled} timed, extrapolated to {scan:.1f} s "
              "(one COUNT query per day on DuckDB; Listory ran it on Postgres)", flush=True)
        fill, filled = listory_sql_then_fill(one, "u0000")
        print(f"Listory SQL GROUP BY day + Python fill, 1M plays: {fill:.2f} s ({filled} days; day timeframe only)", flush=True)

        ours_listens = sum(per_model_one[m] for m in per_model_one
                           if m.split(".")[1] in ("stg_spotify__listens", "stg_listory__users", "int_users__report_dates",
                                                   "stg_spotify__tracks", "int_listens__localized", "listens_report"))
        print(f"our listens report alone (all 4 timeframes, with its upstream models), 1M plays: {ours_listens:.2f} s; "
              f"per-bucket scan / that = {scan / ours_listens:.1f}x")
        since_1970 = scan / days * (AS_OF - date(1970, 1, 1)).days
        print(f"Listory's original loop from 1970 would be {(AS_OF - date(1970, 1, 1)).days} buckets: ~{since_1970:.1f} s extrapolated")

        own, children = rss_mb()
        print(f"peak RSS: this process {own:.0f} MB, dbt subprocesses {children:.0f} MB")
        print(f"ratios: per-bucket scan / our 1M build = {scan / sql_one:.1f}x; "
              f"SQL+fill (day only) / our 1M build (all reports) = {fill / sql_one:.2f}x; "
              f"dbt build overhead at 1M = {dbt_one - sql_one:.1f} s")
        print(json.dumps({
            "one_user_1m_seconds": round(sql_one, 3),
            "rebuild_10m_seconds": round(sql_many, 3),
            "per_bucket_scan_seconds": round(scan, 3),
            "listory_sql_fill_seconds": round(fill, 3),
            "speedup_vs_per_bucket": round(scan / sql_one, 1),
            "peak_rss_mb": round(max(own, children), 1),
        }))
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
