"""The report commands of `listory`; `listory_pipeline/cli.py` adds them with `add_report_commands(sub)`.

    listory reports build [--as-of YYYY-MM-DD] [--no-tests]
    listory report listens|top-artists|top-albums|top-tracks|top-genres --user U --from D --to D
                   [--timeframe day|week|month|year] [--format table|csv|json] [--chart out.png|out.svg|out.html]

`reports build` runs dbt over the configured warehouse as a Dagster run of `build_reports_job`
(defs/reports/cli_run.py), so the UI shows it like a scheduled build; `report …` computes any date range with
Polars straight from core.* (reports.* need not be built for it).
"""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

from listory_pipeline.cli_arguments import date_argument, non_negative_int

REPORT_KINDS = ("listens", "top-artists", "top-albums", "top-tracks", "top-genres")
TIMEFRAMES = ("day", "week", "month", "year")
CHART_SUFFIXES = (".png", ".svg", ".html", ".htm")


def add_report_commands(subparsers) -> None:
    reports = subparsers.add_parser("reports", help="build the report tables (reports.*) with dbt")
    reports_sub = reports.add_subparsers(dest="reports_command", required=True)
    build = reports_sub.add_parser("build", help="rebuild every report table from core.* (dbt build, with tests)")
    build.add_argument("--as-of", type=date_argument, help="build as of this date (default: each user's local today)")
    build.add_argument(
        "--no-tests", dest="tests", action="store_false", help="dbt run: build the tables only, skip data and unit tests"
    )
    build.set_defaults(func=cmd_reports_build, writes_warehouse=True)

    report = subparsers.add_parser("report", help="a report for any date range, computed from core.* with Polars")
    report_sub = report.add_subparsers(dest="report_kind", required=True)
    for kind in REPORT_KINDS:
        parser = report_sub.add_parser(kind, help=f"{kind.replace('-', ' ')} for local dates --from … --to …")
        parser.add_argument("--user", required=True, help="Spotify user id")
        parser.add_argument("--from", dest="start", type=date_argument, required=True, help="first local date, YYYY-MM-DD")
        parser.add_argument("--to", dest="end", type=date_argument, required=True, help="last local date, YYYY-MM-DD (included)")
        parser.add_argument("--timeframe", choices=TIMEFRAMES, default="day", help="bucket size of `listens` (default day)")
        parser.add_argument("--format", choices=("table", "csv", "json"), default="table")
        parser.add_argument("--limit", type=non_negative_int, default=None, help="rows to print at most (top lists; default all)")
        parser.add_argument("--chart", metavar="FILE", help="also write a chart: .png, .svg or .html")
        parser.set_defaults(func=cmd_report)


def cmd_reports_build(args) -> int:
    from listory_pipeline.defs.reports.cli_run import build_reports_as_run
    from listory_pipeline.settings import load_settings
    from listory_pipeline.warehouse.connection import WarehouseLockedError

    settings = load_settings()
    try:
        wait_for_warehouse(settings)
        result = build_reports_as_run(settings, args.as_of, tests=args.tests)
    except WarehouseLockedError as exc:
        print(f"reports not built: {exc}", file=sys.stderr)
        return 1
    print(f"\nWarehouse: {settings.warehouse_path} (readers: {settings.published_warehouse_path})")
    print(
        f"As of: {args.as_of or 'each user local today'}; {result.seconds:.1f} s; Dagster run {result.run_id}: "
        f"{result.materialized} assets materialized, checks {result.checks_passed} passed, {result.checks_failed} failed"
    )
    for table, count in result.row_counts.items():
        print(f"  reports.{table}: {count:,} rows")
    # the nodes that failed, not the ones dbt skipped because of them
    skipped = [failure for failure in result.failures if failure.startswith("skipped ")]
    for failure in result.failures:
        if failure not in skipped:
            print(f"  FAILED {failure}", file=sys.stderr)
    if skipped:
        print(f"  ({len(skipped)} more node(s) skipped because of that)", file=sys.stderr)
    return 0 if result.success else 1


def wait_for_warehouse(settings) -> None:
    """Raise WarehouseLockedError now if another writer holds the file past the lock wait.

    The run would fail on the lock too, and only then, after its own wait, count rows: a
    busy warehouse is said at once instead, and no failed run is left behind.
    """
    from listory_pipeline.warehouse.connection import WarehouseLockedError, connect_with_retry

    if not settings.warehouse_path.exists():
        return  # a fresh home: the build creates it
    wait = settings.warehouse_lock_wait_seconds
    try:
        connect_with_retry(settings.warehouse_path, read_only=True, wait_seconds=wait).close()
    except WarehouseLockedError as exc:
        raise WarehouseLockedError(
            f"the warehouse {settings.warehouse_path} stayed locked by another process for {wait:.0f} s: "
            "try again once that write is done"
        ) from exc


def compute_report(warehouse_path: Path, kind: str, user_id: str, start: date, end: date, timeframe: str = "day"):
    from listory_pipeline.reports import custom_range

    if kind == "listens":
        return custom_range.listens_over_time(warehouse_path, user_id, start, end, timeframe)
    function = getattr(custom_range, kind.replace("-", "_"))
    return function(warehouse_path, user_id, start, end)


def cmd_report(args) -> int:
    from listory_pipeline.settings import load_settings
    from listory_pipeline.texttable import format_table

    settings = load_settings()
    if args.end < args.start:
        print(f"--to ({args.end}) is before --from ({args.start})", file=sys.stderr)
        return 2
    chart = Path(args.chart) if args.chart else None
    if chart is not None and chart.suffix.lower() not in CHART_SUFFIXES:
        print(f"--chart: unsupported file type {chart.suffix!r} (use .png, .svg or .html)", file=sys.stderr)
        return 2
    if chart is not None and not chart.parent.is_dir():
        print(f"cannot write {chart}: the folder {chart.parent} does not exist", file=sys.stderr)
        return 2
    from zoneinfo import ZoneInfoNotFoundError

    from listory_pipeline.publication.readers import has_user, prepare_read_copy

    path = prepare_read_copy(settings)
    if path is None:
        print(f"no warehouse at {settings.published_warehouse_path}: crawl first (`listory demo` or `listory crawl`)", file=sys.stderr)
        return 2
    if not has_user(path, args.user):
        print(f"unknown user {args.user!r}: no such user in the warehouse (see `listory users list`)", file=sys.stderr)
        return 2
    try:
        frame = compute_report(path, args.report_kind, args.user, args.start, args.end, args.timeframe)
    except ZoneInfoNotFoundError as exc:  # core.users holds a zone this Python's tzdata does not know
        print(f"{args.user}'s time zone is unknown here ({exc.args[0]}): "
              f"set one with `listory users set-timezone {args.user} <IANA zone>`", file=sys.stderr)
        return 1
    if args.limit is not None and args.report_kind != "listens":
        frame = frame.head(args.limit)
    if chart is not None:
        try:
            write_chart(chart, args.report_kind, args.user, args.start, args.end, frame)
        except OSError as exc:
            print(f"cannot write {chart}: {exc.strerror or exc}", file=sys.stderr)
            return 1
    if args.format == "csv":
        sys.stdout.write(frame.write_csv())
    elif args.format == "json":
        sys.stdout.write(frame.write_json() + "\n")
    else:
        print(format_table(frame.columns, frame.rows()))
        if frame.is_empty():
            print(f"(no listens of {args.user} from {args.start} to {args.end})")
    return 0


def write_chart(path: Path, kind: str, user_id: str, start: date, end: date, frame) -> None:
    """listens: one bar per bucket; top lists: the top 20 by listen count."""
    from listory_pipeline.reports import charts

    if kind == "listens":
        labels = [charts.label(d) for d in frame["period_start"]]
        values = frame["listen_count"].to_list()
        title = f"Listens of {user_id}, {start} to {end} (per {frame['timeframe'][0] if len(frame) else 'day'})"
    else:
        top = frame.head(20)
        name_column = [c for c in top.columns if c.endswith("_name")] or ["genre"]
        labels = [str(v) for v in top[name_column[0]]]
        values = top["listen_count"].to_list()
        title = f"{kind.replace('-', ' ').capitalize()} of {user_id}, {start} to {end}"
    suffix = path.suffix.lower()
    if suffix == ".png":
        path.write_bytes(charts.bar_chart_png(values))
    elif suffix == ".svg":
        path.write_text(charts.bar_chart_svg(labels, values, title=title), encoding="utf-8")
    elif suffix in (".html", ".htm"):
        svg = charts.bar_chart_svg(labels, values, title=title)
        path.write_text(charts.html_page(title, svg, frame.columns, frame.rows()), encoding="utf-8")
    else:
        raise SystemExit(f"--chart: unsupported file type {path.suffix!r} (use .png, .svg or .html)")
    print(f"chart written to {path}", file=sys.stderr)
