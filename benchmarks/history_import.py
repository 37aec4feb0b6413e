"""The history import of a big export: 10 years, 250,000 entries, 30,000 distinct tracks.

Builds a Spotify-shaped `my_spotify_data.zip` from the simulator's catalog (pretty-printed
JSON files of 15,000 entries, like Spotify's ~13 MB ones): 245,000 music plays in sessions,
none overlapping, about 8% of them skips, and 5,000 podcast episodes. The export is written by
a child process (this script with `--write-export`), so the peak RSS reported is the import's,
not the generator's. Then, in fresh LISTORY_HOMEs:

1. parse + load, no API: `steps.land_export` (parse, check, land Parquet) and
   `steps.load_history` (one transaction, set-based), timed apart and together; then the same
   file imported again (must change nothing);
2. catalog completion against the simulator over real HTTP, `resolve.resolve_imported_tracks`,
   with the several-ids endpoints allowed (bulk) and refused (a development-mode app), each
   in a copy of the loaded home; requests counted by the client and by the simulator.

Targets (from the issue): parse + load under 10 s; bulk catalog requests
= ceil(distinct unknown tracks / 50) + ceil(artists / 50). The last line is JSON:

  {"entries": n, "listens_loaded": n, "parse_load_seconds": x, "catalog_requests_bulk": n,
   "catalog_requests_refused": n, "distinct_tracks": n, "distinct_artists": n, "peak_rss_mb": x}

Usage: uv run python benchmarks/history_import.py [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

ENTRIES = 250_000
PODCAST_EPISODES = 5_000  # 2% of the entries are not music
DISTINCT_TRACKS = 30_000
YEARS = 10
SKIP_FRACTION = 0.08
SEED = 42
TARGET_PARSE_LOAD_SECONDS = 10.0
CATALOG_ENDPOINTS = ("tracks_bulk", "track", "artists_bulk", "artist", "albums_bulk", "album")
_SHOWS = ("The Daily Groove", "Tape Deck Stories", "Science on Sundays", "Deep Cuts Radio", "Field Notes")


def log(message: str) -> None:
    print(message, flush=True)


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# -- the export (child process) -----------------------------------------------------------


def write_export(folder: Path) -> dict:
    """Generate the 250,000 entries deterministically and write the zip into `folder`."""
    from listory_pipeline.spotify.simulator import Simulator, SimulatorConfig
    from listory_pipeline.spotify.simulator.catalog import spotify_id
    from listory_pipeline.spotify.simulator.export import entries_for_plays, write_extended_export
    from listory_pipeline.spotify.simulator.listeners import Play

    started = time.perf_counter()
    simulator = Simulator(SimulatorConfig(seed=SEED, n_users=1))
    catalog, user = simulator.catalog, simulator.users()[0]
    rng = random.Random(SEED)

    # Exactly DISTINCT_TRACKS tracks: each once, the rest skewed towards a popular head.
    order = list(range(len(catalog.tracks)))
    rng.shuffle(order)
    chosen = order[:DISTINCT_TRACKS]
    music = ENTRIES - PODCAST_EPISODES
    picks = chosen + [chosen[int(DISTINCT_TRACKS * rng.random() ** 3)] for _ in range(music - DISTINCT_TRACKS)]
    rng.shuffle(picks)
    podcast_slots = set(rng.sample(range(ENTRIES), PODCAST_EPISODES))

    # (is podcast, track index, ms played) in play order, then laid out in sessions.
    items: list[tuple[bool, int, int]] = []
    tracks = iter(picks)
    for slot in range(ENTRIES):
        if slot in podcast_slots:
            items.append((True, chosen[0], rng.randint(5 * 60_000, 50 * 60_000)))
            continue
        track = next(tracks)
        skip = rng.random() < SKIP_FRACTION
        items.append((False, track, rng.randint(5_000, 25_000) if skip else catalog.tracks[track].duration_ms))
    sessions: list[int] = []  # lengths
    left = ENTRIES
    while left:
        sessions.append(min(left, rng.randint(5, 40)))
        left -= sessions[-1]
    inner_gaps = [rng.randint(0, 2_000) for _ in range(ENTRIES)]

    end_ms = int((datetime.now(timezone.utc) - timedelta(days=3)).timestamp() * 1000)
    start_ms = end_ms - int(YEARS * 365.25 * 86_400_000)
    busy = sum(ms for _, _, ms in items) + sum(inner_gaps)
    min_session_gap = 10 * 60_000
    slack = end_ms - start_ms - busy - min_session_gap * len(sessions)
    if slack <= 0:
        raise SystemExit("the plays do not fit in the span")
    weights = [rng.expovariate(1.0) for _ in sessions]
    scale = slack / sum(weights)

    music_plays: list[Play] = []
    podcast_plays: list[Play] = []
    cursor, position = start_ms, 0
    for length, weight in zip(sessions, weights):
        cursor += min_session_gap + int(weight * scale)  # the gap before this session
        for _ in range(length):
            podcast, track, ms_played = items[position]
            cursor += ms_played
            (podcast_plays if podcast else music_plays).append(Play(cursor, track, ms_played, None))
            cursor += inner_gaps[position]
            position += 1

    entries = entries_for_plays(catalog, user, music_plays, variant="2025", seed=0)
    episodes = entries_for_plays(catalog, user, podcast_plays, variant="2025", seed=0)
    for n, entry in enumerate(episodes):
        show = rng.randrange(len(_SHOWS))
        number = rng.randint(1, 300)
        entry.update({
            "master_metadata_track_name": None,
            "master_metadata_album_artist_name": None,
            "master_metadata_album_album_name": None,
            "spotify_track_uri": None,
            "episode_name": f"#{number}: episode {n}",
            "episode_show_name": _SHOWS[show],
            "spotify_episode_uri": f"spotify:episode:{spotify_id(SEED, f'episode:{show}', number)}",
            "reason_start": "playbtn",
            "reason_end": rng.choice(("endplay", "trackdone")),
            "shuffle": False,
            "skipped": False,
        })
    plays_at = [p.played_at_ms for p in music_plays] + [p.played_at_ms for p in podcast_plays]
    everything = entries + episodes
    merged = [everything[i] for i in sorted(range(len(everything)), key=plays_at.__getitem__)]
    played = {p.track_index for p in music_plays}
    track_artists = {a for t in played for a in catalog.tracks[t].artist_indexes}
    album_artists = {a for t in played for a in catalog.albums[catalog.tracks[t].album_index].artist_indexes}
    generated = time.perf_counter() - started

    written = time.perf_counter()
    zip_path = write_extended_export(merged, folder, variant="2025", pretty=True, as_zip=True)
    write_seconds = time.perf_counter() - written
    with zipfile.ZipFile(zip_path) as archive:
        members = [m for m in archive.infolist() if m.filename.endswith(".json")]
    return {
        "zip_path": str(zip_path),
        "zip_bytes": zip_path.stat().st_size,
        "json_files": len(members),
        "json_bytes": sum(m.file_size for m in members),
        "largest_file_bytes": max(m.file_size for m in members),
        "entries": len(merged),
        "music_entries": len(entries),
        "podcast_entries": len(episodes),
        "skips_generated": sum(1 for p in music_plays if p.ms_played != catalog.tracks[p.track_index].duration_ms),
        "distinct_tracks": len(played),
        "distinct_track_artists": len(track_artists),
        "distinct_track_and_album_artists": len(track_artists | album_artists),
        "first_ts": merged[0]["ts"],
        "last_ts": merged[-1]["ts"],
        "user_id": user.user_id,
        "generate_seconds": round(generated, 3),
        "write_seconds": round(write_seconds, 3),
        "generator_peak_rss_mb": round(rss_mb(), 1),
    }


def export_in_child(folder: Path) -> dict:
    done = subprocess.run(
        [sys.executable, __file__, "--write-export", str(folder)], check=True, stdout=subprocess.PIPE, text=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


# -- parse + load ---------------------------------------------------------------------------


def warehouse_counts(warehouse_path: Path) -> dict[str, int]:
    import duckdb

    queries = {
        "listens": "select count(*) from core.listens",
        "skipped_plays": "select count(*) from core.skipped_plays",
        "tracks": "select count(*) from core.tracks",
        "tracks_pending": "select count(*) from core.tracks where catalog_status = 'pending'",
        "tracks_complete": "select count(*) from core.tracks where catalog_status = 'complete'",
        "artists_placeholder": "select count(*) from core.artists where coalesce(is_placeholder, false)",
        "artists_real": "select count(*) from core.artists where not coalesce(is_placeholder, false)",
        "track_artists_distinct": "select count(distinct artist_id) from core.track_artists",
        "artists_with_genres_checked": "select count(*) from core.artists where genres_checked_at is not null",
        "albums_real": "select count(*) from core.albums where not coalesce(is_placeholder, false)",
    }
    with duckdb.connect(str(warehouse_path), read_only=True) as conn:
        return {name: conn.execute(sql).fetchone()[0] for name, sql in queries.items()}


def parse_and_load(home: Path, zip_path: Path, user_id: str) -> dict:
    from listory_pipeline.history import steps
    from listory_pipeline.landing.history import HistoryLanding

    landing = HistoryLanding(home / "landing")
    warehouse_path = home / "warehouse.duckdb"
    files_parsed_at: list[float] = []

    def progress(done: int, total: int, _name: str) -> None:
        if done == total:
            files_parsed_at.append(time.perf_counter())

    started = time.perf_counter()
    landed = steps.land_export(landing, [zip_path], user_id=user_id, now=datetime.now(timezone.utc), progress=progress)
    land_seconds = time.perf_counter() - started
    files_seconds = files_parsed_at[0] - started
    log(f"land_export (parse + check + land Parquet): {land_seconds:.2f} s ({files_seconds:.2f} s reading and parsing "
        f"the JSON files, {land_seconds - files_seconds:.2f} s classifying, deduplicating and landing); "
        f"counts {landed.export.counts}")
    started = time.perf_counter()
    loaded = steps.load_history(warehouse_path, landing, user_id, lock_wait_seconds=30)
    load_seconds = time.perf_counter() - started
    rss_after = rss_mb()
    first = loaded.imports[0]
    log(f"load_history (one transaction): {load_seconds:.2f} s, {first.listens_new:,} listens, "
        f"{first.skips_new:,} skips, {first.tracks_new:,} tracks new; write statements {loaded.write_statements}")
    after_first = warehouse_counts(warehouse_path)

    started = time.perf_counter()
    again = steps.land_export(landing, [zip_path], user_id=user_id, now=datetime.now(timezone.utc))
    reland_seconds = time.perf_counter() - started
    started = time.perf_counter()
    reloaded = steps.load_history(warehouse_path, landing, user_id, lock_wait_seconds=30)
    reload_seconds = time.perf_counter() - started
    after_second = warehouse_counts(warehouse_path)
    unchanged = after_first == after_second and not again.new and not reloaded.imports
    log(f"re-import of the same file: {reland_seconds + reload_seconds:.2f} s (land {reland_seconds:.2f} s, "
        f"new={again.new}; load {reload_seconds:.3f} s, {len(reloaded.imports)} imports loaded); "
        f"warehouse {'unchanged' if unchanged else 'CHANGED'} ({after_second['listens']:,} listens)")
    return {
        "land_seconds": land_seconds,
        "land_files_parse_seconds": files_seconds,
        "land_frame_and_write_seconds": land_seconds - files_seconds,
        "load_seconds": load_seconds,
        "parse_load_seconds": land_seconds + load_seconds,
        "peak_rss_mb_after_parse_load": rss_after,
        "counts": landed.export.counts,
        "files": len(landed.export.files),
        "landed_rows": landed.export.entries.height,
        "distinct_tracks": landed.export.entries["track_id"].n_unique(),
        "parquet_bytes": landed.landed.entries_path.stat().st_size,
        "import": {key: value for key, value in first.__dict__.items() if key != "counts"},
        "write_statements": loaded.write_statements,
        "write_statement_count": sum(loaded.write_statements.values()),
        "warehouse": after_first,
        "reimport_seconds": reland_seconds + reload_seconds,
        "reimport_land_seconds": reland_seconds,
        "reimport_load_seconds": reload_seconds,
        "reimport_new": again.new,
        "reimport_write_statements": reloaded.write_statements,
        "reimport_unchanged": unchanged,
    }


# -- catalog resolution ----------------------------------------------------------------------


def copy_home(source: Path, target: Path) -> None:
    target.mkdir(parents=True)
    for name in ("warehouse.duckdb", "warehouse.duckdb.wal"):
        if (source / name).exists():
            shutil.copy2(source / name, target / name)
    shutil.copytree(source / "landing", target / "landing")


def resolve_in(home: Path, server, user_id: str) -> dict:
    from listory_pipeline import runtime
    from listory_pipeline.history import resolve
    from listory_pipeline.settings import load_settings
    from listory_pipeline.spotify.auth import SpotifyApp

    simulator = server.simulator
    user = simulator.user(user_id)
    settings = load_settings({"LISTORY_HOME": str(home), "LISTORY_SIMULATOR_URL": server.base_url})
    config = simulator.config
    app = SpotifyApp(
        client_id=config.client_id,
        client_secret=config.client_secret,
        api_url=server.api_url,
        accounts_url=server.accounts_url,
    )
    registry = runtime.user_registry(settings)
    registry.register(
        user_id, simulator.refresh_token_for(user_id), display_name=user.display_name, timezone_name=user.timezone
    )
    simulator.reset_stats()
    started = time.perf_counter()
    with runtime.spotify_client(settings, app) as client:
        session = client.user_session(user_id, registry.refresh_token(user_id), registry.save_refresh_token)
        outcome = resolve.resolve_imported_tracks(
            settings.warehouse_path, client, session, runtime.app_key(app),
            user_id=user_id, max_requests=10**6, lock_wait_seconds=30,
        )
    wall = time.perf_counter() - started
    by_endpoint = simulator.stats()["by_endpoint"]
    catalog_requests = sum(by_endpoint.get(name, 0) for name in CATALOG_ENDPOINTS)
    return {
        "wall_seconds": wall,
        "catalog_requests": catalog_requests,
        "requests_per_second": catalog_requests / wall if wall else None,
        "simulator_by_endpoint": by_endpoint,
        "client_requests": outcome.requests,
        "pending_before": outcome.pending_before,
        "resolved": outcome.resolved,
        "not_found": outcome.not_found,
        "malformed": outcome.malformed,
        "pending_after": outcome.pending_after,
        "track_requests": outcome.track_requests,
        "artist_requests": outcome.artist_requests,
        "artists_checked": outcome.artists_checked,
        "bulk_refused": outcome.bulk_refused,
        "deferred_reason": outcome.deferred_reason,
        "complete": outcome.complete,
        "write_statements": outcome.write_statements,
        "warehouse": warehouse_counts(settings.warehouse_path),
    }


def describe_resolution(label: str, figures: dict) -> str:
    return (f"{label}: {figures['catalog_requests']:,} catalog requests in {figures['wall_seconds']:.1f} s "
            f"({figures['requests_per_second']:,.0f}/s), by endpoint {figures['simulator_by_endpoint']}; "
            f"{figures['resolved']:,} of {figures['pending_before']:,} tracks resolved, "
            f"{figures['artists_checked']:,} artists checked, complete={figures['complete']}")


# -- output -----------------------------------------------------------------------------------


def rounded(value):
    if isinstance(value, float):
        return round(value, 3)
    if isinstance(value, dict):
        return {key: rounded(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [rounded(item) for item in value]
    return value


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it (default: a temporary folder)")
    parser.add_argument("--write-export", type=Path, help=argparse.SUPPRESS)  # the child's job
    args = parser.parse_args()
    if args.write_export:
        print(json.dumps(write_export(args.write_export)))
        return 0

    run_started = time.perf_counter()
    load_average = os.getloadavg()
    log(f"machine: {os.cpu_count()} CPUs, load average {load_average[0]:.2f} {load_average[1]:.2f} {load_average[2]:.2f}")
    root = args.keep or Path(tempfile.mkdtemp(prefix="listory-bench-history-"))
    root.mkdir(parents=True, exist_ok=True)
    for name in ("export", "parse_load", "bulk", "refused"):
        shutil.rmtree(root / name, ignore_errors=True)
    (root / "export").mkdir()
    try:
        log(f"writing the export ({ENTRIES:,} entries, {DISTINCT_TRACKS:,} distinct tracks, {YEARS} years) ...")
        export = export_in_child(root / "export")
        log(f"export: {export['zip_bytes'] / 1e6:.1f} MB zip, {export['json_files']} JSON files "
            f"({export['json_bytes'] / 1e6:.0f} MB uncompressed, largest {export['largest_file_bytes'] / 1e6:.1f} MB), "
            f"{export['entries']:,} entries ({export['music_entries']:,} music, {export['podcast_entries']:,} podcast), "
            f"{export['first_ts']} .. {export['last_ts']}; generated in {export['generate_seconds']:.1f} s, "
            f"written in {export['write_seconds']:.1f} s")
        user_id = export["user_id"]

        home = root / "parse_load"
        home.mkdir()
        loaded = parse_and_load(home, Path(export["zip_path"]), user_id)
        log(f"parse + load: {loaded['parse_load_seconds']:.2f} s (target < {TARGET_PARSE_LOAD_SECONDS:g} s), "
            f"peak RSS {loaded['peak_rss_mb_after_parse_load']:.0f} MB")

        from listory_pipeline.spotify.simulator import Simulator, SimulatorConfig, SimulatorServer

        simulator = Simulator(SimulatorConfig(seed=SEED, n_users=1))
        server = SimulatorServer(simulator, host="127.0.0.1", port=0)
        server.start()
        try:
            copy_home(home, root / "bulk")
            bulk = resolve_in(root / "bulk", server, user_id)
            log(describe_resolution("bulk allowed", bulk))
            copy_home(home, root / "refused")
            simulator.set_faults(bulk_refused=True)
            refused = resolve_in(root / "refused", server, user_id)
            simulator.set_faults(bulk_refused=False)
            log(describe_resolution("bulk refused", refused))
        finally:
            server.stop()

        unknown_tracks = bulk["pending_before"]
        distinct_artists = bulk["warehouse"]["track_artists_distinct"]
        artists_to_enrich = bulk["warehouse"]["artists_real"]
        target_bulk = math.ceil(unknown_tracks / 50) + math.ceil(artists_to_enrich / 50)
        target_refused = unknown_tracks + artists_to_enrich + 2  # + the two refused bulk probes
        targets = {
            "parse_load_under_10_s": loaded["parse_load_seconds"] < TARGET_PARSE_LOAD_SECONDS,
            "catalog_requests_bulk_at_most_target": bulk["catalog_requests"] <= target_bulk,
            "catalog_requests_refused_at_most_target": refused["catalog_requests"] <= target_refused,
            "reimport_changes_nothing": loaded["reimport_unchanged"],
            "resolution_complete": bulk["complete"] and refused["complete"],
        }
        log(f"catalog requests, bulk: {bulk['catalog_requests']:,} (target ceil({unknown_tracks:,}/50) + "
            f"ceil({artists_to_enrich:,}/50) = {target_bulk:,}); refused: {refused['catalog_requests']:,} "
            f"(expected {unknown_tracks:,} + {artists_to_enrich:,} + 2 probes = {target_refused:,})")
        peak = rss_mb()
        log(f"peak RSS: {loaded['peak_rss_mb_after_parse_load']:.0f} MB after parse + load, {peak:.0f} MB at the end "
            f"(simulator, HTTP server and resolution in this process); generator child {export['generator_peak_rss_mb']:.0f} MB")
        total = time.perf_counter() - run_started
        log(f"targets: {targets}; whole run {total:.0f} s")

        details = {
            "machine": {"cpu_count": os.cpu_count(), "load_average_at_start": list(load_average),
                        "load_average_at_end": list(os.getloadavg())},
            "export": {key: value for key, value in export.items() if key != "zip_path"},
            "parse_load": loaded,
            "resolution_bulk": bulk,
            "resolution_refused": refused,
            "targets": {
                "parse_load_seconds": {"target_below": TARGET_PARSE_LOAD_SECONDS, "actual": loaded["parse_load_seconds"]},
                "catalog_requests_bulk": {
                    "target": target_bulk, "actual": bulk["catalog_requests"],
                    "formula": f"ceil({unknown_tracks} unknown tracks / 50) + ceil({artists_to_enrich} artists / 50)",
                },
                "catalog_requests_refused": {
                    "expected": target_refused, "actual": refused["catalog_requests"],
                    "formula": f"{unknown_tracks} tracks + {artists_to_enrich} artists + 2 refused bulk probes",
                },
            },
            "targets_met": targets,
            "peak_rss_mb": {"after_parse_load": loaded["peak_rss_mb_after_parse_load"], "at_end": peak,
                            "generator_child": export["generator_peak_rss_mb"]},
            "total_seconds": total,
        }
        print(json.dumps(rounded(details)))
        print(json.dumps(rounded({
            "entries": loaded["counts"]["entries"],
            "listens_loaded": loaded["import"]["listens_new"],
            "parse_load_seconds": loaded["parse_load_seconds"],
            "catalog_requests_bulk": bulk["catalog_requests"],
            "catalog_requests_refused": refused["catalog_requests"],
            "distinct_tracks": loaded["distinct_tracks"],
            "distinct_artists": distinct_artists,
            "peak_rss_mb": loaded["peak_rss_mb_after_parse_load"],
        })))
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
