"""Simulated listeners and the plays they make.

Plays of one (user, local day) come from an RNG seeded by (seed, user, day),
so any moment can be answered without replaying history from some epoch, and
two processes with the same seed agree on every play.
"""

from __future__ import annotations

import hashlib
import random
import threading
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import NamedTuple
from zoneinfo import ZoneInfo

from listory_pipeline.spotify.simulator.catalog import Catalog, _cumulative, _weighted_index

FIRST_NAMES = (
    "alice", "bruno", "chiara", "dmitri", "emeka", "fatima", "gustav", "hana", "ines", "jonas",
    "kenji", "lucia", "mateo", "nadia", "oskar", "priya", "quentin", "rosa", "sven", "tomoko",
    "ugo", "valeria", "wei", "ximena", "yusuf", "zofia", "amara", "bjorn", "camille", "diego",
)
ZONES = (
    ("Europe/Berlin", "DE"), ("America/New_York", "US"), ("Asia/Tokyo", "JP"),
    ("Australia/Sydney", "AU"), ("America/Sao_Paulo", "BR"), ("UTC", "IS"),
    ("Europe/London", "GB"), ("Asia/Kolkata", "IN"), ("America/Los_Angeles", "US"),
    ("Africa/Lagos", "NG"), ("Europe/Madrid", "ES"), ("America/Mexico_City", "MX"),
    ("Asia/Seoul", "KR"), ("Pacific/Auckland", "NZ"), ("Europe/Stockholm", "SE"),
)
# Daily slots in local hours (earliest, latest start). The first slot starts
# after 06:00 and the last session ends long before 06:00 next day, so the plays
# of consecutive local days never interleave.
SESSION_SLOTS = ((6.5, 9.0), (11.5, 14.0), (16.0, 18.5), (19.5, 22.5))
SESSIONS_PER_DAY_WEIGHTS = (0.08, 0.22, 0.35, 0.25, 0.10)  # 0..4 sessions
SKIP_PROBABILITY = 0.08
_DAY_CACHE_LIMIT = 20_000


@dataclass(frozen=True)
class SimUser:
    user_id: str
    display_name: str
    timezone: str
    country: str


class Play(NamedTuple):
    played_at_ms: int
    """End of the play (Spotify's `played_at`), epoch milliseconds."""
    track_index: int
    ms_played: int
    context: tuple[str, int] | None
    """("album" | "artist" | "playlist", index), or None when played outside a context."""


def make_users(seed: int, n_users: int) -> list[SimUser]:
    """Ids stay `sim-alice`, `sim-bruno`, ... for every seed; places vary with it."""
    rng = random.Random(f"users:{seed}")
    zones = list(ZONES)
    rng.shuffle(zones)
    users = []
    for i in range(n_users):
        if i < len(FIRST_NAMES):
            user_id, display = f"sim-{FIRST_NAMES[i]}", FIRST_NAMES[i].capitalize()
        else:
            user_id, display = f"sim-listener-{i + 1:04d}", f"Listener {i + 1}"
        tz_name, country = zones[i % len(zones)]
        users.append(SimUser(user_id, display, tz_name, country))
    return users


def to_ms(dt: datetime) -> int:
    return int(round(dt.timestamp() * 1000))


def from_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, timezone.utc)


class Listener:
    """One user's taste and the plays it produces, day by day, cached."""

    def __init__(self, seed: int, user: SimUser, catalog: Catalog) -> None:
        self.seed = seed
        self.user = user
        self.catalog = catalog
        self.tz = ZoneInfo(user.timezone)
        self._days: dict[date, list[Play]] = {}
        self._lock = threading.Lock()
        self._build_taste()

    def _build_taste(self) -> None:
        rng = random.Random(f"taste:{self.seed}:{self.user.user_id}")
        cat = self.catalog
        genres = sorted(cat.artists_by_genre, key=lambda g: (-len(cat.artists_by_genre[g]), g))
        genre_cum = _cumulative([len(cat.artists_by_genre[g]) for g in genres])
        fav_genres = {genres[_weighted_index(genre_cum, rng)] for _ in range(rng.randint(2, 4))}
        genre_pool = sorted({a for g in fav_genres for a in cat.artists_by_genre[g]})
        favourites: list[int] = []
        for _ in range(rng.randint(25, 70)):
            if genre_pool and rng.random() < 0.65:
                artist = rng.choice(genre_pool)
            else:
                artist = cat.popular_artist(rng)
            if artist not in favourites and cat.tracks_by_artist[artist]:
                favourites.append(artist)
        self.favourite_genres = tuple(sorted(fav_genres))
        self.favourite_artists = tuple(favourites)
        # Strong skew: the first favourites get most plays, like a real top-artists list.
        self._fav_cum = _cumulative([1.0 / (k + 1) ** 1.1 for k in range(len(favourites))])

    def _favourite_artist(self, rng: random.Random) -> int:
        return self.favourite_artists[_weighted_index(self._fav_cum, rng)]

    def _taste_pick(self, rng: random.Random) -> int:
        if rng.random() < 0.82:
            return rng.choice(self.catalog.tracks_by_artist[self._favourite_artist(rng)])
        return self.catalog.popular_track(rng)  # discovery

    def plays_on(self, day: date) -> list[Play]:
        with self._lock:
            cached = self._days.get(day)
        if cached is not None:
            return cached
        plays = self._generate_day(day)
        with self._lock:
            if len(self._days) >= _DAY_CACHE_LIMIT:
                self._days.clear()
            self._days[day] = plays
        return plays

    def _generate_day(self, day: date) -> list[Play]:
        rng = random.Random(f"plays:{self.seed}:{self.user.user_id}:{day.isoformat()}")
        n_sessions = rng.choices(range(5), weights=SESSIONS_PER_DAY_WEIGHTS)[0]
        slots = sorted(rng.sample(range(len(SESSION_SLOTS)), n_sessions))
        midnight = datetime.combine(day, time(0), tzinfo=self.tz)
        plays: list[Play] = []
        cursor_ms = 0
        tracks = self.catalog.tracks
        for slot in slots:
            earliest, latest = SESSION_SLOTS[slot]
            start = midnight + timedelta(hours=rng.uniform(earliest, latest))
            t_ms = max(to_ms(start), cursor_ms + rng.randint(60_000, 1_800_000))
            length = int(rng.triangular(5, 41, 12))
            context, queue = self._session_context(rng)
            for _ in range(length):
                if queue:
                    track_index = queue.pop(0)
                elif context is not None and context[0] == "artist":
                    track_index = rng.choice(self.catalog.tracks_by_artist[context[1]])
                else:
                    if context is not None and context[0] == "album":
                        context = None  # album finished; autoplay takes over
                    track_index = self._taste_pick(rng)
                duration = tracks[track_index].duration_ms
                if rng.random() < SKIP_PROBABILITY:
                    ms_played = rng.randint(10_000, max(10_001, int(duration * 0.8)))
                else:
                    ms_played = duration
                t_ms += ms_played
                plays.append(Play(t_ms, track_index, ms_played, context))
                t_ms += rng.randint(0, 1500)
            cursor_ms = t_ms
        return plays

    def _session_context(self, rng: random.Random) -> tuple[tuple[str, int] | None, list[int]]:
        roll = rng.random()
        if roll < 0.35:
            return None, []
        if roll < 0.6:
            seed_track = self.catalog.tracks[rng.choice(self.catalog.tracks_by_artist[self._favourite_artist(rng)])]
            album = self.catalog.albums[seed_track.album_index]
            return ("album", album.index), list(album.track_indexes)
        if roll < 0.75:
            return ("artist", self._favourite_artist(rng)), []
        return ("playlist", rng.randrange(5)), []

    def local_date(self, ms: int) -> date:
        return datetime.fromtimestamp(ms / 1000, self.tz).date()

    def timeline(self, start_ms: int, end_ms: int) -> list[Play]:
        """Plays with start_ms < played_at <= end_ms, oldest first."""
        if end_ms <= start_ms:
            return []
        out: list[Play] = []
        # A day's last session may end after local midnight, hence the extra day.
        day = self.local_date(start_ms) - timedelta(days=1)
        last = self.local_date(end_ms)
        while day <= last:
            out.extend(p for p in self.plays_on(day) if start_ms < p.played_at_ms <= end_ms)
            day += timedelta(days=1)
        return out


def late_lag_ms(seed: int, user_id: str, played_at_ms: int, fraction: float, max_late_seconds: int) -> int:
    """How long after it ended a play shows up; a pure function so every process agrees."""
    if fraction <= 0 or max_late_seconds <= 0:
        return 0
    digest = hashlib.blake2b(f"late:{seed}:{user_id}:{played_at_ms}".encode(), digest_size=8).digest()
    u_pick = int.from_bytes(digest[:4], "big") / 2**32
    u_lag = int.from_bytes(digest[4:], "big") / 2**32
    if u_pick >= fraction:
        return 0
    return 1 + int(u_lag * max_late_seconds * 1000)
