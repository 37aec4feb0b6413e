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

    settings = load_settings()
    result = build_reports_as_run(settings, args.as_of, tests=args.tests)
    print(f"\nWarehouse: {settings.warehouse_path} (readers: {settings.published_warehouse_path})")
    print(
        f"As of: {args.as_of or 'each user local today'}; {result.seconds:.1f} s; Dagster run {result.run_id}: "
        f"{result.materialized} assets materialized, checks {result.checks_passed} passed, {result.checks_failed} failed"
    )
    for table, count in result.row_counts.items():
        print(f"  reports.{table}: {count:,} rows")
    for failure in result.failures:
        print(f"  FAILED {failure}", file=sys.stderr)
    return 0 if result.success else 1


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
    from listory_pipeline.publication.readers import prepare_read_copy

    path = prepare_read_copy(settings)
    if path is None:
        print(f"no warehouse at {settings.published_warehouse_path}: crawl first (`listory demo` or `listory crawl`)", file=sys.stderr)
        return 2
    if not _user_known(path, args.user):
        print(f"unknown user {args.user!r}: no such user in the warehouse (see `listory users list`)", file=sys.stderr)
        return 2
    frame = compute_report(path, args.report_kind, args.user, args.start, args.end, args.timeframe)
    if args.limit is not None and args.report_kind != "listens":
        frame = frame.head(args.limit)
    if args.chart:
        write_chart(Path(args.chart), args.report_kind, args.user, args.start, args.end, frame)
    if args.format == "csv":
        sys.stdout.write(frame.write_csv())
    elif args.format == "json":
        sys.stdout.write(frame.write_json() + "\n")
    else:
        print(format_table(frame.columns, frame.rows()))
        if frame.is_empty():
            print(f"(no listens of {args.user} from {args.start} to {args.end})")
    return 0


def _user_known(path: Path, user_id: str) -> bool:
    from listory_pipeline.publication.readers import reading_read_copy

    with reading_read_copy(path) as conn:
        return conn.execute("select count(*) from core.users where user_id = ?", [user_id]).fetchone()[0] > 0


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
