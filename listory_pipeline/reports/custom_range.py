"""Reports for any date range, in Polars: the independent second implementation.

The dbt models compute presets set-based in SQL; these functions compute the same numbers for
an arbitrary `[start_date, end_date]` (local calendar dates, both included) with Polars, from
core.* directly. They read only what the range needs: the user's listens whose played_at lies
within the range widened by 14 hours on each side (no time zone is further than that from
UTC), and the catalog rows of those listens; the exact local-date filter happens in Polars.
The frames have the same columns as the report tables, so tests compare them one to one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path

import polars as pl

from listory_pipeline.sqlfiles import sql_file
from listory_pipeline.warehouse.connection import bind, reading_warehouse

TIMEZONE_MARGIN = timedelta(hours=14)
TIMEFRAME_INTERVALS = {"day": "1d", "week": "1w", "month": "1mo", "year": "1y"}
_SQL = sql_file(__file__, "custom_range.sql")

_TOP_COLUMNS = ["listen_count", "minutes_listened", "rank_change", "period_start", "period_end"]


@dataclass(frozen=True)
class _Range:
    user_id: str
    timezone: str
    start: date
    end: date
    listens: pl.DataFrame  # user_id, track_id, played_at, ms_played, local_date, local_hour, iso_weekday, ms_listened, album_id
    catalog: dict[str, pl.DataFrame]
    first_local_date: date | None


def _query(conn, name: str, params: dict) -> pl.DataFrame:
    sql = _SQL[name]
    # a relation exposes the Arrow C stream: Polars reads it without pyarrow
    return pl.DataFrame(conn.sql(sql, params=bind(sql, params)))


def _utc_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=timezone.utc)


def _load(
    warehouse_path: Path | str,
    user_id: str,
    start_date: date,
    end_date: date,
    *,
    default_timezone: str = "UTC",
) -> _Range:
    if end_date < start_date:
        raise ValueError(f"the range ends ({end_date}) before it starts ({start_date})")
    with reading_warehouse(Path(warehouse_path), wait_seconds=30) as conn:
        found = conn.execute(_SQL["user_timezone"], {"user_id": user_id}).fetchall()
        tz = found[0][0] if found else default_timezone
        [(first_played_at,)] = conn.execute(_SQL["first_played_at"], {"user_id": user_id}).fetchall()
        window = {
            "user_id": user_id,
            "played_from": _utc_midnight(start_date) - TIMEZONE_MARGIN,
            "played_to": _utc_midnight(end_date + timedelta(days=1)) + TIMEZONE_MARGIN,
        }
        listens = _query(conn, "listens_in_window", window)
        track_ids = listens["track_id"].unique().to_list()
        tracks = _query(conn, "tracks_by_id", {"track_ids": track_ids})
        album_ids = tracks["album_id"].drop_nulls().unique().to_list()
        albums = _query(conn, "albums_by_id", {"album_ids": album_ids})
        track_artists = _query(conn, "track_artists_by_track", {"track_ids": track_ids})
        artist_ids = track_artists["artist_id"].unique().to_list()
        artists = _query(conn, "artists_by_id", {"artist_ids": artist_ids})
        artist_genres = _query(conn, "artist_genres_by_artist", {"artist_ids": artist_ids})

    first_local_date = None
    if first_played_at is not None:
        first_local_date = first_played_at.astimezone(_zoneinfo(tz)).date()

    local = pl.col("played_at").dt.convert_time_zone(tz)
    listens = (
        listens.join(tracks.select("track_id", "duration_ms", "album_id"), on="track_id", how="left")
        .with_columns(
            local_date=local.dt.date(),
            local_hour=local.dt.hour().cast(pl.Int32),
            iso_weekday=local.dt.weekday().cast(pl.Int32),  # Polars: Monday = 1 … Sunday = 7
            ms_listened=pl.coalesce("ms_played", "duration_ms", pl.lit(0)).cast(pl.Int64),
        )
        .filter(pl.col("local_date").is_between(start_date, end_date, closed="both"))
    )
    return _Range(
        user_id=user_id,
        timezone=tz,
        start=start_date,
        end=end_date,
        listens=listens,
        catalog={
            "tracks": tracks,
            "albums": albums,
            "track_artists": track_artists,
            "artists": artists,
            "artist_genres": artist_genres,
        },
        first_local_date=first_local_date,
    )


def _zoneinfo(name: str):
    from zoneinfo import ZoneInfo

    return ZoneInfo(name)


# --- listens over time -------------------------------------------------------------------


def listens_over_time(
    warehouse_path: Path | str,
    user_id: str,
    start_date: date,
    end_date: date,
    timeframe: str = "day",
    *,
    default_timezone: str = "UTC",
) -> pl.DataFrame:
    """Every bucket from the bucket of max(start_date, first listen) to the bucket of end_date, zero-filled.

    Columns as reports.listens_report: user_id, timeframe, period_start, listen_count, minutes_listened.
    A user with no listens up to end_date gets no rows.
    """
    if timeframe not in TIMEFRAME_INTERVALS:
        raise ValueError(f"timeframe must be one of {', '.join(TIMEFRAME_INTERVALS)}, got {timeframe!r}")
    schema = {
        "user_id": pl.String,
        "timeframe": pl.String,
        "period_start": pl.Date,
        "listen_count": pl.Int64,
        "minutes_listened": pl.Float64,
    }
    data = _load(warehouse_path, user_id, start_date, end_date, default_timezone=default_timezone)
    first = data.first_local_date
    if first is None or first > end_date:
        return pl.DataFrame(schema=schema)
    effective_start = max(start_date, first)  # never from 1970: from the first listen onward
    every = TIMEFRAME_INTERVALS[timeframe]
    first_bucket = pl.Series([effective_start]).dt.truncate(every)[0]
    last_bucket = pl.Series([end_date]).dt.truncate(every)[0]
    buckets = pl.DataFrame({"period_start": pl.date_range(first_bucket, last_bucket, interval=every, eager=True)})
    totals = (
        data.listens.with_columns(period_start=pl.col("local_date").dt.truncate(every))
        .group_by("period_start")
        .agg(listen_count=pl.len().cast(pl.Int64), ms=pl.col("ms_listened").sum())
    )
    return (
        buckets.join(totals, on="period_start", how="left")
        .with_columns(
            user_id=pl.lit(user_id),
            timeframe=pl.lit(timeframe),
            listen_count=pl.col("listen_count").fill_null(0),
            minutes_listened=pl.col("ms").fill_null(0).cast(pl.Float64) / 60000.0,
        )
        .select(list(schema))
        .cast(schema)
        .sort("period_start")
    )


# --- top lists ----------------------------------------------------------------------------


def _credits(data: _Range, entity: str) -> pl.DataFrame:
    """One row per listen and credited entity, with the entity's id and name columns."""
    listens = data.listens.with_row_index("listen_index")
    cat = data.catalog
    if entity == "tracks":
        return listens.join(cat["tracks"].select("track_id", "track_name"), on="track_id", how="left")
    if entity == "albums":
        return listens.filter(pl.col("album_id").is_not_null()).join(cat["albums"], on="album_id", how="left")
    if entity == "artists":
        return listens.join(cat["track_artists"], on="track_id", how="inner").join(
            cat["artists"], on="artist_id", how="left"
        )
    if entity == "genres":
        genres = (
            cat["track_artists"].join(cat["artist_genres"], on="artist_id", how="inner").select("track_id", "genre").unique()
        )
        return listens.join(genres, on="track_id", how="inner")
    raise ValueError(entity)


_ENTITY_COLUMNS = {
    "tracks": ("track_id", "track_name"),
    "albums": ("album_id", "album_name"),
    "artists": ("artist_id", "artist_name"),
    "genres": ("genre", "genre"),
}


def _ranked(credits: pl.DataFrame, id_col: str, name_col: str, partition: list[str] | None = None) -> pl.DataFrame:
    keys = [id_col] if id_col == name_col else [id_col, name_col]
    partition = partition or []
    totals = credits.group_by([*partition, *keys]).agg(
        listen_count=pl.len().cast(pl.Int64), ms=pl.col("ms_listened").sum().cast(pl.Int64)
    )
    ordered = totals.sort(
        [*partition, "listen_count", name_col, id_col],
        descending=[False] * len(partition) + [True, False, False],
        nulls_last=True,
    )
    rank = pl.int_range(1, pl.len() + 1, dtype=pl.Int64)
    return ordered.with_columns(rank=rank.over(partition) if partition else rank)


def _top(
    entity: str,
    warehouse_path: Path | str,
    user_id: str,
    start_date: date,
    end_date: date,
    *,
    compare_previous: bool,
    time_preset: str,
    default_timezone: str,
) -> pl.DataFrame:
    id_col, name_col = _ENTITY_COLUMNS[entity]
    days = (end_date - start_date).days + 1
    previous_start = start_date - timedelta(days=days)
    data = _load(
        warehouse_path, user_id, previous_start if compare_previous else start_date, end_date, default_timezone=default_timezone
    )
    credits = _credits(data, entity)
    current = _ranked(credits.filter(pl.col("local_date") >= start_date), id_col, name_col)
    if compare_previous:
        previous = _ranked(credits.filter(pl.col("local_date") < start_date), id_col, name_col).select(
            id_col, previous_rank="rank"
        )
        current = current.join(previous, on=id_col, how="left").with_columns(
            rank_change=pl.col("previous_rank") - pl.col("rank")
        )
    else:
        current = current.with_columns(rank_change=pl.lit(None, dtype=pl.Int64))
    names = [id_col] if id_col == name_col else [id_col, name_col]
    return (
        current.with_columns(
            user_id=pl.lit(user_id),
            time_preset=pl.lit(time_preset),
            minutes_listened=pl.col("ms").cast(pl.Float64) / 60000.0,
            period_start=pl.lit(start_date),
            period_end=pl.lit(end_date),
        )
        .select("user_id", "time_preset", "rank", *names, *_TOP_COLUMNS)
        .with_columns(pl.col("rank_change").cast(pl.Int64))
        .sort("rank")
    )


def _top_function(entity: str):
    def top(
        warehouse_path: Path | str,
        user_id: str,
        start_date: date,
        end_date: date,
        *,
        compare_previous: bool = True,
        time_preset: str = "custom",
        default_timezone: str = "UTC",
    ) -> pl.DataFrame:
        return _top(
            entity,
            warehouse_path,
            user_id,
            start_date,
            end_date,
            compare_previous=compare_previous,
            time_preset=time_preset,
            default_timezone=default_timezone,
        )

    id_col, name_col = _ENTITY_COLUMNS[entity]
    top.__name__ = f"top_{entity}"
    top.__doc__ = (
        f"The full ranking of {entity} for local dates start_date..end_date (columns as reports.top_{entity}).\n\n"
        f"Ordered by listen_count, ties by {name_col} then {id_col}. rank_change compares with the "
        "equal-length period just before (null: not ranked then); compare_previous=False leaves it null."
    )
    return top


top_artists = _top_function("artists")
top_albums = _top_function("albums")
top_tracks = _top_function("tracks")
top_genres = _top_function("genres")


def top_genre_artists(
    warehouse_path: Path | str,
    user_id: str,
    start_date: date,
    end_date: date,
    *,
    time_preset: str = "custom",
    limit: int = 5,
    default_timezone: str = "UTC",
) -> pl.DataFrame:
    """The top `limit` artists within each genre (a listen counts for (genre, artist) when the artist has it)."""
    data = _load(warehouse_path, user_id, start_date, end_date, default_timezone=default_timezone)
    cat = data.catalog
    credits = (
        data.listens.join(cat["track_artists"], on="track_id", how="inner")
        .join(cat["artist_genres"], on="artist_id", how="inner")
        .join(cat["artists"], on="artist_id", how="left")
    )
    ranked = _ranked(credits, "artist_id", "artist_name", partition=["genre"]).filter(pl.col("rank") <= limit)
    return (
        ranked.with_columns(
            user_id=pl.lit(user_id),
            time_preset=pl.lit(time_preset),
            minutes_listened=pl.col("ms").cast(pl.Float64) / 60000.0,
            period_start=pl.lit(start_date),
            period_end=pl.lit(end_date),
        )
        .select(
            "user_id", "time_preset", "genre", "rank", "artist_id", "artist_name",
            "listen_count", "minutes_listened", "period_start", "period_end",
        )
        .sort("genre", "rank")
    )


def listening_clock(
    warehouse_path: Path | str,
    user_id: str,
    start_date: date,
    end_date: date,
    *,
    time_preset: str = "custom",
    default_timezone: str = "UTC",
) -> pl.DataFrame:
    """Listens by ISO weekday (Monday = 1) and local hour, all 168 cells, zero-filled."""
    data = _load(warehouse_path, user_id, start_date, end_date, default_timezone=default_timezone)
    grid = pl.DataFrame({"iso_weekday": pl.int_range(1, 8, eager=True, dtype=pl.Int32)}).join(
        pl.DataFrame({"local_hour": pl.int_range(0, 24, eager=True, dtype=pl.Int32)}), how="cross"
    )
    counts = data.listens.group_by("iso_weekday", "local_hour").agg(
        listen_count=pl.len().cast(pl.Int64), ms=pl.col("ms_listened").sum()
    )
    return (
        grid.join(counts, on=["iso_weekday", "local_hour"], how="left")
        .with_columns(
            user_id=pl.lit(user_id),
            time_preset=pl.lit(time_preset),
            listen_count=pl.col("listen_count").fill_null(0),
            minutes_listened=pl.col("ms").fill_null(0).cast(pl.Float64) / 60000.0,
            period_start=pl.lit(start_date),
            period_end=pl.lit(end_date),
        )
        .select(
            "user_id", "time_preset", "iso_weekday", "local_hour", "listen_count", "minutes_listened",
            "period_start", "period_end",
        )
        .sort("iso_weekday", "local_hour")
    )


def preset_range(time_preset: str, as_of: date, first_local_date: date | None) -> tuple[date, date]:
    """The local dates a preset covers on `as_of` (all_time: from the first listen)."""
    from listory_pipeline.reports.project import TIME_PRESETS

    days = TIME_PRESETS[time_preset]
    if days is None:
        return (first_local_date or as_of), as_of
    return as_of - timedelta(days=days - 1), as_of
