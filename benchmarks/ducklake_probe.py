"""How DuckLake (DuckDB 1.5.5 + ducklake extension) would fare on our workload.

The README compares DuckLake with the design we chose (the pipeline writes one
DuckDB file and atomically publishes a byte copy for readers). This script
gathers the figures for that comparison on this machine:

1. Crawl-load-like commits: 2 writer processes x 200 transactions (50 listens
   plus an anti-join "upsert" of 5 tracks each, since DuckLake has no keys)
   while 3 reader processes loop a top-10-tracks-per-user aggregation. Run
   with data inlining off and on; reports commit latency, retries, failures,
   reader errors and latency, freshness lag, Parquet file count, catalog size,
   duplicate track ids and the time of the compaction afterwards.
2. Report query speed: 1,000,000 listens of one user (30,000 tracks, 3 years)
   in a native DuckDB 1.5.5 file and in a DuckLake table; median of 5 runs of
   top tracks over the last 365 days and listens per day, ratio lake/native.
3. Constraint support: PRIMARY KEY, ON CONFLICT and MERGE INTO on DuckLake,
   with the exact error texts (our loader relies on ON CONFLICT upserts).
4. The DuckDB and extension versions used.

DuckLake needs DuckDB 1.5.5 (the project runs 2.0.1) and cannot be fetched with
INSTALL offline, so this runs outside the project venv, in a throwaway uv
environment whose PyPI wheels ship the extension binaries; the script LOADs
them by path (the packages only carry the .duckdb_extension file). The catalog
is SQLite in WAL mode (sqlite_scanner from the same wheel set), because a
DuckDB-file catalog admits only one process and the workload has five. A
transaction that fails (in practice SQLite's "database is locked" at COMMIT) is
retried up to 10 times with DuckLake's own retry backoff (100 ms x 1.5^n) and
counted; one that fails all 10 is a writer failure. From the repo root:

    uv run --no-project --with duckdb==1.5.5 \
        --with duckdb-extension-ducklake==1.5.5 \
        --with duckdb-extension-sqlite-scanner==1.5.5 \
        python benchmarks/ducklake_probe.py

It prints one JSON object per measurement, then a one-line JSON summary, and
takes about 2-4 minutes on the 2-core machine. The numbers depend on the
machine being quiet: five processes share two cores, so any other load (a test
run, a build) inflates latencies and lag and shifts the lake/native ratios.
The load average at the start is printed with the versions for that reason.
"""

from __future__ import annotations

import importlib.resources
import json
import multiprocessing
import os
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

import duckdb

WRITERS = 2
TRANSACTIONS = 200
LISTENS_PER_TRANSACTION = 50
TRACKS_PER_TRANSACTION = 5
READERS = 3
MAX_ATTEMPTS = 10  # with RETRY_WAIT_S and RETRY_BACKOFF: DuckLake's own defaults for its internal retries
RETRY_WAIT_S = 0.1
RETRY_BACKOFF = 1.5
INLINING_ON_LIMIT = 100  # above the 50-row insert, so every crawl commit inlines
SEED_TRACKS = 5_000
SEED_LISTENS = 100_000
NEW_TRACK_POOL = 3_000  # shared by both writers, so their upserts overlap
REPORT_LISTENS = 1_000_000
REPORT_TRACKS = 30_000
REPORT_RUNS = 5
ANCHOR = "2026-01-01 00:00:00+00"
WORKER_TIMEOUT_S = 240

READER_QUERY = """
SELECT user_id, track_id, name, plays FROM (
    SELECT l.user_id, l.track_id, t.name, count(*) AS plays
    FROM lake.listens l JOIN lake.tracks t USING (track_id)
    GROUP BY ALL
)
QUALIFY row_number() OVER (PARTITION BY user_id ORDER BY plays DESC, track_id) <= 10
"""
MARKER_QUERY = """
SELECT user_id, max(ms_played) FROM lake.listens
WHERE user_id LIKE 'marker-w%' GROUP BY user_id
"""
UPSERT_TRACKS = """
INSERT INTO lake.tracks
SELECT c.track_id, 'Track ' || c.track_id, 180000
FROM (SELECT DISTINCT unnest($tracks) AS track_id) c
WHERE NOT EXISTS (SELECT 1 FROM lake.tracks t WHERE t.track_id = c.track_id)
"""
INSERT_LISTENS = """
INSERT INTO lake.listens
SELECT 'user-' || ($writer * 10 + i % 10),
       now() - to_seconds(i + $seq * 100),
       CASE WHEN i % 2 = 0 THEN $tracks[1 + i % 5]
            ELSE 'trk-' || lpad((hash(i, $seq, $writer) % 5000)::VARCHAR, 5, '0') END,
       30000 + i
FROM range($rows) r(i)
UNION ALL
SELECT 'marker-w' || $writer, now(), $tracks[1], $seq
"""


def extension_path(package: str, name: str) -> str:
    """Where a duckdb-extension-* wheel put its binary; LOAD takes the path, so nothing is downloaded."""
    root = importlib.resources.files(package) / "extensions" / f"v{duckdb.__version__}"
    return str(root / f"{name}.duckdb_extension")


def connect() -> duckdb.DuckDBPyConnection:
    """An in-memory connection with ducklake and sqlite_scanner loaded from the wheels."""
    con = duckdb.connect()
    con.execute(f"LOAD '{extension_path('duckdb_extension_ducklake', 'ducklake')}'")
    con.execute(f"LOAD '{extension_path('duckdb_extension_sqlite_scanner', 'sqlite_scanner')}'")
    return con


def attach_lake(root: Path, inlining_limit: int | None = None) -> duckdb.DuckDBPyConnection:
    """Attach (creating on first use) the SQLite-catalogued lake under root as `lake`; inlining is per connection."""
    catalog = root / "catalog.sqlite"
    if not catalog.exists():
        create_wal_catalog(catalog)
    con = connect()
    options = f"DATA_PATH '{root / 'data'}/'"
    if inlining_limit is not None:
        options += f", DATA_INLINING_ROW_LIMIT {inlining_limit}"
    con.execute(f"ATTACH 'ducklake:sqlite:{catalog}' AS lake ({options})")
    return con


def create_wal_catalog(catalog: Path) -> None:
    """An empty SQLite file in WAL mode (the mode persists in the file). With the default rollback
    journal, readers and writers lock each other out: in a trial, readers failed with "database is
    locked" and 20 commits per writer took 20 s instead of 6 s."""
    catalog.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(catalog) as db:
        db.execute("PRAGMA journal_mode=WAL").fetchall()


def percentiles_ms(seconds: list[float]) -> dict:
    """p50/p95/max in milliseconds by nearest rank; None when nothing was measured."""
    if not seconds:
        return {"n": 0, "p50_ms": None, "p95_ms": None, "max_ms": None}
    ordered = sorted(seconds)

    def rank(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 1)

    return {"n": len(ordered), "p50_ms": rank(0.5), "p95_ms": rank(0.95), "max_ms": rank(1.0)}


def emit(record: dict) -> dict:
    """Print one measurement as a JSON line as soon as it exists, so a later failure loses nothing."""
    print(json.dumps(record), flush=True)
    return record


def short(error: Exception) -> str:
    """An error on one line, enough to group identical errors."""
    return " | ".join(str(error).strip().splitlines())[:400]


def create_commit_schema(root: Path) -> None:
    """Tables plus a seed history, so readers aggregate a realistic amount from the first query."""
    con = attach_lake(root)
    con.execute("CREATE TABLE lake.listens (user_id VARCHAR, played_at TIMESTAMPTZ, track_id VARCHAR, ms_played INTEGER)")
    con.execute("CREATE TABLE lake.tracks (track_id VARCHAR, name VARCHAR, duration_ms INTEGER)")
    con.execute(
        f"INSERT INTO lake.tracks SELECT 'trk-' || lpad(i::VARCHAR, 5, '0'), 'Seed ' || i, 200000 FROM range({SEED_TRACKS}) r(i)"
    )
    con.execute(
        f"""INSERT INTO lake.listens
        SELECT 'user-' || (i % 20), TIMESTAMPTZ '{ANCHOR}' - to_seconds(i * 60),
               'trk-' || lpad((hash(i) % {SEED_TRACKS})::VARCHAR, 5, '0'), 30000
        FROM range({SEED_LISTENS}) r(i)"""
    )
    con.close()


def write_transaction(con: duckdb.DuckDBPyConnection, writer: int, seq: int, tracks: list[str]) -> float:
    """One crawl-load commit; returns how long the COMMIT statement itself took."""
    params = {"writer": writer, "seq": seq, "tracks": tracks}
    con.execute("BEGIN")
    con.execute(UPSERT_TRACKS, {"tracks": tracks})
    con.execute(INSERT_LISTENS, params | {"rows": LISTENS_PER_TRANSACTION - 1})
    started = time.perf_counter()
    con.execute("COMMIT")
    return time.perf_counter() - started


def run_writer(root: Path, inlining_limit: int, writer: int, barrier, results) -> None:
    """Commit TRANSACTIONS crawl loads, retrying failed ones, and report latencies and commit times."""
    con = attach_lake(root, inlining_limit)
    rng = random.Random(writer)
    out = {"writer": writer, "txn_s": [], "commit_s": [], "committed_at": {}, "retries": 0,
           "retry_errors": {}, "failures": {}}
    barrier.wait()
    for seq in range(TRANSACTIONS):
        tracks = [f"new-{rng.randrange(NEW_TRACK_POOL):05d}" for _ in range(TRACKS_PER_TRANSACTION)]
        started = time.perf_counter()
        for attempt in range(MAX_ATTEMPTS):
            try:
                out["commit_s"].append(write_transaction(con, writer, seq, tracks))
                out["committed_at"][seq] = time.time()
                out["txn_s"].append(time.perf_counter() - started)
                break
            except duckdb.Error as error:
                rollback(con)
                key = short(error)
                if attempt == MAX_ATTEMPTS - 1:
                    out["failures"][key] = out["failures"].get(key, 0) + 1
                else:
                    out["retries"] += 1
                    out["retry_errors"][key] = out["retry_errors"].get(key, 0) + 1
                    time.sleep(RETRY_WAIT_S * RETRY_BACKOFF**attempt * rng.uniform(0.5, 1.5))
    results.put(out)


def rollback(con: duckdb.DuckDBPyConnection) -> None:
    """End the failed transaction; a failed COMMIT has already ended it, so that error is moot."""
    try:
        con.execute("ROLLBACK")
    except duckdb.Error:
        pass


def run_reader(root: Path, barrier, stop, results) -> None:
    """Loop the report aggregation until told to stop, noting when each writer marker first shows."""
    con = attach_lake(root)
    out = {"query_s": [], "errors": {}, "first_seen": {}}
    latest = {}
    barrier.wait()
    while not stop.is_set():
        try:
            started = time.perf_counter()
            con.execute(READER_QUERY).fetchall()
            out["query_s"].append(time.perf_counter() - started)
            markers = con.execute(MARKER_QUERY).fetchall()
        except duckdb.Error as error:
            key = short(error)
            out["errors"][key] = out["errors"].get(key, 0) + 1
            continue
        seen_at = time.time()
        for user_id, top_seq in markers:
            for seq in range(latest.get(user_id, -1) + 1, top_seq + 1):
                out["first_seen"][f"{user_id}:{seq}"] = seen_at
            latest[user_id] = max(latest.get(user_id, -1), top_seq)
    results.put(out)


def run_processes(root: Path, inlining_limit: int) -> tuple[list[dict], list[dict], float]:
    """Start writers and readers together, stop readers once writers are done; returns their reports."""
    ctx = multiprocessing.get_context("spawn")
    barrier, stop, results = ctx.Barrier(WRITERS + READERS + 1), ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=run_writer, args=(root, inlining_limit, w, barrier, results)) for w in range(WRITERS)]
    procs += [ctx.Process(target=run_reader, args=(root, barrier, stop, results)) for _ in range(READERS)]
    for proc in procs:
        proc.start()
    try:
        barrier.wait(timeout=WORKER_TIMEOUT_S)
        started = time.perf_counter()
        writers = [results.get(timeout=WORKER_TIMEOUT_S) for _ in range(WRITERS)]
        elapsed = time.perf_counter() - started
        stop.set()
        readers = [results.get(timeout=WORKER_TIMEOUT_S) for _ in range(READERS)]
    finally:
        stop.set()
        for proc in procs:
            proc.join(timeout=30)
            if proc.is_alive():
                proc.terminate()
                proc.join()
    return writers, readers, elapsed


def freshness_lags(writers: list[dict], readers: list[dict]) -> tuple[list[float], int]:
    """Seconds from a writer's commit returning to a reader first seeing its marker, and how many were never seen."""
    committed = {f"marker-w{out['writer']}:{seq}": at for out in writers for seq, at in out["committed_at"].items()}
    lags, unseen = [], 0
    for reader in readers:
        for marker, at in committed.items():
            if marker in reader["first_seen"]:
                lags.append(reader["first_seen"][marker] - at)
            else:
                unseen += 1
    return lags, unseen


def data_files(root: Path) -> int:
    """Parquet files on disk under the data path (data and delete files alike)."""
    return sum(1 for _ in (root / "data").rglob("*.parquet"))


def catalog_bytes(root: Path) -> int:
    """The SQLite catalog with any journal or WAL beside it."""
    return sum(p.stat().st_size for p in root.glob("catalog.sqlite*"))


def table_state(con: duckdb.DuckDBPyConnection) -> dict:
    """Row counts, duplicate track ids (what the anti-join upsert lets through) and referenced files."""
    listens, tracks, distinct = con.execute(
        "SELECT (SELECT count(*) FROM lake.listens), count(*), count(DISTINCT track_id) FROM lake.tracks"
    ).fetchone()
    referenced = sum(
        con.execute(f"SELECT count(*) FROM ducklake_list_files('lake', '{table}')").fetchone()[0]
        for table in ("listens", "tracks")
    )
    return {"listens_rows": listens, "tracks_rows": tracks, "duplicate_track_ids": tracks - distinct,
            "referenced_data_files": referenced}


def compact(root: Path, inlining_limit: int) -> dict:
    """Time flushing inlined rows and merging small files, then the clean-up that deletes replaced files."""
    con = attach_lake(root, inlining_limit)
    timings, outputs = {}, {}
    for name, sql in (
        ("flush_inlined", "CALL ducklake_flush_inlined_data('lake')"),
        ("merge_adjacent", "CALL ducklake_merge_adjacent_files('lake')"),
        ("cleanup_old_files", "CALL ducklake_cleanup_old_files('lake', cleanup_all => true)"),
    ):
        started = time.perf_counter()
        outputs[name] = con.execute(sql).fetchall()
        timings[f"{name}_s"] = round(time.perf_counter() - started, 3)
    state = table_state(con)
    con.close()
    flushed = sum(row[2] for row in outputs["flush_inlined"])  # (schema, table, rows flushed)
    return timings | {"rows_flushed_from_catalog": flushed, "parquet_files_on_disk": data_files(root), "catalog_bytes": catalog_bytes(root), **state}


def commit_workload(base: Path, inlining: str) -> dict:
    """Measurement 1 for one inlining setting: concurrent crawl commits under reader load, then compaction."""
    root = base / f"commits-inlining-{inlining}"
    limit = INLINING_ON_LIMIT if inlining == "on" else 0
    create_commit_schema(root)
    files_before = data_files(root)
    writers, readers, elapsed = run_processes(root, limit)
    lags, unseen = freshness_lags(writers, readers)
    con = attach_lake(root, limit)
    after_run = {"parquet_files_on_disk": data_files(root), "parquet_files_written": data_files(root) - files_before,
                 "catalog_bytes": catalog_bytes(root), **table_state(con)}
    con.close()
    return emit({
        "measurement": "crawl_commits",
        "inlining": inlining,
        "data_inlining_row_limit": limit,
        "writers": WRITERS, "transactions_per_writer": TRANSACTIONS, "readers": READERS,
        "wall_s": round(elapsed, 2),
        "transaction_latency": percentiles_ms([s for w in writers for s in w["txn_s"]]),
        "commit_statement_latency": percentiles_ms([s for w in writers for s in w["commit_s"]]),
        "committed": sum(len(w["committed_at"]) for w in writers),
        "retries": sum(w["retries"] for w in writers),
        "retry_errors": merge_counts(w["retry_errors"] for w in writers),
        "writer_failures": merge_counts(w["failures"] for w in writers),
        "reader_queries": sum(len(r["query_s"]) for r in readers),
        "reader_latency": percentiles_ms([s for r in readers for s in r["query_s"]]),
        "reader_errors": merge_counts(r["errors"] for r in readers),
        "freshness_lag": percentiles_ms(lags),
        "markers_never_seen": unseen,
        "after_run": after_run,
        "after_compaction": compact(root, limit),
    })


def merge_counts(counters) -> dict:
    """Add up per-process {error text: count} maps."""
    total: dict[str, int] = {}
    for counter in counters:
        for key, count in counter.items():
            total[key] = total.get(key, 0) + count
    return total


def load_report_data(con: duckdb.DuckDBPyConnection, schema: str) -> float:
    """One user's 3-year history in one bulk insert, as a history import would write it; returns seconds."""
    started = time.perf_counter()
    con.execute(
        f"INSERT INTO {schema}.tracks SELECT 'trk-' || lpad(i::VARCHAR, 5, '0'), 'Track ' || i, 200000 "
        f"FROM range({REPORT_TRACKS}) r(i)"
    )
    con.execute(
        f"""INSERT INTO {schema}.listens
        SELECT 'user-1', TIMESTAMPTZ '{ANCHOR}' - to_seconds(i * 94 + 7),
               'trk-' || lpad(floor({REPORT_TRACKS} * ((hash(i) % 1000000) / 1e6) ^ 2)::INT::VARCHAR, 5, '0'), 180000
        FROM range({REPORT_LISTENS}) r(i) ORDER BY i DESC"""
    )
    return time.perf_counter() - started


def report_queries(schema: str) -> dict[str, str]:
    """The two report shapes, against either the native file or the lake."""
    return {
        "top_tracks_365d": f"""
            SELECT t.name, count(*) AS plays
            FROM {schema}.listens l JOIN {schema}.tracks t USING (track_id)
            WHERE l.user_id = 'user-1' AND l.played_at >= TIMESTAMPTZ '{ANCHOR}' - INTERVAL 365 DAY
            GROUP BY t.name ORDER BY plays DESC, t.name LIMIT 10""",
        "listens_per_day": f"""
            SELECT played_at::DATE AS day, count(*) FROM {schema}.listens
            WHERE user_id = 'user-1' GROUP BY day ORDER BY day""",
    }


def median_seconds(con: duckdb.DuckDBPyConnection, sql: str) -> float:
    """Median of REPORT_RUNS runs after one warm-up, so both sides are timed with warm caches."""
    con.execute(sql).fetchall()
    runs = []
    for _ in range(REPORT_RUNS):
        started = time.perf_counter()
        con.execute(sql).fetchall()
        runs.append(time.perf_counter() - started)
    return statistics.median(runs)


def report_speed(base: Path) -> dict:
    """Measurement 2: the same report queries on a native DuckDB 1.5.5 file and on a DuckLake table."""
    root = base / "reports"
    con = attach_lake(root)
    con.execute(f"ATTACH '{root / 'native.duckdb'}' AS native")
    con.execute("CREATE TABLE native.tracks (track_id VARCHAR PRIMARY KEY, name VARCHAR, duration_ms INTEGER)")
    con.execute(
        "CREATE TABLE native.listens (user_id VARCHAR, played_at TIMESTAMPTZ, track_id VARCHAR, ms_played INTEGER, "
        "PRIMARY KEY (user_id, track_id, played_at))"
    )
    con.execute("CREATE TABLE lake.tracks (track_id VARCHAR, name VARCHAR, duration_ms INTEGER)")
    con.execute("CREATE TABLE lake.listens (user_id VARCHAR, played_at TIMESTAMPTZ, track_id VARCHAR, ms_played INTEGER)")
    load = {schema: round(load_report_data(con, schema), 2) for schema in ("native", "lake")}
    same = con.execute(
        "SELECT (SELECT count(DISTINCT track_id) FROM native.listens), "
        "(SELECT count(*) FROM (SELECT * FROM native.listens EXCEPT ALL SELECT * FROM lake.listens))"
    ).fetchone()
    queries = {}
    for name in report_queries("native"):
        native = median_seconds(con, report_queries("native")[name])
        lake = median_seconds(con, report_queries("lake")[name])
        queries[name] = {"native_ms": round(native * 1000, 1), "lake_ms": round(lake * 1000, 1),
                         "ratio_lake_over_native": round(lake / native, 2)}
    con.close()
    return emit({
        "measurement": "report_speed", "listens": REPORT_LISTENS, "distinct_tracks_played": same[0],
        "rows_differing_between_copies": same[1], "runs": REPORT_RUNS, "load_s": load,
        "lake_parquet_files": data_files(root), "queries": queries,
    })


def constraint_support(base: Path) -> dict:
    """Measurement 3: which of our loader's constraint-based statements DuckLake accepts, with exact errors."""
    con = attach_lake(base / "constraints")
    statements = {
        "primary_key": "CREATE TABLE lake.pk_probe (id INTEGER PRIMARY KEY)",
        "unique": "CREATE TABLE lake.unique_probe (id INTEGER UNIQUE)",
        "not_null": "CREATE TABLE lake.t (id INTEGER NOT NULL, label VARCHAR)",
        "on_conflict_do_nothing": "INSERT INTO lake.t VALUES (1, 'a') ON CONFLICT DO NOTHING",
        "on_conflict_do_update": "INSERT INTO lake.t VALUES (1, 'b') ON CONFLICT (id) DO UPDATE SET label = excluded.label",
        "insert_or_ignore": "INSERT OR IGNORE INTO lake.t VALUES (1, 'c')",
        "merge_into": "MERGE INTO lake.t USING (SELECT 1 AS id, 'd' AS label) s ON t.id = s.id "
        "WHEN MATCHED THEN UPDATE SET label = s.label WHEN NOT MATCHED THEN INSERT VALUES (s.id, s.label)",
    }
    results = {}
    for label, sql in statements.items():
        try:
            con.execute(sql)
            results[label] = {"sql": sql, "ok": True}
        except duckdb.Error as error:
            results[label] = {"sql": sql, "ok": False, "error": f"{type(error).__name__}: {error}"}
    rows = con.execute("SELECT * FROM lake.t ORDER BY ALL").fetchall()
    con.close()
    return emit({"measurement": "constraints", "statements": results, "rows_in_t_afterwards": rows})


def versions() -> dict:
    """Measurement 4: what was measured, and how busy the machine was when it started."""
    con = connect()
    extensions = dict(con.execute(
        "SELECT extension_name, extension_version FROM duckdb_extensions() "
        "WHERE extension_name IN ('ducklake', 'sqlite_scanner')"
    ).fetchall())
    con.close()
    return emit({
        "measurement": "versions", "duckdb": duckdb.__version__, "ducklake_extension": extensions.get("ducklake"),
        "sqlite_scanner_extension": extensions.get("sqlite_scanner"), "catalog": "sqlite (WAL journal)",
        "python": sys.version.split()[0], "cpus": os.cpu_count(), "loadavg_at_start": os.getloadavg(),
    })


def summary(version: dict, commits: list[dict], reports: dict, constraints: dict, elapsed: float) -> dict:
    """The headline figures on one line, for the README."""
    per_inlining = {
        run["inlining"]: {
            "commit_p50_ms": run["transaction_latency"]["p50_ms"], "commit_p95_ms": run["transaction_latency"]["p95_ms"],
            "retries": run["retries"], "writer_failures": sum(run["writer_failures"].values()),
            "reader_errors": sum(run["reader_errors"].values()),
            "reader_p50_ms": run["reader_latency"]["p50_ms"], "reader_p95_ms": run["reader_latency"]["p95_ms"],
            "lag_p50_ms": run["freshness_lag"]["p50_ms"], "lag_p95_ms": run["freshness_lag"]["p95_ms"],
            "parquet_files_written": run["after_run"]["parquet_files_written"],
            "catalog_bytes": run["after_run"]["catalog_bytes"],
            "duplicate_track_ids": run["after_run"]["duplicate_track_ids"],
            "compaction_s": round(run["after_compaction"]["flush_inlined_s"] + run["after_compaction"]["merge_adjacent_s"], 3),
            "rows_flushed_from_catalog": run["after_compaction"]["rows_flushed_from_catalog"],
            "parquet_files_after_compaction": run["after_compaction"]["parquet_files_on_disk"],
        }
        for run in commits
    }
    return {
        "summary": "ducklake_probe", "duckdb": version["duckdb"], "ducklake": version["ducklake_extension"],
        "crawl_commits": per_inlining,
        "report_ratio_lake_over_native": {n: q["ratio_lake_over_native"] for n, q in reports["queries"].items()},
        "constraints_ok": {label: result["ok"] for label, result in constraints["statements"].items()},
        "total_s": round(elapsed, 1),
    }


def main() -> None:
    """Run the four measurements in a throwaway directory; cheap ones first, so they print even if a later one fails."""
    started = time.perf_counter()
    base = Path(tempfile.mkdtemp(prefix="ducklake-probe-"))
    try:
        version = versions()
        constraints = constraint_support(base)
        commits = [commit_workload(base, inlining) for inlining in ("off", "on")]
        reports = report_speed(base)
    finally:
        shutil.rmtree(base)
    print(json.dumps(summary(version, commits, reports, constraints, time.perf_counter() - started)), flush=True)


if __name__ == "__main__":
    main()
