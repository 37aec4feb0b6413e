"""Report tables on hand-built listens, every expected number worked out by hand.

The warehouse (tests/unit/reports/conftest.py) is built once by dbt as of Monday 2027-01-04.
Where a test is parametrised over `impl`, the same answer is also demanded from the Polars
custom-range implementation for the preset's date range.
"""

from __future__ import annotations

from datetime import date, timedelta

import duckdb
import pytest

from listory_pipeline.reports import custom_range
from listory_pipeline.reports.project import REPORT_TABLES
from tests.unit.reports.hand_built import AS_OF

IMPLEMENTATIONS = ["dbt", "polars"]


def rows(settings, sql: str, params=None) -> list[tuple]:
    conn = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        return conn.execute(sql, params or []).fetchall()
    finally:
        conn.close()


def listens_report(settings, impl: str, user_id: str, timeframe: str) -> dict[date, tuple[int, float]]:
    if impl == "dbt":
        found = rows(
            settings,
            "select period_start, listen_count, minutes_listened from reports.listens_report "
            "where user_id = ? and timeframe = ? order by period_start",
            [user_id, timeframe],
        )
    else:
        frame = custom_range.listens_over_time(settings.warehouse_path, user_id, date(1970, 1, 1), AS_OF, timeframe)
        found = frame.select("period_start", "listen_count", "minutes_listened").rows()
    return {period: (count, minutes) for period, count, minutes in found}


ENTITY = {
    "top_tracks": ("track_id", "track_name"),
    "top_albums": ("album_id", "album_name"),
    "top_artists": ("artist_id", "artist_name"),
    "top_genres": ("genre", "genre"),
}


def top(settings, impl: str, table: str, user_id: str, preset: str) -> list[tuple]:
    """(rank, id, listen_count, minutes_listened, rank_change) in rank order."""
    id_col, _ = ENTITY[table]
    if impl == "dbt":
        return rows(
            settings,
            f"select rank, {id_col}, listen_count, minutes_listened, rank_change from reports.{table} "
            "where user_id = ? and time_preset = ? order by rank",
            [user_id, preset],
        )
    days = {"last_7_days": 7, "last_30_days": 30, "all_time": None}[preset]
    start = AS_OF - timedelta(days=days - 1) if days else date(1970, 1, 1)
    function = getattr(custom_range, table)
    frame = function(settings.warehouse_path, user_id, start, AS_OF, compare_previous=days is not None)
    return frame.select("rank", id_col, "listen_count", "minutes_listened", "rank_change").rows()


def test_build_reports_every_table(hand_built_warehouse):
    _, result = hand_built_warehouse
    assert set(result.row_counts) == set(REPORT_TABLES)
    assert result.row_counts["listens_report"] > 0
    assert result.node_counts.get("pass", 0) > 50  # data tests and unit tests ran


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_berlin_days_across_both_dst_changes(hand_built_warehouse, impl):
    settings, _ = hand_built_warehouse
    days = listens_report(settings, impl, "berlin", "day")
    # 2026-03-29: 00:30 CET, 01:59 CET, 03:00 CEST (t1, t1, t2: 3 + 3 + 4 minutes)
    assert days[date(2026, 3, 29)] == (3, 10.0)
    assert days[date(2026, 3, 30)] == (1, 4.0)  # 22:30 UTC is already 00:30 CEST
    assert days[date(2026, 10, 25)] == (3, 6.0)  # 02:30 CEST, 02:30 CET, 23:59 CET
    assert days[date(2026, 10, 26)] == (1, 2.0)  # 23:00 UTC is 00:00 CET
    assert days[date(2026, 10, 24)] == (0, 0.0)
    # every day from the first listen's day through the as-of date, nothing before, nothing after
    assert min(days) == date(2026, 3, 29) and max(days) == AS_OF
    assert len(days) == (AS_OF - date(2026, 3, 29)).days + 1
    assert sum(count for count, _ in days.values()) == 8


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_new_york_days_and_weeks_across_dst(hand_built_warehouse, impl):
    settings, _ = hand_built_warehouse
    days = listens_report(settings, impl, "newyork", "day")
    assert [days[date(2026, 3, d)][0] for d in (7, 8, 9)] == [1, 2, 1]
    # 00:00 EDT, 01:30 EDT, 01:30 EST, 23:59 EST: four plays on the 25-hour day
    assert days[date(2026, 11, 1)][0] == 4
    assert days[date(2026, 11, 2)][0] == 1
    weeks = listens_report(settings, impl, "newyork", "week")
    assert weeks[date(2026, 3, 2)][0] == 3  # Mon 03-02 .. Sun 03-08
    assert weeks[date(2026, 3, 9)][0] == 1
    assert weeks[date(2026, 10, 26)][0] == 4  # Sun 11-01 belongs to the week of Mon 10-26
    assert weeks[date(2026, 11, 2)][0] == 1
    assert min(weeks) == date(2026, 3, 2) and max(weeks) == date(2027, 1, 4)
    assert all(d.isoweekday() == 1 for d in weeks)
    assert len(weeks) == (date(2027, 1, 4) - date(2026, 3, 2)).days // 7 + 1


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_tokyo_buckets_across_the_year_end(hand_built_warehouse, impl):
    settings, _ = hand_built_warehouse
    weeks = listens_report(settings, impl, "tokyo", "week")
    # ISO 2026-W52 (Mon 12-21), 2026-W53 (Mon 12-28, through Sun 2027-01-03), 2027-W01 (Mon 01-04)
    assert {d: c for d, (c, _) in weeks.items()} == {date(2026, 12, 21): 2, date(2026, 12, 28): 5, date(2027, 1, 4): 1}
    months = listens_report(settings, impl, "tokyo", "month")
    assert {d: c for d, (c, _) in months.items()} == {date(2026, 12, 1): 5, date(2027, 1, 1): 3}
    years = listens_report(settings, impl, "tokyo", "year")
    assert {d: c for d, (c, _) in years.items()} == {date(2026, 1, 1): 5, date(2027, 1, 1): 3}
    days = listens_report(settings, impl, "tokyo", "day")
    assert min(days) == date(2026, 12, 24) and max(days) == AS_OF and len(days) == 12
    # 12-28 23:59:59 JST is 12-28 UTC too; 12-29 00:00 JST is still 12-28 in UTC but local 12-29
    assert days[date(2026, 12, 28)] == (1, 2.0)
    assert days[date(2026, 12, 29)] == (1, 3.0)
    assert days[date(2026, 12, 30)] == (0, 0.0)
    assert days[date(2027, 1, 4)] == (1, 1.0)  # the 2027-01-05 00:00 play is after the as-of date


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_top_tracks_ties_by_name_and_rank_change(hand_built_warehouse, impl):
    settings, _ = hand_built_warehouse
    # last 7 days: t1 twice (3 + 0.5 min), t2 twice (4 + 1 min), t3 once; previous: t3 twice, t2 once
    assert top(settings, impl, "top_tracks", "tokyo", "last_7_days") == [
        (1, "t1", 2, 3.5, None),  # 'Song One' < 'Song Two'; new
        (2, "t2", 2, 5.0, 0),
        (3, "t3", 1, 2.0, -2),
    ]
    # all time: t2 3, t3 3 ('Song Three' < 'Song Two'), t1 2; rank_change always null
    assert top(settings, impl, "top_tracks", "tokyo", "all_time") == [
        (1, "t3", 3, 6.0, None),
        (2, "t2", 3, 9.0, None),
        (3, "t1", 2, 3.5, None),
    ]


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_top_artists_count_duets_once_per_artist(hand_built_warehouse, impl):
    settings, _ = hand_built_warehouse
    # a1 and a2 share the duet t1 (2 plays each); a3 'Alpha' ties a1 'Alpha' on name: id decides
    assert top(settings, impl, "top_artists", "tokyo", "last_7_days") == [
        (1, "a1", 2, 3.5, None),
        (2, "a3", 2, 5.0, 0),
        (3, "a2", 2, 3.5, None),
        (4, "a4", 1, 2.0, -3),
    ]


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_top_albums(hand_built_warehouse, impl):
    settings, _ = hand_built_warehouse
    assert top(settings, impl, "top_albums", "tokyo", "last_7_days") == [
        (1, "al1", 3, 5.5, 0),
        (2, "al2", 2, 5.0, 0),
    ]


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_top_genres_count_a_listen_once_per_distinct_genre(hand_built_warehouse, impl):
    settings, _ = hand_built_warehouse
    # t1's artists are both 'rock': rock counts each t1 play once; t2's artist has no genre
    assert top(settings, impl, "top_genres", "tokyo", "last_7_days") == [
        (1, "pop", 2, 3.5, None),
        (2, "rock", 2, 3.5, None),
        (3, "jazz", 1, 2.0, -2),
    ]


def test_top_genre_artists(hand_built_warehouse):
    settings, _ = hand_built_warehouse
    expected = [
        ("jazz", 1, "a4", 1),
        ("pop", 1, "a1", 2),
        ("rock", 1, "a1", 2),  # Alpha before Beta on the tie
        ("rock", 2, "a2", 2),
    ]
    found = rows(
        settings,
        "select genre, rank, artist_id, listen_count from reports.top_genre_artists "
        "where user_id = 'tokyo' and time_preset = 'last_7_days' order by genre, rank",
    )
    assert found == expected
    polars = custom_range.top_genre_artists(settings.warehouse_path, "tokyo", date(2026, 12, 29), AS_OF)
    assert polars.select("genre", "rank", "artist_id", "listen_count").rows() == expected


def test_presets_include_their_first_and_last_day(hand_built_warehouse):
    settings, _ = hand_built_warehouse
    found = rows(
        settings,
        "select period_start, period_end, sum(listen_count) from reports.top_tracks "
        "where user_id = 'tokyo' and time_preset = 'last_7_days' group by all",
    )
    assert found == [(date(2026, 12, 29), AS_OF, 5)]


def test_listening_clock_uses_local_wall_clock(hand_built_warehouse):
    settings, _ = hand_built_warehouse
    clock = {
        (weekday, hour): count
        for weekday, hour, count in rows(
            settings,
            "select iso_weekday, local_hour, listen_count from reports.listening_clock "
            "where user_id = 'berlin' and time_preset = 'all_time'",
        )
    }
    assert len(clock) == 168
    assert clock[(7, 0)] == 1 and clock[(7, 1)] == 1 and clock[(7, 3)] == 1  # 2026-03-29, a Sunday
    assert clock[(7, 2)] == 2  # 02:30 twice on 2026-10-25; 02:xx never happened on 03-29
    assert clock[(7, 23)] == 1
    assert clock[(1, 0)] == 2  # Monday 00:30 CEST and Monday 00:00 CET
    assert sum(clock.values()) == 8
    # a preset without plays still has its 168 zero cells
    assert rows(
        settings,
        "select count(*), sum(listen_count) from reports.listening_clock "
        "where user_id = 'berlin' and time_preset = 'last_7_days'",
    ) == [(168, 0)]
    polars = custom_range.listening_clock(settings.warehouse_path, "berlin", date(1970, 1, 1), AS_OF)
    assert {(w, h): c for w, h, c in polars.select("iso_weekday", "local_hour", "listen_count").rows()} == clock


def test_a_user_without_listens_has_no_rows(hand_built_warehouse):
    settings, _ = hand_built_warehouse
    for table in REPORT_TABLES:
        assert rows(settings, f"select count(*) from reports.{table} where user_id = 'empty'") == [(0,)]
    assert custom_range.listens_over_time(settings.warehouse_path, "empty", date(2026, 1, 1), AS_OF).is_empty()
    assert custom_range.top_artists(settings.warehouse_path, "empty", date(2026, 1, 1), AS_OF).is_empty()
    assert custom_range.listens_over_time(settings.warehouse_path, "nobody", date(2026, 1, 1), AS_OF).is_empty()


def test_a_preset_with_no_plays_has_no_top_rows(hand_built_warehouse):
    settings, _ = hand_built_warehouse
    assert rows(settings, "select count(*) from reports.top_artists where user_id = 'berlin' and time_preset = 'last_7_days'") == [(0,)]
    assert rows(settings, "select count(*) from reports.top_artists where user_id = 'berlin' and time_preset = 'last_365_days'") == [(4,)]


def test_recent_listens_newest_first_with_names(hand_built_warehouse):
    settings, _ = hand_built_warehouse
    newest = rows(
        settings,
        "select user_id, track_name, artist_names, album_name, ms_listened from reports.recent_listens limit 2",
    )
    # live, not as-of: the play after the as-of date is the newest
    assert newest == [("tokyo", "Song One", "Alpha, Beta", "Album X", 1000), ("tokyo", "Song Two", "Alpha", "Album Y", 60000)]


def test_custom_range_reads_only_the_range(hand_built_warehouse):
    settings, _ = hand_built_warehouse
    # one day in Tokyo: the ±14 h window reads 2026-12-28 10:00 UTC .. 2026-12-30 14:00 UTC,
    # then Polars keeps only the plays of local 2026-12-29
    frame = custom_range.top_tracks(settings.warehouse_path, "tokyo", date(2026, 12, 29), date(2026, 12, 29), compare_previous=False)
    assert frame.select("track_id", "listen_count").rows() == [("t1", 1)]
    with pytest.raises(ValueError):
        custom_range.top_tracks(settings.warehouse_path, "tokyo", date(2027, 1, 2), date(2027, 1, 1))
