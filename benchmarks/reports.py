"""Reports at scale: 1 user with 1,000,000 plays and 200 users with 50,000 plays each, 10 years.

Generates both histories straight into fresh DuckDB warehouses with SQL (seconds), then:

1. the real build path: `build_reports` (what `listory reports build` runs; the Dagster asset
   runs the same `dbt build` through dagster-dbt) three times per warehouse: `dbt run` cold (first
   build in a fresh home: dbt parses the whole project), `dbt run` warm (partial parsing reused,
   as on every hourly build after the first) and `dbt build` warm (models + data tests + unit
   tests). Wall time including dbt's start-up (~1.6 s of Python imports) and parse;
2. the compiled SQL of the same models executed directly on DuckDB in dependency order, one
   model at a time (what the models themselves cost) — the figure in the JSON line as
   one_user_1m_seconds / rebuild_10m_seconds, because the dbt path cannot meet the 2 s target
   (dbt's start-up alone is over 2 s); the dbt figures are printed beside it;
3. Listory's listens report on the 1M user, re-implemented the way Listory (TypeScript) did it:
   load the user's listens once (played_at as epoch milliseconds in a list, as Listory held
   them in JS objects), then for every day bucket from the first listen to the as-of date count
   the listens inside the bucket by a full pass over the list — O(buckets x listens). A random
   sample of buckets is timed and extrapolated to all buckets (printed as such), also to
   Listory's original loop from 1970. And its later "SQL GROUP BY day, then fill the missing
   days in Python" version, timed in full.

speedup_vs_per_bucket = per-bucket scan (day buckets, load included) / the time our pipeline
takes to produce the same day-bucket listens report for that user: the compiled SQL of the
models it needs (staging views, int_users__report_dates, int_listens__localized) plus
rpt_listens_report restricted to timeframe = 'day'. Ratios against all four timeframes and
against every report (SQL and dbt path) are printed too.

Peak RSS: this process (DuckDB runs in it for 2. and 3.) and the dbt subprocesses, separately.
The last line is JSON:
{"one_user_1m_seconds": x, "rebuild_10m_seconds": x, "per_bucket_scan_seconds": x,
 "listory_sql_fill_seconds": x, "speedup_vs_per_bucket": x, "peak_rss_mb": x}

Usage: uv run python benchmarks/reports.py [--keep DIR] [--sample-buckets 50]
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
from zoneinfo import ZoneInfo

import duckdb

from listory_pipeline.reports.build import build_reports
from listory_pipeline.reports.project import dbt_target_path
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
    """Peak RSS of this process and of the largest child (dbt subprocesses), MB."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return own, children


def generate(home: Path, users: int, plays_per_user: int) -> float:
    started = time.perf_counter()
    step_us = YEARS_SECONDS * 1_000_000 // plays_per_user
    with open_warehouse(home / "warehouse.duckdb") as warehouse:
        conn = warehouse.conn
        conn.execute("set enable_progress_bar = false")
        for sql in CATALOG_SQL:
            conn.execute(sql)
        conn.execute(USERS_SQL, {"users": users, "timezones": TIMEZONES})
        conn.execute(LISTENS_SQL, {"users": users, "plays": plays_per_user, "start": START, "step": step_us})
        conn.execute("checkpoint")
    return time.perf_counter() - started


def build_path(home: Path) -> dict[str, float]:
    """The pipeline's own build (`listory reports build`), as of AS_OF: cold run, warm run, warm build."""
    settings = load_settings({"LISTORY_HOME": str(home)})
    figures = {}
    for label, tests in (("run_cold", False), ("run_warm", False), ("build_warm", True)):
        result = build_reports(settings, AS_OF, tests=tests, quiet=True)
        if not result.success:
            raise SystemExit(f"dbt {label} failed: {result.failures[:5]}")
        figures[label] = result.seconds
    return figures


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
    conn.execute("set enable_progress_bar = false")
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


LISTENS_CHAIN = ("int_users__report_dates", "int_listens__localized")  # + staging views, + listens_report


def our_listens_report(home: Path, models: list[tuple[str, str, str, str]], per_model: dict[str, float]) -> tuple[float, float]:
    """Seconds our models take to produce the listens report: (day timeframe only, all four timeframes).

    The upstream models it needs (staging views, int_users__report_dates, int_listens__localized)
    as timed in the full run, plus rpt_listens_report built again: once as is (4 timeframes), once
    restricted to timeframe = 'day' (DuckDB pushes the filter into the timeframes it generates).
    """
    upstream = sum(sec for name, sec in per_model.items()
                   if name.split(".")[0] == "staging" or name.split(".")[1] in LISTENS_CHAIN)
    [report_sql] = [sql for _, relation, _, sql in models if relation == "listens_report"]
    conn = duckdb.connect(str(home / "warehouse.duckdb"))
    conn.execute("set enable_progress_bar = false")
    timings = {}
    for label, sql in (("all", report_sql), ("day", f"select * from ({report_sql}) where timeframe = 'day'")):
        best = float("inf")
        for _ in range(3):  # best of 3: the report itself is a few tens of milliseconds
            t = time.perf_counter()
            conn.execute(f"create or replace table main.bench_listens_report as {sql}")
            best = min(best, time.perf_counter() - t)
        timings[label] = best
    conn.execute("drop table main.bench_listens_report")
    conn.close()
    return upstream + timings["day"], upstream + timings["all"]


def _local_midnight_ms(day: date, tz: ZoneInfo) -> int:
    return int(datetime.combine(day, datetime.min.time(), tzinfo=tz).timestamp() * 1000)


def listory_per_bucket(home: Path, user_id: str, sample: int) -> dict[str, float]:
    """Listory's listens report, as it computed it: for every day bucket, a full pass over all listens.

    Listory loaded the user's listens once, then for each bucket filtered the whole list by the
    bucket's bounds and counted (O(buckets x listens)). Here: played_at as epoch milliseconds in
    a Python list, buckets = the user's local days (DST-aware bounds), one generator pass per
    bucket. `sample` random buckets are timed; the total is extrapolated to every bucket.
    """
    conn = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    started = time.perf_counter()
    [(tz_name,)] = conn.execute("select timezone from core.users where user_id = $u", {"u": user_id}).fetchall()
    played = [row[0] for row in conn.execute(
        "select epoch_ms(played_at) from core.listens where user_id = $u", {"u": user_id}).fetchall()]
    load = time.perf_counter() - started
    conn.close()
    tz = ZoneInfo(tz_name)
    first_day = datetime.fromtimestamp(min(played) / 1000, tz).date()
    days = (AS_OF - first_day).days + 1
    rng = random.Random(1)
    chosen = rng.sample(range(days), min(sample, days))
    started = time.perf_counter()
    counted = 0
    for offset in chosen:
        day = first_day + timedelta(days=offset)
        lo, hi = _local_midnight_ms(day, tz), _local_midnight_ms(day + timedelta(days=1), tz)
        counted += sum(1 for t in played if lo <= t < hi)
    sampled = time.perf_counter() - started
    per_bucket = sampled / len(chosen)
    days_1970 = (AS_OF - date(1970, 1, 1)).days + 1
    return {
        "load_seconds": load,
        "listens": len(played),
        "per_bucket_seconds": per_bucket,
        "sampled_buckets": len(chosen),
        "sampled_seconds": sampled,
        "sampled_listens": counted,
        "buckets": days,
        "scan_seconds": load + per_bucket * days,
        "buckets_since_1970": days_1970,
        "scan_since_1970_seconds": load + per_bucket * days_1970,
    }


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
    parser.add_argument("--sample-buckets", type=int, default=50, help="day buckets of the per-bucket scan to time")
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

        dbt = {}
        for label, home in (("1M", one), ("10M", many)):
            dbt[label] = build_path(home)
            f = dbt[label]
            print(f"dbt path (listory reports build), {label} plays: run cold (full parse) {f['run_cold']:.1f} s; "
                  f"run warm (partial parse reused) {f['run_warm']:.1f} s; build warm (run + data and unit tests) "
                  f"{f['build_warm']:.1f} s", flush=True)

        models_one = compiled_models(dbt_target_path(load_settings({"LISTORY_HOME": str(one)})))
        sql_one, per_model_one = run_compiled(one, models_one)
        print(f"report models as SQL on DuckDB, one model at a time, 1M plays: {sql_one:.2f} s", flush=True)
        sql_many, per_model_many = run_compiled(many, compiled_models(dbt_target_path(load_settings({"LISTORY_HOME": str(many)}))))
        print(f"report models as SQL on DuckDB, one model at a time, 10M plays: {sql_many:.2f} s", flush=True)
        slowest = sorted(per_model_many.items(), key=lambda kv: -kv[1])[:5]
        print("  slowest at 10M: " + ", ".join(f"{name} {sec:.2f} s" for name, sec in slowest))
        own_after_sql, children_after_dbt = rss_mb()

        ours_day, ours_all = our_listens_report(one, models_one, per_model_one)
        print(f"our listens report for the 1M user (compiled SQL: staging views, int_users__report_dates, "
              f"int_listens__localized, rpt_listens_report): day buckets only {ours_day:.3f} s; "
              f"all four timeframes {ours_all:.3f} s", flush=True)

        scan = listory_per_bucket(one, "u0000", args.sample_buckets)
        print(f"Listory per-bucket scan, 1M plays, pure Python (a full pass over the {scan['listens']:,} listens per "
              f"day bucket): {scan['sampled_buckets']} of {scan['buckets']:,} day buckets timed at random "
              f"({scan['sampled_seconds']:.1f} s, {scan['per_bucket_seconds'] * 1000:.0f} ms a bucket), "
              f"EXTRAPOLATED to all buckets: {scan['scan_seconds']:.1f} s (incl. {scan['load_seconds']:.2f} s "
              "loading the listens once)", flush=True)
        print(f"  Listory's original loop from 1970: {scan['buckets_since_1970']:,} day buckets, EXTRAPOLATED: "
              f"{scan['scan_since_1970_seconds']:.0f} s", flush=True)
        fill, filled = listory_sql_then_fill(one, "u0000")
        print(f"Listory SQL GROUP BY day + Python fill, 1M plays: {fill:.3f} s ({filled:,} days; day timeframe only; "
              "measured in full)", flush=True)

        dbt_one = dbt["1M"]
        speedup = scan["scan_seconds"] / ours_day
        print("ratios (per-bucket scan extrapolated, day buckets):")
        print(f"  per-bucket scan / our day listens report (like for like)         = {speedup:,.0f}x")
        print(f"  per-bucket scan / our listens report, all 4 timeframes          = {scan['scan_seconds'] / ours_all:,.0f}x")
        print(f"  per-bucket scan / every report of ours as SQL ({sql_one:.2f} s)        = {scan['scan_seconds'] / sql_one:,.0f}x")
        print(f"  per-bucket scan / every report through dbt, warm run ({dbt_one['run_warm']:.1f} s) = "
              f"{scan['scan_seconds'] / dbt_one['run_warm']:,.0f}x; warm build with tests ({dbt_one['build_warm']:.1f} s) = "
              f"{scan['scan_seconds'] / dbt_one['build_warm']:,.0f}x")
        print(f"  Listory SQL+fill (day only) / our day listens report          = {fill / ours_day:.2f}x "
              f"(theirs is one GROUP BY on one user's rows; ours localizes every play through shared marts)")
        print(f"  dbt overhead at 1M: warm run {dbt_one['run_warm'] - sql_one:.1f} s over the SQL "
              "(dbt start-up and imports, manifest load, per-model DDL and transactions)")

        own, children = rss_mb()
        print(f"peak RSS: this process {own:.0f} MB (DuckDB in-process, direct SQL at 10M: {own_after_sql:.0f} MB), "
              f"largest dbt subprocess {children:.0f} MB ({children_after_dbt:.0f} MB by the end of the dbt builds)")
        print("targets: all reports for the 1M user < 2 s: SQL "
              f"{'met' if sql_one < 2 else 'MISSED'} ({sql_one:.2f} s), dbt path "
              f"{'met' if dbt_one['run_warm'] < 2 else 'MISSED'} ({dbt_one['run_warm']:.1f} s run, {dbt_one['build_warm']:.1f} s with tests); "
              f"10M rebuild < 60 s: SQL {'met' if sql_many < 60 else 'MISSED'} ({sql_many:.1f} s), dbt path "
              f"{'met' if dbt['10M']['build_warm'] < 60 else 'MISSED'} ({dbt['10M']['run_warm']:.1f} s run, "
              f"{dbt['10M']['build_warm']:.1f} s with tests); >= 100x per-bucket: {'met' if speedup >= 100 else 'MISSED'}")
        print("JSON: one_user_1m_seconds and rebuild_10m_seconds are the models' SQL on DuckDB (the dbt path is "
              "printed above); per_bucket_scan_seconds is extrapolated from a sample")
        print(json.dumps({
            "one_user_1m_seconds": round(sql_one, 3),
            "rebuild_10m_seconds": round(sql_many, 3),
            "per_bucket_scan_seconds": round(scan["scan_seconds"], 3),
            "listory_sql_fill_seconds": round(fill, 3),
            "speedup_vs_per_bucket": round(speedup, 1),
            "peak_rss_mb": round(max(own, children), 1),
        }))
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
