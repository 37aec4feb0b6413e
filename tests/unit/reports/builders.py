"""Seed a warehouse file with hand-written or generated core rows (shared by report tests)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import polars as pl

from listory_pipeline.warehouse.connection import open_warehouse

NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)


@dataclass
class Catalog:
    users: list[tuple[str, str]] = field(default_factory=list)  # (user_id, timezone)
    artists: list[tuple[str, str, list[str]]] = field(default_factory=list)  # (id, name, genres)
    albums: list[tuple[str, str]] = field(default_factory=list)  # (id, name)
    tracks: list[tuple[str, str, int, str | None, list[str]]] = field(default_factory=list)  # (id, name, duration_ms, album_id, artist_ids)
    listens: list[tuple[str, str, datetime, int | None]] = field(default_factory=list)  # (user, track, played_at aware, ms_played)


class ArrowStream:
    """Hands a Polars frame to DuckDB through the Arrow C stream (no pyarrow needed)."""

    def __init__(self, frame: pl.DataFrame) -> None:
        self.frame = frame

    def __arrow_c_stream__(self, requested_schema=None):
        return self.frame.__arrow_c_stream__(requested_schema)


def seed(path: Path, catalog: Catalog) -> Path:
    """Create (migrate) the warehouse at `path` and insert the catalog's rows directly."""
    listens = pl.DataFrame(
        {
            "user_id": [u for u, _, _, _ in catalog.listens],
            "played_at": [p.astimezone(timezone.utc) for _, _, p, _ in catalog.listens],
            "track_id": [t for _, t, _, _ in catalog.listens],
            "ms_played": [m for _, _, _, m in catalog.listens],
        },
        schema={"user_id": pl.String, "played_at": pl.Datetime("us", "UTC"), "track_id": pl.String, "ms_played": pl.Int64},
    )
    with open_warehouse(path) as warehouse:
        conn = warehouse.conn
        conn.executemany(
            "insert into core.users values (?, ?, ?, 'active', ?)", [(u, u, tz, NOW) for u, tz in catalog.users]
        )
        conn.executemany("insert into core.artists (artist_id, name, genres_status, first_seen_at, updated_at) values (?, ?, 'found', ?, ?)",
                         [(a, n, NOW, NOW) for a, n, _ in catalog.artists])
        conn.executemany("insert into core.artist_genres values (?, ?)", [(a, g) for a, _, gs in catalog.artists for g in gs])
        conn.executemany("insert into core.albums (album_id, name, first_seen_at, updated_at) values (?, ?, ?, ?)",
                         [(a, n, NOW, NOW) for a, n in catalog.albums])
        conn.executemany(
            "insert into core.tracks (track_id, name, duration_ms, album_id, first_seen_at, updated_at) values (?, ?, ?, ?, ?, ?)",
            [(t, n, d, al, NOW, NOW) for t, n, d, al, _ in catalog.tracks],
        )
        conn.executemany(
            "insert into core.track_artists values (?, ?, ?)",
            [(t, a, i) for t, _, _, _, artists in catalog.tracks for i, a in enumerate(artists)],
        )
        conn.register("seed_listens", ArrowStream(listens))
        conn.execute(
            """
            insert into core.listens (user_id, played_at, track_id, source, ms_played, loaded_at)
            select user_id, played_at, track_id,
                   case when ms_played is null then 'recently_played' else 'extended_history' end,
                   ms_played, now()
            from seed_listens
            """
        )
        conn.unregister("seed_listens")
    return path


def random_catalog(seed_value: int, plays: int, users: list[tuple[str, str]], start: date, end: date) -> Catalog:
    """A random history: duets, genre-less artists, shared genres, null ms_played, name ties."""
    rng = random.Random(seed_value)
    genres = [f"genre {i}" for i in range(12)]
    catalog = Catalog(users=list(users))
    for i in range(120):
        name = f"Artist {i % 90}"  # repeated names: ties on name are broken by id
        catalog.artists.append((f"ar{i:03d}", name, rng.sample(genres, rng.choice([0, 0, 1, 2, 3]))))
    for i in range(80):
        catalog.albums.append((f"al{i:03d}", f"Album {i % 70}"))
    for i in range(600):
        credited = rng.sample([a for a, _, _ in catalog.artists], rng.choice([1, 1, 1, 2, 3]))
        album = None if i % 97 == 0 else f"al{rng.randrange(80):03d}"
        catalog.tracks.append((f"tr{i:04d}", f"Track {i % 500}", rng.randrange(60_000, 400_000), album, credited))
    weights = [1.0 / (1 + i) ** 0.8 for i in range(600)]
    cumulative = [sum(weights[: i + 1]) for i in range(600)]
    track_ids = [t for t, *_ in catalog.tracks]
    span = int((datetime.combine(end, datetime.min.time()) - datetime.combine(start, datetime.min.time())).total_seconds()) + 86_400 + 20 * 3600
    base = datetime.combine(start, datetime.min.time(), tzinfo=timezone.utc) - timedelta(hours=10)
    seen = set()
    while len(catalog.listens) < plays:
        user_id = rng.choice(users)[0]
        played_at = base + timedelta(seconds=rng.randrange(span))
        track = rng.choices(track_ids, cum_weights=cumulative)[0]
        if (user_id, track, played_at) in seen:
            continue
        seen.add((user_id, track, played_at))
        ms = None if rng.random() < 0.5 else rng.randrange(1_000, 300_000)
        catalog.listens.append((user_id, track, played_at, ms))
    return catalog
