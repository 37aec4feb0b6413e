"""Where the dbt project is and what every dbt invocation is told.

Python and dbt must write the same DuckDB file: every invocation passes the resolved
`settings.warehouse_path` as the dbt var `warehouse_path`, which `dbt_project/profiles.yml`
reads (its env-var defaults only serve a hand-run `dbt parse`).
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from listory_pipeline.settings import Settings

DBT_PROJECT_DIR = Path(__file__).resolve().parents[2] / "dbt_project"

# The report tables of the public contract and the dbt models that build them.
REPORT_TABLES = {
    "listens_report": "rpt_listens_report",
    "top_artists": "rpt_top_artists",
    "top_albums": "rpt_top_albums",
    "top_tracks": "rpt_top_tracks",
    "top_genres": "rpt_top_genres",
    "top_genre_artists": "rpt_top_genre_artists",
    "listening_clock": "rpt_listening_clock",
}
REPORT_VIEWS = {"recent_listens": "rpt_recent_listens"}

TIME_PRESETS = {
    "last_7_days": 7,
    "last_30_days": 30,
    "last_90_days": 90,
    "last_180_days": 180,
    "last_365_days": 365,
    "all_time": None,
}
TIMEFRAMES = ("day", "week", "month", "year")


def parse_as_of(text: str | None) -> date | None:
    """`YYYY-MM-DD` → date; None or empty → None (each user's local today)."""
    if text is None or text == "":
        return None
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise ValueError(f"as-of date must be YYYY-MM-DD, got {text!r}") from exc


def dbt_vars(settings: Settings, as_of: date | None) -> dict[str, str | None]:
    """The vars of one report build: which file, which as-of date, which default time zone."""
    return {
        "warehouse_path": str(settings.warehouse_path),
        "as_of": as_of.isoformat() if as_of else None,
        "default_timezone": settings.default_timezone,
    }


def dbt_vars_arg(settings: Settings, as_of: date | None) -> list[str]:
    return ["--vars", json.dumps(dbt_vars(settings, as_of))]
