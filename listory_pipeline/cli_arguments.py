"""Argument types shared by the `listory` subcommands: a bad value is a usage error, never a traceback."""

from __future__ import annotations

import argparse
from datetime import date

# Local dates become instants in every time zone; far outside these years Python's datetime
# arithmetic overflows (year 1 minus an offset), and no play is older than Spotify.
EARLIEST_DATE = date(1900, 1, 1)
LATEST_DATE = date(2199, 12, 31)


def date_argument(text: str) -> date:
    """YYYY-MM-DD within EARLIEST_DATE..LATEST_DATE."""
    try:
        value = date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected YYYY-MM-DD, got {text!r}") from exc
    if not EARLIEST_DATE <= value <= LATEST_DATE:
        raise argparse.ArgumentTypeError(f"{text} is outside {EARLIEST_DATE} .. {LATEST_DATE}")
    return value


def non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from exc
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def port_number(text: str) -> int:
    """A TCP port; 0 lets the system choose."""
    value = non_negative_int(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"a port is 0 to 65535, got {value}")
    return value
