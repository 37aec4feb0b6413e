"""`listory export`: a user's listens in open formats, or in Spotify's export shape.

    listory export --user U [--from D --to D] --format parquet|csv|json|spotify-extended [--out PATH]

Dates are the user's local dates, as in the reports, both included.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from listory_pipeline.cli_arguments import date_argument

EXPORT_FORMATS = ("parquet", "csv", "json", "spotify-extended")
_DEFAULT_NAMES = {"parquet": "listens.parquet", "csv": "listens.csv", "json": "listens.json", "spotify-extended": "my_spotify_data.zip"}


def add_export_commands(subparsers) -> None:
    parser = subparsers.add_parser("export", help="a user's listens as Parquet, CSV, JSON or Spotify's export format")
    parser.add_argument("--user", required=True, help="Spotify user id")
    parser.add_argument("--from", dest="first", type=date_argument, help="first local date, YYYY-MM-DD (default: the first play)")
    parser.add_argument("--to", dest="last", type=date_argument, help="last local date, YYYY-MM-DD, included (default: the newest)")
    parser.add_argument("--format", dest="fmt", choices=EXPORT_FORMATS, required=True)
    parser.add_argument("--out", type=Path, help="file to write (default listens.<format>, or my_spotify_data.zip)")
    parser.set_defaults(func=cmd_export)


def cmd_export(args) -> int:
    from zoneinfo import ZoneInfoNotFoundError

    from listory_pipeline.progress import ProgressBar
    from listory_pipeline.settings import load_settings
    from listory_pipeline.warehouse.connection import WarehouseLockedError

    from listory_pipeline.publication.readers import has_user, prepare_read_copy

    settings = load_settings()
    source = prepare_read_copy(settings)
    if source is None:
        print(f"no warehouse at {settings.published_warehouse_path} yet: run `listory demo` or `listory crawl` first", file=sys.stderr)
        return 2
    if not has_user(source, args.user):
        print(f"unknown user {args.user!r}: no such user in the warehouse (see `listory users list`)", file=sys.stderr)
        return 2
    target = args.out or Path(_DEFAULT_NAMES[args.fmt])
    if not target.parent.is_dir():
        print(f"cannot write {target}: the folder {target.parent} does not exist", file=sys.stderr)
        return 2
    if os.path.isdir(target):  # False, not an error, for a name the system refuses: the write says why
        print(f"cannot write {target}: it is a folder; give a file name", file=sys.stderr)
        return 2
    bar = ProgressBar(f"exporting {args.user}", unit="listens" if args.fmt != "spotify-extended" else "plays")
    try:
        if args.fmt == "spotify-extended":
            from listory_pipeline.export.spotify_format import export_spotify_extended

            result = export_spotify_extended(
                source, args.user, target, first=args.first, last=args.last, progress=bar.update
            )
            summary = f"{result.extended_entries:,} entries" + (
                f" and {result.account_entries:,} plays known only by name (Account data format)" if result.account_entries else ""
            )
        else:
            from listory_pipeline.export.tabular import export_listens

            result = export_listens(
                source, args.user, target, fmt=args.fmt, first=args.first, last=args.last, progress=bar.update
            )
            summary = f"{result.listens:,} listens"
    except (ValueError, WarehouseLockedError) as exc:
        bar.close()
        print(f"export failed: {exc}", file=sys.stderr)
        return 2
    except ZoneInfoNotFoundError as exc:  # core.users holds a zone this Python's tzdata does not know
        bar.close()
        print(f"export failed: {args.user}'s time zone is unknown here ({exc.args[0]}): "
              f"set one with `listory users set-timezone {args.user} <IANA zone>`", file=sys.stderr)
        return 1
    except OSError as exc:  # the folder is not writable, the disk is full
        bar.close()
        print(f"export failed: cannot write {target}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    bar.close()
    print(f"wrote {summary} of {args.user} to {result.path} in {result.seconds:.1f} s")
    return 0
