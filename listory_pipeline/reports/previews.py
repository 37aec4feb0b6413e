"""Per-user markdown previews of the built reports: a listens-over-time chart and top-10 lists.

The chart uses the finest timeframe that fits in `MAX_BARS` buckets (days for a young
history, then weeks, months, years), so it always spans the whole history from the first listen.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from listory_pipeline.reports.charts import bar_chart_png, markdown_table, png_data_uri
from listory_pipeline.sqlfiles import sql_file
from listory_pipeline.warehouse.connection import bind, reading_warehouse

MAX_BARS = 120
TOP_LISTS = ("top_artists", "top_albums", "top_tracks", "top_genres")
_SQL = sql_file(__file__, "previews.sql")


@dataclass(frozen=True)
class UserPreview:
    user_id: str
    timeframe: str
    buckets: int
    listens: int
    markdown: str


def _fetch(conn, name: str, params: dict | None = None) -> list[tuple]:
    sql = _SQL[name]
    return conn.execute(sql, bind(sql, params or {})).fetchall()


def chart_timeframe(bucket_counts: dict[str, int]) -> str:
    for timeframe in ("day", "week", "month", "year"):
        if 0 < bucket_counts.get(timeframe, 0) <= MAX_BARS:
            return timeframe
    return "year"


def user_previews(warehouse_path: Path, *, time_preset: str = "last_30_days", top_n: int = 10, max_users: int = 25) -> list[UserPreview]:
    with reading_warehouse(warehouse_path, wait_seconds=60) as conn:
        users = [u for (u,) in _fetch(conn, "report_users")][:max_users]
        previews = []
        for user_id in users:
            counts = dict(_fetch(conn, "bucket_counts", {"user_id": user_id}))
            timeframe = chart_timeframe(counts)
            series = _fetch(conn, "listens_series", {"user_id": user_id, "timeframe": timeframe})
            values = [count for _, count, _ in series]
            png = bar_chart_png(values)
            parts = [
                f"### {user_id}: listens per {timeframe}, {series[0][0]} to {series[-1][0]}",
                f"![listens per {timeframe}]({png_data_uri(png)})",
                f"{sum(values):,} listens, {sum(m for _, _, m in series):,.0f} minutes.",
            ]
            for report in TOP_LISTS:
                found = _fetch(conn, report, {"user_id": user_id, "time_preset": time_preset, "top_n": top_n})
                parts.append(f"#### {report.replace('_', ' ')} ({time_preset.replace('_', ' ')})")
                parts.append(
                    markdown_table(["#", "name", "listens", "minutes", "change"], [(r, n, c, m, _change(ch)) for r, n, c, m, ch in found])
                    if found
                    else "_no listens in this period_"
                )
            previews.append(UserPreview(user_id, timeframe, len(series), sum(values), "\n\n".join(parts)))
        return previews


def _change(rank_change: int | None) -> str:
    if rank_change is None:
        return "new"
    return f"+{rank_change}" if rank_change > 0 else ("=" if rank_change == 0 else str(rank_change))
