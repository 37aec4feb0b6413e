"""The second implementation: Polars custom ranges equal the dbt report tables on a large random history.

50,000 plays of 3 users (America/New_York and Europe/Berlin with DST, Asia/Kolkata at +05:30),
duets, genre-less artists, repeated names (ties), null ms_played, plays after the as-of date.
Every preset, every timeframe, every top list, top_genre_artists and listening_clock.
"""

from __future__ import annotations

from datetime import date

import duckdb
import polars as pl
import pytest

from listory_pipeline.reports import custom_range
from listory_pipeline.reports.project import TIME_PRESETS, TIMEFRAMES
from tests.unit.reports.builders import random_catalog, seed

AS_OF = date(2026, 3, 15)
USERS = [("u_newyork", "America/New_York"), ("u_berlin", "Europe/Berlin"), ("u_kolkata", "Asia/Kolkata")]
TOP_TABLES = {
    "top_artists": ("artist_id", "artist_name"),
    "top_albums": ("album_id", "album_name"),
    "top_tracks": ("track_id", "track_name"),
    "top_genres": ("genre",),
}


@pytest.fixture(scope="module")
def random_warehouse(tmp_path_factory):
    from listory_pipeline.reports.build import build_reports
    from listory_pipeline.settings import load_settings

    settings = load_settings({"LISTORY_HOME": str(tmp_path_factory.mktemp("random_history"))})
    seed(settings.warehouse_path, random_catalog(7, 50_000, USERS, date(2024, 6, 1), date(2026, 3, 31)))
    result = build_reports(settings, AS_OF)
    assert result.success, result.failures
    conn = duckdb.connect(str(settings.warehouse_path), read_only=True)
    tables = {
        name: pl.DataFrame(conn.sql(f"select * from reports.{name}"))
        for name in [*TOP_TABLES, "listens_report", "top_genre_artists", "listening_clock"]
    }
    first = dict(conn.execute("select user_id, min(local_date) from marts.int_listens__localized group by 1").fetchall())
    conn.close()
    return settings, tables, first


def _rows(frame: pl.DataFrame, columns: list[str]) -> list[tuple]:
    return [
        tuple(round(v, 6) if isinstance(v, float) else v for v in row) for row in frame.select(columns).rows()
    ]


def test_the_history_is_large_and_reaches_past_the_as_of_date(random_warehouse):
    settings, tables, _ = random_warehouse
    conn = duckdb.connect(str(settings.warehouse_path), read_only=True)
    assert conn.execute("select count(*) from core.listens").fetchall() == [(50_000,)]
    conn.close()
    assert tables["listens_report"].filter(pl.col("period_start") > AS_OF).is_empty()
    # the comparison below is not vacuous: climbers, fallers and new entries all occur
    changes = tables["top_artists"].filter(pl.col("time_preset") != "all_time")["rank_change"]
    assert (changes > 0).sum() > 0 and (changes < 0).sum() > 0 and changes.null_count() > 0


@pytest.mark.parametrize("user_id", [u for u, _ in USERS])
@pytest.mark.parametrize("timeframe", TIMEFRAMES)
def test_listens_over_time(random_warehouse, user_id, timeframe):
    settings, tables, _ = random_warehouse
    expected = tables["listens_report"].filter(pl.col("user_id") == user_id, pl.col("timeframe") == timeframe).sort("period_start")
    found = custom_range.listens_over_time(settings.warehouse_path, user_id, date(1970, 1, 1), AS_OF, timeframe)
    columns = ["user_id", "timeframe", "period_start", "listen_count", "minutes_listened"]
    assert len(expected) > 0
    assert _rows(found, columns) == _rows(expected, columns)


@pytest.mark.parametrize("user_id", [u for u, _ in USERS])
@pytest.mark.parametrize("preset", list(TIME_PRESETS))
def test_top_lists(random_warehouse, user_id, preset):
    settings, tables, first = random_warehouse
    start, end = custom_range.preset_range(preset, AS_OF, first[user_id])
    for table, names in TOP_TABLES.items():
        expected = tables[table].filter(pl.col("user_id") == user_id, pl.col("time_preset") == preset).sort("rank")
        found = getattr(custom_range, table)(
            settings.warehouse_path, user_id, start, end, compare_previous=preset != "all_time", time_preset=preset
        )
        columns = [
            "user_id", "time_preset", "rank", *dict.fromkeys(names), "listen_count", "minutes_listened",
            "rank_change", "period_start", "period_end",
        ]
        assert list(found.columns) == columns
        assert len(expected) > 0, (table, preset)
        assert _rows(found, columns) == _rows(expected, columns), (table, preset)


@pytest.mark.parametrize("user_id", [u for u, _ in USERS])
@pytest.mark.parametrize("preset", ["last_30_days", "all_time"])
def test_genre_artists_and_clock(random_warehouse, user_id, preset):
    settings, tables, first = random_warehouse
    start, end = custom_range.preset_range(preset, AS_OF, first[user_id])
    expected = tables["top_genre_artists"].filter(pl.col("user_id") == user_id, pl.col("time_preset") == preset)
    found = custom_range.top_genre_artists(settings.warehouse_path, user_id, start, end, time_preset=preset)
    columns = list(found.columns)
    assert _rows(found.sort("genre", "rank"), columns) == _rows(expected.sort("genre", "rank"), columns)
    expected = tables["listening_clock"].filter(pl.col("user_id") == user_id, pl.col("time_preset") == preset)
    found = custom_range.listening_clock(settings.warehouse_path, user_id, start, end, time_preset=preset)
    columns = list(found.columns)
    assert _rows(found, columns) == _rows(expected.sort("iso_weekday", "local_hour"), columns)
