"""`listory import-history`: a user's past from Spotify's privacy export, with progress.

    listory import-history --user U PATH [PATH ...] [--min-listen-seconds 30] [--include-incognito]
                           [--allow-other-username] [--no-resolve] [--max-requests N] [--no-reports]

PATH: `my_spotify_data.zip` as Spotify mails it, the folder it unpacks to, or its JSON files.
The steps are the same plain functions the Dagster import job runs (history/steps.py,
history/resolve.py); the command records what it did in the embedded Dagster instance, so the
UI shows the import and the sensors carry on any resolution a rate limit interrupted.
"""

from __future__ import annotations

import sys

from listory_pipeline.settings import load_settings


def add_history_commands(subparsers) -> None:
    parser = subparsers.add_parser(
        "import-history",
        help="import a user's Spotify export (Extended Streaming History or Account data)",
        description="Import a user's Spotify privacy export: the zip Spotify mails, its folder, or its JSON files.",
    )
    parser.add_argument("--user", required=True, help="the registered Spotify user id the export belongs to")
    parser.add_argument("paths", nargs="+", metavar="PATH", help="my_spotify_data.zip, its folder, or JSON files")
    parser.add_argument(
        "--min-listen-seconds",
        type=float,
        default=30.0,
        help="shorter plays are skips unless they played to their end (default 30)",
    )
    parser.add_argument("--include-incognito", action="store_true", help="import plays made in a private session too")
    parser.add_argument(
        "--allow-other-username",
        action="store_true",
        help="import even if the export names another username (a renamed account)",
    )
    parser.add_argument("--no-resolve", dest="resolve", action="store_false", help="do not ask Spotify for the tracks' catalog now")
    parser.add_argument(
        "--max-requests", type=int, default=100_000, help="Spotify requests resolution may spend now (default 100000)"
    )
    parser.add_argument("--no-reports", dest="reports", action="store_false", help="do not rebuild reports.* afterwards")
    parser.set_defaults(func=cmd_import_history, writes_warehouse=True)


def cmd_import_history(args) -> int:
    from listory_pipeline import runtime
    from listory_pipeline.history import steps
    from listory_pipeline.history.classify import ImportRules
    from listory_pipeline.history.errors import HistoryInputError
    from listory_pipeline.landing.store import LandingError
    from listory_pipeline.progress import ProgressBar
    from listory_pipeline.users.registry import UnknownUserError

    settings = load_settings()
    registry = runtime.user_registry(settings)
    try:
        user = registry.get(args.user)
    except UnknownUserError:
        print(f"unknown user {args.user!r}: register them first (`listory login` or `listory users add`)", file=sys.stderr)
        return 2
    if args.min_listen_seconds < 0:
        print("--min-listen-seconds must not be negative", file=sys.stderr)
        return 2
    if args.resolve:
        from listory_pipeline.users.crypto import SecretKeyError

        try:  # resolution needs their token: say a wrong key now, before anything is stored
            registry.refresh_token(user.user_id)
        except SecretKeyError as exc:
            print(f"{exc}; nothing was imported (--no-resolve imports without asking Spotify)", file=sys.stderr)
            return 1
    rules = ImportRules(min_listen_ms=int(args.min_listen_seconds * 1000), include_incognito=args.include_incognito)
    landing = runtime.history_landing(settings)
    bar = ProgressBar("reading export", unit="files")
    try:
        landed = steps.land_export(
            landing,
            args.paths,
            user_id=user.user_id,
            rules=rules,
            allow_other_username=args.allow_other_username,
            progress=lambda done, total, name: bar.update(done, total, name),
        )
    except HistoryInputError as exc:
        bar.close()
        print(f"import refused, nothing was stored: {exc}", file=sys.stderr)
        return 2
    except LandingError as exc:  # an earlier landing of these files is damaged
        bar.close()
        print(f"{exc}; remove that folder to land the files again", file=sys.stderr)
        return 1
    bar.close()
    _print_export(landed)

    from listory_pipeline.warehouse.connection import WarehouseLockedError
    from listory_pipeline.warehouse.loader import UserRow

    print("Loading into the warehouse (one transaction) ...", flush=True)
    try:
        loaded = steps.load_history(
            settings.warehouse_path,
            landing,
            user.user_id,
            lock_wait_seconds=settings.warehouse_lock_wait_seconds,
            user=UserRow(user.user_id, user.display_name, user.timezone, user.status),
        )
    except WarehouseLockedError as exc:
        print(f"{exc}; the import is landed and the next crawl or `listory import-history` loads it", file=sys.stderr)
        return 1
    failed = _print_load(loaded)

    resolution = None
    if args.resolve:
        resolution = _resolve(settings, registry, user, args.max_requests)
    reports_built = False
    if args.reports and not failed and loaded.imports:
        from listory_pipeline.cli import build_and_show_reports

        reports_built = build_and_show_reports(settings, user.user_id, preset="all_time", launched_by="listory import-history")
    _record_in_dagster(settings, user.user_id, landed, loaded, resolution, reports_built=reports_built)
    return 1 if failed else 0


def _print_export(landed) -> None:
    export = landed.export
    counts = export.counts
    print(f"Read {len(export.files)} file(s), {counts['entries']:,} entries: {export.rules.describe()}")
    print(
        f"  listens {counts['listens']:,}, skips {counts['skips']:,}; not imported: incognito {counts['incognito_dropped']:,}, "
        f"podcast episodes {counts['podcast_episodes']:,}, audiobook chapters {counts['audiobook_chapters']:,}, "
        f"local files {counts['local_files']:,}, unidentified {counts['unidentified']:,}, "
        f"duplicate rows {counts['duplicate_rows']:,}"
    )
    for name in export.duplicate_files:
        print(f"  read once: {name}")
    for warning in export.warnings:
        print(f"  warning: {warning}", file=sys.stderr)
    if export.covered_from and export.covered_to:
        print(f"  plays from {export.covered_from:%Y-%m-%d} to {export.covered_to:%Y-%m-%d}")
    state = "landed" if landed.new else "already landed (the same files were imported before)"
    print(f"  {state}: {landed.landed.folder}")


def _print_load(loaded) -> bool:
    if not loaded.imports:
        print("Nothing new to load: this import is in the warehouse already.")
        return False
    for one in loaded.imports:
        if one.outcome == "rejected":
            print(f"  import {one.import_id} could not be loaded: {one.error}", file=sys.stderr)
            continue
        print(
            f"  {one.listens_new:,} new listens, {one.listens_matched:,} already stored (crawled; ms_played added), "
            f"{one.listens_replaced:,} replaced by more precise entries, {one.skips_new:,} skips, "
            f"{one.tracks_new:,} new tracks (by name until resolved), {one.gaps_filled} crawl gap(s) filled"
        )
    return bool(loaded.rejected)


def _resolve(settings, registry, user, max_requests: int):
    from listory_pipeline import runtime
    from listory_pipeline.history.resolve import resolve_imported_tracks
    from listory_pipeline.progress import ProgressBar
    from listory_pipeline.spotify.errors import SpotifyError

    bar = ProgressBar("resolving tracks", unit="tracks")
    try:
        with runtime.user_spotify_session(settings, user, registry) as (client, session, app_key):
            outcome = resolve_imported_tracks(
                settings.warehouse_path,
                client,
                session,
                app_key,
                user_id=user.user_id,
                max_requests=max_requests,
                lock_wait_seconds=settings.warehouse_lock_wait_seconds,
                progress=bar.update,
            )
    except SpotifyError as exc:
        bar.close()
        print(f"resolution stopped ({exc}); plays stay visible by name, the Dagster sensor resumes it", file=sys.stderr)
        return None
    bar.close()
    mode = "one by one (bulk refused)" if outcome.bulk_refused else "in bulk"
    print(
        f"Resolved {outcome.resolved:,} of {outcome.pending_before:,} tracks {mode} with {outcome.track_requests:,} "
        f"requests; {outcome.not_found:,} unknown to Spotify; genres checked for {outcome.artists_checked:,} artists "
        f"({outcome.artist_requests:,} requests)"
    )
    if outcome.pending_after:
        reason = outcome.deferred_reason or "request budget spent"
        print(f"  {outcome.pending_after:,} tracks still pending ({reason}): they show by name; resolution resumes later")
    return outcome


def _record_in_dagster(settings, user_id, landed, loaded, resolution, *, reports_built: bool) -> None:
    """Tell the embedded Dagster instance, so the UI shows the import and sensors resume resolution."""
    from listory_pipeline.defs.history.records import record_cli_import

    try:
        record_cli_import(settings, user_id, landed, loaded, resolution, reports_built=reports_built)
    except Exception as exc:  # the import itself is done; the record is a courtesy to the UI
        print(f"note: could not record the import in the Dagster instance: {exc}", file=sys.stderr)
