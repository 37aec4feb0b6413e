"""Where the dbt project is and what every dbt invocation is told.

Python and dbt must write the same DuckDB file, and a build must not make dbt re-parse the
project. So nothing per build travels as a dbt var (dbt discards its partial-parse state when
`--vars` change: a full re-parse of every file, seconds on every build). Instead every
invocation gets environment variables:

- `LISTORY_WAREHOUSE_PATH`: the resolved `settings.warehouse_path`, read by
  `dbt_project/profiles.yml` (constant per deployment, so the profile hash stays the same);
- `LISTORY_REPORTS_AS_OF`: the as-of date or empty, and `LISTORY_DEFAULT_TIMEZONE`; the
  macros read both only when a node runs (`execute`), never while dbt parses, so dbt's
  partial parsing does not track them and a new as-of date re-parses nothing.

Artifacts go to one stable target folder per home (`LISTORY_HOME/dbt-target`), so
`partial_parse.msgpack` from the previous build is there for the next one.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
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


AS_OF_ENV = "LISTORY_REPORTS_AS_OF"
WAREHOUSE_ENV = "LISTORY_WAREHOUSE_PATH"
DEFAULT_TIMEZONE_ENV = "LISTORY_DEFAULT_TIMEZONE"


def dbt_env(settings: Settings, as_of: date | None) -> dict[str, str]:
    """The environment of one report build: which file, which as-of date, which default time zone."""
    return {
        WAREHOUSE_ENV: str(settings.warehouse_path),
        AS_OF_ENV: as_of.isoformat() if as_of else "",
        DEFAULT_TIMEZONE_ENV: settings.default_timezone,
    }


def dbt_target_path(settings: Settings) -> Path:
    """One target folder per home: dbt's partial-parse state survives from build to build."""
    return settings.home / "dbt-target"


def prepare_target_path(settings: Settings) -> Path:
    """The target folder, created if missing."""
    target = dbt_target_path(settings)
    target.mkdir(parents=True, exist_ok=True)
    return target


_ENV_LOCK = threading.Lock()


@contextmanager
def dbt_environment(settings: Settings, as_of: date | None) -> Iterator[dict[str, str]]:
    """Set `dbt_env(...)` in os.environ for one dbt invocation, then restore what was there.

    dbt runs in this process (reports/dbt_runner.py) and reads them while it runs: the profile
    when the invocation starts, the macros as each node runs.
    """
    values = dbt_env(settings, as_of)
    with _ENV_LOCK:
        saved = {name: os.environ.get(name) for name in values}
        os.environ.update(values)
        try:
            yield values
        finally:
            for name, old in saved.items():
                if old is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = old
