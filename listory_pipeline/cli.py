"""The `listory` command: demo, crawl, simulator, sql, ui here; login/users in
`users/cli_commands.py`, reports in `reports/cli_commands.py`.

Each subcommand is a small function over the same building blocks the Dagster
code locations use (`runtime`, `crawl`, the registry), so the CLI and the UI
never disagree about where data lives.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from listory_pipeline.cli_arguments import non_negative_int, port_number
from listory_pipeline.settings import ConfigError, load_settings
from listory_pipeline.texttable import format_table


# The per-step DEBUG lines belong in the Dagster UI; the terminal gets warnings and the summary.
_QUIET_RUN_CONFIG = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def _execute_crawls(settings, user_ids: list[str]) -> list[tuple[str, bool, dict]]:
    """Run crawl_user_job once per user on the embedded instance, so runs show in the UI later."""
    from dagster import DagsterInstance

    from listory_pipeline.definitions import defs
    from listory_pipeline.defs.partitions import spotify_users
    from listory_pipeline.defs.run_results import failure_reason, materialized_metadata
    from listory_pipeline.runner.instance import ensure_dagster_home

    ensure_dagster_home(settings)
    job = defs.resolve_job_def("crawl_user_job")
    outcomes = []
    with DagsterInstance.get() as instance:
        known = set(instance.get_dynamic_partitions(spotify_users.name))
        missing = [u for u in user_ids if u not in known]
        if missing:
            instance.add_dynamic_partitions(spotify_users.name, missing)
        for index, user_id in enumerate(user_ids, start=1):
            print(f"[{index}/{len(user_ids)}] crawling {user_id} ...", flush=True)
            result = job.execute_in_process(
                instance=instance, partition_key=user_id, raise_on_error=False, run_config=_QUIET_RUN_CONFIG
            )
            metadata = materialized_metadata(result)
            if not result.success:
                metadata["failure"] = failure_reason(result)
                print(f"    failed: {metadata['failure']}", file=sys.stderr)
            outcomes.append((user_id, result.success, metadata))
    return outcomes


def _print_summary(settings) -> None:
    from listory_pipeline.warehouse.summary import summarize

    summary = summarize(settings.published_warehouse_path)
    print()
    print(f"Warehouse: {settings.published_warehouse_path}")
    print(
        format_table(
            ["user", "name", "status", "time zone", "listens", "first play (UTC)", "newest play (UTC)"],
            [(u, n, s, tz, c, f and f"{f:%Y-%m-%d %H:%M}", m and f"{m:%Y-%m-%d %H:%M}") for u, n, s, tz, c, f, m in summary.per_user],
        )
    )
    catalog = summary.catalog
    print(
        f"\nCatalog: {catalog['tracks']} tracks, {catalog['albums']} albums, {catalog['artists']} artists "
        f"({catalog['artists_checked']} checked for genres), {catalog['genres']} genres"
    )
    print("\nNewest listens:")
    print(format_table(["played at (UTC)", "user", "track", "artists"], [(f"{p:%Y-%m-%d %H:%M:%S}", u, t, a) for p, u, t, a in summary.newest]))


def import_simulated_past(settings, user_id: str, days: int = 365) -> dict | None:
    """Import a year of `user_id`'s simulated Spotify export as a run of import_history_job.

    The demo's first user then has a past (reports from a year back, the import assets
    materialized in the UI) without a second command. Returns the run's materialization
    metadata, or None (with the reason printed) when the run failed.
    """
    import tempfile
    from datetime import datetime, timedelta, timezone

    from dagster import DagsterInstance

    from listory_pipeline import runtime
    from listory_pipeline.definitions import defs
    from listory_pipeline.defs.run_results import failure_reason, materialized_metadata
    from listory_pipeline.spotify.simulator.export import export_entries, write_extended_export

    simulator = runtime.embedded_simulator(settings).simulator
    end = datetime.now(timezone.utc) - timedelta(days=2)  # Spotify's export lags a few days behind
    entries, _ = export_entries(simulator, user_id, end - timedelta(days=days), end)
    print(f"\nImporting {user_id}'s past ({len(entries):,} export entries, {days} days to {end:%Y-%m-%d}) "
          "as a Dagster run of import_history_job ...", flush=True)
    with tempfile.TemporaryDirectory(dir=settings.home) as folder, DagsterInstance.get() as instance:
        export = write_extended_export(entries, Path(folder) / "my_spotify_data.zip")
        result = defs.resolve_job_def("import_history_job").execute_in_process(
            instance=instance,
            partition_key=user_id,
            raise_on_error=False,
            run_config={**_QUIET_RUN_CONFIG, "ops": {"landing__extended_history": {"config": {"paths": [str(export)]}}}},
            tags={"listory/launched_by": "listory demo"},
        )
    if not result.success:
        print(f"    import failed: {failure_reason(result)}", file=sys.stderr)
        return None
    metadata = materialized_metadata(result)
    print(
        f"Imported {metadata.get('core/listens:history_listens_new', 0):,} listens of the past; "
        f"resolved {metadata.get('core/imported_track_catalog:resolved_tracks', 0):,} tracks "
        f"with {metadata.get('core/imported_track_catalog:track_requests', 0)} Spotify requests"
    )
    return metadata


def build_and_show_reports(settings, user_id: str, preset: str = "last_7_days", *, launched_by: str = "listory demo") -> bool:
    """Build reports.* as the hourly schedule would (a Dagster run), and show one of them; True when built."""
    from listory_pipeline.defs.reports.cli_run import build_reports_as_run
    from listory_pipeline.reports.cli_commands import wait_for_warehouse
    from listory_pipeline.warehouse.connection import WarehouseLockedError
    from listory_pipeline.warehouse.summary import top_artists

    print("\nBuilding reports.* with dbt, as a Dagster run of build_reports_job ...", flush=True)
    try:
        wait_for_warehouse(settings)
        result = build_reports_as_run(settings, launched_by=launched_by, quiet=True)
    except WarehouseLockedError as exc:
        print(f"report build failed: {exc}", file=sys.stderr)
        return False
    if not result.success:
        print("report build failed: " + "; ".join(result.failures), file=sys.stderr)
        return False
    print(
        f"Built {len(result.row_counts)} report tables in {result.seconds:.1f} s "
        f"(run {result.run_id[:8]}: {result.materialized} assets materialized, {result.checks_passed} checks passed)"
    )
    rows = top_artists(settings.published_warehouse_path, user_id, preset, limit=5)
    print(f"\nreports.top_artists, {user_id}, {preset}:")
    print(format_table(["rank", "artist", "listens", "minutes", "rank change"], rows))
    return True


def cmd_demo(args) -> int:
    settings = load_settings()
    if not settings.uses_simulator:
        print("demo runs against the built-in simulator: unset SPOTIFY_CLIENT_ID/SPOTIFY_CLIENT_SECRET, or use `listory crawl`.", file=sys.stderr)
        return 2
    import httpx

    from listory_pipeline import runtime
    from listory_pipeline.publication.readers import connection_help, publish_after_writes

    print(f"LISTORY_HOME: {settings.home}")
    print("Spotify: built-in simulator" + (f" at {settings.simulator_url}" if settings.simulator_url else " (embedded)"))
    registry = runtime.user_registry(settings)
    try:
        accounts = runtime.simulator_accounts(settings)[: args.users]
    except httpx.HTTPError as exc:
        print(f"cannot reach the simulator at {settings.simulator_url} ({exc}): start it with `listory simulator` "
              "or unset LISTORY_SIMULATOR_URL", file=sys.stderr)
        return 1
    for account in accounts:
        registry.register(
            account["user_id"], account["refresh_token"], display_name=account["display_name"], timezone_name=account["timezone"]
        )
    print(f"Registered {len(accounts)} simulated users: {', '.join(a['user_id'] for a in accounts)}")
    outcomes = _execute_crawls(settings, [a["user_id"] for a in accounts])
    publish_after_writes(settings)
    print()
    print(
        format_table(
            ["user", "crawl", "plays in pull", "new listens", "spotify requests", "possible gap"],
            [
                (
                    user_id,
                    "ok" if ok else "FAILED",
                    meta.get("landing/recently_played:plays_in_pull"),
                    meta.get("core/listens:new_listens"),
                    (meta.get("landing/recently_played:spotify_requests_total") or 0)
                    + (meta.get("core/artist_genres:spotify_requests_total") or 0),
                    meta.get("core/listens:possible_gap"),
                )
                for user_id, ok, meta in outcomes
            ],
        )
    )
    imported = import_simulated_past(settings, accounts[0]["user_id"]) if args.history else {}
    publish_after_writes(settings)
    _print_summary(settings)
    built = build_and_show_reports(settings, accounts[0]["user_id"]) if args.reports else True
    print()
    print("\n".join(connection_help(settings)))
    print()
    other = accounts[-1]["user_id"]
    print(f"A past of your own: uv run listory import-history --user <you> my_spotify_data.zip"
          f"   (simulated: uv run listory simulator-export --user {other} --out my_spotify_data.zip)")
    print("See it:    uv run listory ui   (Dagster UI on http://127.0.0.1:3000)")
    return 0 if all(ok for _, ok, _ in outcomes) and imported is not None and built else 1


def cmd_crawl(args) -> int:
    settings = load_settings()
    from listory_pipeline import runtime

    users = runtime.user_registry(settings).list()
    wanted = args.user or [u.user_id for u in users if u.status == "active"]
    unknown = sorted(set(wanted) - {u.user_id for u in users})
    if unknown:
        print(f"unknown user(s): {', '.join(unknown)} (see `listory users list`)", file=sys.stderr)
        return 2
    if not wanted:
        print("no active users registered: add one with `listory users add` (or run `listory demo`)", file=sys.stderr)
        return 2
    outcomes = _execute_crawls(settings, wanted)
    for user_id, ok, meta in outcomes:
        if ok:
            print(f"{user_id}: ok, {meta.get('core/listens:new_listens', 0)} new listens")
        else:
            print(f"{user_id}: FAILED: {meta.get('failure')}")
    return 0 if all(ok for _, ok, _ in outcomes) else 1


def cmd_simulator(args) -> int:
    from listory_pipeline.spotify.simulator import SimulatorConfig, run_forever

    try:
        run_forever(host=args.host, port=args.port, config=SimulatorConfig(seed=args.seed, n_users=args.users))
    except OSError as exc:  # the port is taken, or the host is not an address of this machine
        print(f"cannot listen on {args.host}:{args.port} ({exc.strerror or exc}): choose another --port or --host", file=sys.stderr)
        return 1
    return 0


def cmd_simulator_export(args) -> int:
    """A simulated user's Spotify export, from the same plays the simulator's recently-played serves."""
    from datetime import datetime, timedelta, timezone

    from listory_pipeline.spotify.simulator.export import EXPORT_VARIANTS, export_entries, write_extended_export

    settings = load_settings()
    if not settings.uses_simulator:
        print("simulator-export needs the simulator: unset SPOTIFY_CLIENT_ID/SPOTIFY_CLIENT_SECRET", file=sys.stderr)
        return 2
    from listory_pipeline import runtime

    simulator = runtime.embedded_simulator(settings).simulator
    if simulator.user(args.user) is None:
        known = ", ".join(user.user_id for user in simulator.users())
        print(f"no simulated user {args.user!r} (simulated users: {known})", file=sys.stderr)
        return 2
    if args.variant not in EXPORT_VARIANTS:
        print(f"--variant must be one of {', '.join(EXPORT_VARIANTS)}", file=sys.stderr)
        return 2
    try:
        end = datetime.now(timezone.utc) - timedelta(days=args.until_days_ago)
        start = end - timedelta(days=args.days)
    except OverflowError:
        print("--days and --until-days-ago reach outside the calendar: use fewer days", file=sys.stderr)
        return 2
    entries, _ = export_entries(simulator, args.user, start, end, variant=args.variant)
    try:
        path = write_extended_export(entries, Path(args.out), variant=args.variant)
    except OSError as exc:
        print(f"cannot write {args.out}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    print(f"wrote {len(entries):,} entries of {args.user} ({args.days} days to {end:%Y-%m-%d}) to {path}")
    print(f"import it:  uv run listory import-history --user {args.user} {path}")
    return 0


def cmd_sql(args) -> int:
    import duckdb

    from listory_pipeline.publication.readers import prepare_read_copy, reading_read_copy

    settings = load_settings()
    path = prepare_read_copy(settings)
    if path is None:
        print(f"no warehouse at {settings.published_warehouse_path} yet: run `listory demo` or `listory crawl` first", file=sys.stderr)
        return 2
    query = args.query if args.query != "-" else sys.stdin.read()
    if not query.strip():
        print("no SQL given" + (" on stdin" if args.query == "-" else ""), file=sys.stderr)
        return 2
    with reading_read_copy(path, sandboxed=True) as conn:
        try:
            cursor = conn.execute(query)
            if cursor is None or cursor.description is None:  # only comments, or a statement without rows
                return 0
            headers = [d[0] for d in cursor.description]
            rows = cursor.fetchmany(args.limit)
        except duckdb.Error as exc:
            print(f"query failed: {exc}", file=sys.stderr)
            return 1
    print(format_table(headers, rows))
    return 0


def cmd_ui(args) -> int:
    import os

    from listory_pipeline.runner.instance import ensure_dagster_home
    from listory_pipeline.runner.supervise import start_in_own_group, supervise
    from listory_pipeline.publication.readers import connection_help

    settings = load_settings()
    busy = _port_taken(args.host, args.port)
    if busy:
        print(f"cannot serve the UI on {args.host}:{args.port} ({busy}): choose another --port or --host", file=sys.stderr)
        return 1
    home = ensure_dagster_home(settings)
    print("\n".join(connection_help(settings)), flush=True)
    # the interpreter running us, not whatever PATH finds: a service has no venv on PATH
    command = [sys.executable, "-m", "listory_pipeline.runner.serve", "--host", args.host, "--port", str(args.port)]
    print(f"DAGSTER_HOME={home}\n$ {' '.join(command)}", flush=True)
    env = dict(os.environ)
    # this environment's tools first (dbt and dagster's own), whatever PATH the service was given
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), *filter(None, [env.get("PATH")])])
    return supervise(start_in_own_group(command, env))


def _port_taken(host: str, port: int) -> str | None:
    """Why the webserver could not listen on host:port, or None: checked first, so that the daemon is not started without it."""
    import socket

    try:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the webserver does
            probe.bind((host, port))
    except OSError as exc:
        return exc.strerror or str(exc)
    return None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="listory", description="Keep every Spotify play forever; report on it.")
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="register simulated users, crawl them through Dagster, show what was stored")
    demo.add_argument("--users", type=int, default=3, help="how many simulated users to crawl (default 3)")
    demo.add_argument("--no-history", dest="history", action="store_false", help="skip importing the first user's simulated past")
    demo.add_argument("--no-reports", dest="reports", action="store_false", help="skip building reports.* afterwards")
    demo.set_defaults(func=cmd_demo, writes_warehouse=True)

    crawl = sub.add_parser("crawl", help="crawl registered users now (one Dagster run each)")
    crawl.add_argument("--user", action="append", help="user id (repeatable); default: every active user")
    crawl.set_defaults(func=cmd_crawl, writes_warehouse=True)

    from listory_pipeline.users.cli_commands import add_user_commands

    add_user_commands(sub)
    from listory_pipeline.history.cli_commands import add_history_commands

    add_history_commands(sub)
    from listory_pipeline.export.cli_commands import add_export_commands

    add_export_commands(sub)

    simulator = sub.add_parser("simulator", help="run the Spotify simulator as a server")
    simulator.add_argument("--host", default="127.0.0.1")
    simulator.add_argument("--port", type=port_number, default=8765)
    simulator.add_argument("--seed", type=int, default=42)
    simulator.add_argument("--users", type=int, default=5)
    simulator.set_defaults(func=cmd_simulator)

    export = sub.add_parser(
        "simulator-export", help="write a simulated user's Spotify export (Extended Streaming History zip) to try the import"
    )
    export.add_argument("--user", required=True, help="simulated user id, e.g. sim-alice")
    export.add_argument("--out", default="my_spotify_data.zip", help="zip to write (default my_spotify_data.zip)")
    export.add_argument("--days", type=non_negative_int, default=365, help="days of history (default 365)")
    export.add_argument(
        "--until-days-ago", type=non_negative_int, default=2, help="the export ends this many days ago (default 2)"
    )
    export.add_argument("--variant", default="2025", help="legacy | 2024 | 2025: the export format of that time")
    export.set_defaults(func=cmd_simulator_export)

    sql = sub.add_parser("sql", help="run a read-only SQL query on the warehouse")
    sql.add_argument("query", help="SQL text, or '-' to read it from stdin")
    sql.add_argument("--limit", type=non_negative_int, default=100, help="rows to print at most (default 100)")
    sql.set_defaults(func=cmd_sql)

    ui = sub.add_parser("ui", help="start the Dagster UI and daemon on the embedded instance (code locations loaded in process)")
    ui.add_argument("--host", default="127.0.0.1")
    ui.add_argument("--port", type=port_number, default=3000)
    ui.set_defaults(func=cmd_ui)
    from listory_pipeline.reports.cli_commands import add_report_commands

    add_report_commands(sub)
    return parser


def _publish_what_was_written(settings) -> None:
    """After a command that writes, readers see its writes at once instead of within the interval."""
    from listory_pipeline.publication.readers import publish_after_writes
    from listory_pipeline.publication.snapshot import PublicationError
    from listory_pipeline.warehouse.connection import WarehouseLockedError

    try:
        publish_after_writes(settings)
    except WarehouseLockedError:
        print("(the read copy is republished by the next pipeline write: the warehouse is busy)", file=sys.stderr)
    except PublicationError as exc:
        print(f"the read copy was not published: {exc}", file=sys.stderr)


def _use_home(settings) -> None:
    """LISTORY_HOME made private, or a ConfigError saying why it cannot be used (every command writes there)."""
    from listory_pipeline.settings import keep_private

    try:
        keep_private(settings)
    except OSError as exc:
        if settings.home.is_file():
            raise ConfigError(f"LISTORY_HOME {settings.home} is a file, not a folder") from None
        raise ConfigError(
            f"LISTORY_HOME {settings.home} cannot be used ({exc.strerror or exc}): it must be a folder this user can write"
        ) from None


def main(argv: list[str] | None = None) -> int:
    """Run one command; what stops any command (config, secret key, a busy or unreadable warehouse) is one line."""
    import sqlite3

    import duckdb

    from listory_pipeline.users.crypto import SecretKeyError
    from listory_pipeline.warehouse.connection import WarehouseLockedError

    args = build_parser().parse_args(argv)
    try:
        from listory_pipeline.publication.snapshot import adopt_legacy_warehouse

        settings = load_settings()
        _use_home(settings)
        adopt_legacy_warehouse(settings.publication)  # a home from before the read copy
        code = args.func(args)
        if getattr(args, "writes_warehouse", False):
            _publish_what_was_written(settings)
        return code
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    except (SecretKeyError, WarehouseLockedError) as exc:  # the messages say what to do
        print(str(exc), file=sys.stderr)
        return 1
    except duckdb.IOException as exc:  # a damaged or unreadable DuckDB file (lock waits are WarehouseLockedError)
        print(f"cannot open the warehouse: {str(exc).splitlines()[0]}", file=sys.stderr)
        return 1
    except sqlite3.Error as exc:  # the registry or token cache: unreadable, read-only, another user's
        print(f"cannot use the files in LISTORY_HOME ({exc}): this user must own it and everything in it", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
