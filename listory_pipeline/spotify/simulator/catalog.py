"""A deterministic music catalog: artists, albums and tracks with Spotify-shaped ids.

Each process that starts a simulator rebuilds the catalog, so it is derived
from the seed alone and built once per process (see `build_catalog`).
Popularity is Zipf-skewed because listening is: a few artists take most plays.
"""

from __future__ import annotations

import hashlib
import math
import random
from bisect import bisect_left
from datetime import date, timedelta
from functools import lru_cache
from typing import NamedTuple

BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
ID_LENGTH = 22
_BASE62_SET = frozenset(BASE62)
# Byte -> base62 character; the slight bias is harmless for ids (~130 bits).
_BYTE_TO_BASE62 = bytes(ord(BASE62[b % 62]) for b in range(256))

GENRES = (
    "pop", "dance pop", "indie pop", "art pop", "synthpop", "electropop", "k-pop", "j-pop",
    "c-pop", "europop", "rock", "indie rock", "alternative rock", "classic rock", "hard rock",
    "garage rock", "post-punk", "punk", "pop punk", "emo", "grunge", "shoegaze", "dream pop",
    "britpop", "psychedelic rock", "progressive rock", "krautrock", "heavy metal",
    "thrash metal", "death metal", "black metal", "metalcore", "doom metal", "hip hop",
    "rap", "trap", "drill", "uk drill", "boom bap", "conscious hip hop", "german hip hop",
    "french hip hop", "r&b", "neo soul", "soul", "funk", "disco", "motown", "gospel",
    "jazz", "bebop", "cool jazz", "jazz fusion", "smooth jazz", "blues", "delta blues",
    "country", "alt country", "bluegrass", "folk", "indie folk", "singer-songwriter",
    "americana", "electronic", "house", "deep house", "tech house", "techno",
    "minimal techno", "trance", "drum and bass", "dubstep", "uk garage", "ambient",
    "idm", "downtempo", "trip hop", "lo-fi beats", "chillwave", "vaporwave", "reggae",
    "dancehall", "dub", "ska", "afrobeats", "afropop", "amapiano", "highlife", "reggaeton",
    "latin pop", "bachata", "salsa", "cumbia", "bossa nova", "mpb", "samba", "sertanejo",
    "flamenco", "fado", "chanson", "schlager", "classical", "baroque", "opera",
    "film score", "video game music",
)

_NAME_FIRST = (
    "Ada", "Milo", "Nina", "Oscar", "Lena", "Theo", "Mara", "Felix", "Iris", "Jonah", "Kira",
    "Luca", "Maya", "Noah", "Olive", "Pablo", "Quinn", "Rhea", "Silas", "Tess", "Umar", "Vera",
    "Wren", "Yara", "Zane", "Elif", "Kofi", "Aiko", "Sade", "Ravi",
)
_NAME_LAST = (
    "Hart", "Vale", "Moreau", "Okafor", "Lindqvist", "Tanaka", "Silva", "Novak", "Brennan",
    "Costa", "Reyes", "Kowalski", "Haddad", "Nakamura", "Osei", "Varga", "Berg", "Quist",
    "Adeyemi", "Fontaine", "Ibarra", "Kaur", "Petrov", "Sato", "Walsh",
)
_ADJECTIVES = (
    "Velvet", "Neon", "Silent", "Golden", "Broken", "Electric", "Hollow", "Crimson", "Paper",
    "Midnight", "Wild", "Lucky", "Frozen", "Burning", "Lonely", "Distant", "Sweet", "Static",
    "Violet", "Northern", "Secret", "Endless", "Glass", "Copper", "Lazy", "Silver", "Tidal",
)
_NOUNS = (
    "Harbor", "Echo", "Garden", "Signal", "Horizon", "Mirror", "Engine", "River", "Comet",
    "Lantern", "Parade", "Orchard", "Tide", "Machine", "Avenue", "Season", "Dream", "Fever",
    "Compass", "Highway", "Window", "Summer", "Thunder", "Satellite", "Ocean", "Heart", "City",
)
_BAND_NOUNS = (
    "Foxes", "Wolves", "Lights", "Saints", "Ghosts", "Kids", "Rivers", "Machines", "Sparrows",
    "Tigers", "Strangers", "Pilots", "Giants", "Owls", "Vandals", "Lovers", "Satellites",
)
_TRACK_WORDS = (
    "Love", "Night", "Home", "Fire", "Rain", "Gold", "Run", "Stay", "Dance", "Forever", "Alone",
    "Light", "Sky", "Water", "Money", "Time", "Closer", "Falling", "Tonight", "Again", "Away",
    "Ghost", "Blue", "Sugar", "Shadows", "Paradise", "Youth", "Heaven", "Wires", "Magic",
)
MARKETS = ("AR", "AU", "BR", "CA", "DE", "ES", "FR", "GB", "IN", "IT", "JP", "MX", "NG", "NL", "SE", "US")


def spotify_id(seed: int, kind: str, index: int) -> str:
    """A 22-char base62 id that looks like Spotify's and never collides in practice."""
    digest = hashlib.blake2b(f"{seed}:{kind}:{index}".encode(), digest_size=ID_LENGTH).digest()
    return digest.translate(_BYTE_TO_BASE62).decode("ascii")


def is_valid_id(value: str) -> bool:
    return len(value) == ID_LENGTH and all(c in _BASE62_SET for c in value)


def _hex_token(seed: int, kind: str, index: int, length: int = 40) -> str:
    return hashlib.blake2b(f"{seed}:{kind}:{index}".encode(), digest_size=length // 2).hexdigest()


class Artist(NamedTuple):
    index: int
    id: str
    name: str
    genres: tuple[str, ...]
    popularity: int
    followers: int


class Album(NamedTuple):
    index: int
    id: str
    name: str
    album_type: str
    artist_indexes: tuple[int, ...]
    release_date: str
    release_date_precision: str
    label: str
    popularity: int
    track_indexes: tuple[int, ...]
    upc: str


class Track(NamedTuple):
    index: int
    id: str
    name: str
    album_index: int
    artist_indexes: tuple[int, ...]
    duration_ms: int
    track_number: int
    disc_number: int
    popularity: int
    explicit: bool
    isrc: str


class Catalog:
    """Immutable after construction, so one instance is shared by every Simulator of a seed."""

    def __init__(self, seed: int, artists: list[Artist], albums: list[Album], tracks: list[Track]) -> None:
        self.seed = seed
        self.artists = artists
        self.albums = albums
        self.tracks = tracks
        self._artist_by_id = {a.id: a for a in artists}
        self._album_by_id = {a.id: a for a in albums}
        self._track_by_id = {t.id: t for t in tracks}
        # Tracks each artist is credited on, for taste-driven picking.
        tracks_by_artist: list[list[int]] = [[] for _ in artists]
        for t in tracks:
            for a in t.artist_indexes:
                tracks_by_artist[a].append(t.index)
        self.tracks_by_artist = [tuple(ts) for ts in tracks_by_artist]
        artists_by_genre: dict[str, list[int]] = {}
        for a in artists:
            for g in a.genres:
                artists_by_genre.setdefault(g, []).append(a.index)
        self.artists_by_genre = {g: tuple(v) for g, v in artists_by_genre.items()}
        self.artist_cum_weights = _cumulative([_zipf_weight(a.popularity) for a in artists])
        self.track_cum_weights = _cumulative([_zipf_weight(t.popularity) for t in tracks])

    def artist(self, spotify_id_: str) -> Artist | None:
        return self._artist_by_id.get(spotify_id_)

    def album(self, spotify_id_: str) -> Album | None:
        return self._album_by_id.get(spotify_id_)

    def track(self, spotify_id_: str) -> Track | None:
        return self._track_by_id.get(spotify_id_)

    def popular_track(self, rng: random.Random) -> int:
        return _weighted_index(self.track_cum_weights, rng)

    def popular_artist(self, rng: random.Random) -> int:
        return _weighted_index(self.artist_cum_weights, rng)


def _zipf_weight(popularity: int) -> float:
    # Popularity is roughly logarithmic in plays, so weights grow exponentially with it.
    return math.exp(popularity / 12.0)


def _cumulative(weights: list[float]) -> list[float]:
    total = 0.0
    out = []
    for w in weights:
        total += w
        out.append(total)
    return out


def _weighted_index(cum_weights: list[float], rng: random.Random) -> int:
    return bisect_left(cum_weights, rng.random() * cum_weights[-1])


def _popularity_from_rank(rank: int, rng: random.Random) -> int:
    value = 92 - 9.5 * math.log(rank + 1) + rng.gauss(0, 4)
    return max(0, min(100, int(round(value))))


def _artist_name(rng: random.Random) -> str:
    style = rng.random()
    if style < 0.45:
        return f"{rng.choice(_NAME_FIRST)} {rng.choice(_NAME_LAST)}"
    if style < 0.75:
        return f"The {rng.choice(_ADJECTIVES)} {rng.choice(_BAND_NOUNS)}"
    if style < 0.9:
        return f"{rng.choice(_ADJECTIVES)} {rng.choice(_NOUNS)}"
    return f"{rng.choice(_NAME_FIRST).upper()}{rng.randint(1, 99)}"


def _title(rng: random.Random) -> str:
    style = rng.random()
    if style < 0.35:
        return f"{rng.choice(_ADJECTIVES)} {rng.choice(_NOUNS)}"
    if style < 0.6:
        return rng.choice(_TRACK_WORDS)
    if style < 0.85:
        return f"{rng.choice(_TRACK_WORDS)} {rng.choice(_TRACK_WORDS).lower()}"
    return f"{rng.choice(_NOUNS)} of {rng.choice(_TRACK_WORDS)}"


def _duration_ms(rng: random.Random) -> int:
    # Log-normal around 3:30, clamped to 90 s .. 7 min: most songs are pop-length.
    seconds = rng.lognormvariate(math.log(210), 0.25)
    return int(max(90.0, min(420.0, seconds)) * 1000) + rng.randint(0, 999)


def _track_counts(rng: random.Random, n_albums: int, n_tracks: int) -> tuple[list[str], list[int]]:
    types, counts = [], []
    for _ in range(n_albums):
        r = rng.random()
        if r < 0.45:
            types.append("single")
            counts.append(rng.randint(1, 3))
        elif r < 0.9:
            types.append("album")
            counts.append(rng.randint(8, 14))
        else:
            types.append("compilation")
            counts.append(rng.randint(10, 18))
    # Nudge the drawn counts so they add up exactly; singles stay singles.
    adjustable = [i for i, t in enumerate(types) if t != "single"] or list(range(n_albums))
    diff = n_tracks - sum(counts)
    while diff != 0:
        i = rng.choice(adjustable)
        if diff > 0:
            counts[i] += 1
            diff -= 1
        elif counts[i] > 1:
            counts[i] -= 1
            diff += 1
    return types, counts


@lru_cache(maxsize=4)
def build_catalog(seed: int, n_artists: int = 3000, n_albums: int = 6000, n_tracks: int = 40000) -> Catalog:
    """Build (once per process and size) the whole catalog from the seed."""
    if not (1 <= n_artists and 1 <= n_albums <= n_tracks):
        raise ValueError("need at least one artist and at least as many tracks as albums")
    rng = random.Random(f"catalog:{seed}")

    # GENRES lists related genres next to each other: an artist's extra genres
    # are neighbours of its main one, so "trap" comes with "rap", not "opera".
    genre_ranks = list(range(len(GENRES)))
    rng.shuffle(genre_ranks)
    genre_weights = _cumulative([1.0 / (rank + 1) ** 0.8 for rank in genre_ranks])
    artist_ranks = list(range(n_artists))
    rng.shuffle(artist_ranks)
    artists = []
    for i in range(n_artists):
        popularity = _popularity_from_rank(artist_ranks[i], rng)
        if rng.random() < 0.15:
            genres: tuple[str, ...] = ()
        else:
            main = _weighted_index(genre_weights, rng)
            picked = [GENRES[main]]
            for _ in range(rng.randint(0, 3)):
                g = GENRES[min(len(GENRES) - 1, max(0, main + rng.randint(-3, 3)))]
                if g not in picked:
                    picked.append(g)
            genres = tuple(picked)
        followers = int(math.exp(popularity / 9.0) * rng.uniform(5, 50))
        artists.append(Artist(i, spotify_id(seed, "artist", i), _artist_name(rng), genres, popularity, followers))

    artist_cum = _cumulative([_zipf_weight(a.popularity) for a in artists])
    types, counts = _track_counts(rng, n_albums, n_tracks)
    albums = []
    tracks = []
    first_release = date(1965, 1, 1)
    track_index = 0
    for i in range(n_albums):
        # Every artist gets at least one album before popularity decides the rest.
        primary = i if i < n_artists else _weighted_index(artist_cum, rng)
        album_artists = [primary]
        if rng.random() < 0.1:
            other = _weighted_index(artist_cum, rng)
            if other != primary:
                album_artists.append(other)
        released = first_release + timedelta(days=int(rng.triangular(0, 22600, 22600)))
        precision_roll = rng.random()
        if precision_roll < 0.85:
            release_date, precision = released.isoformat(), "day"
        elif precision_roll < 0.95:
            release_date, precision = released.strftime("%Y-%m"), "month"
        else:
            release_date, precision = str(released.year), "year"
        album_popularity = max(0, min(100, artists[primary].popularity + int(rng.gauss(-5, 8))))
        track_ids = []
        count = counts[i]
        discs = 2 if count > 14 and rng.random() < 0.3 else 1
        per_disc = math.ceil(count / discs)
        explicit_album = rng.random() < 0.2
        isrc_prefix = f"{rng.choice(('US', 'GB', 'DE', 'SE', 'FR', 'JP', 'BR'))}{BASE62[10 + rng.randrange(26)]}{rng.randrange(10, 100)}"
        for n in range(count):
            credited = list(album_artists)
            if rng.random() < 0.07:
                for _ in range(rng.randint(1, 2)):
                    feat = _weighted_index(artist_cum, rng)
                    if feat not in credited and len(credited) < 3:
                        credited.append(feat)
            tracks.append(
                Track(
                    index=track_index,
                    id=spotify_id(seed, "track", track_index),
                    name=_title(rng),
                    album_index=i,
                    artist_indexes=tuple(credited),
                    duration_ms=_duration_ms(rng),
                    track_number=n % per_disc + 1,
                    disc_number=n // per_disc + 1,
                    popularity=max(0, min(100, album_popularity + int(rng.gauss(0, 7)))),
                    explicit=explicit_album and rng.random() < 0.7,
                    isrc=f"{isrc_prefix}{released.year % 100:02d}{track_index % 100000:05d}",
                )
            )
            track_ids.append(track_index)
            track_index += 1
        albums.append(
            Album(
                index=i,
                id=spotify_id(seed, "album", i),
                name=_title(rng) if types[i] != "single" else tracks[track_ids[0]].name,
                album_type=types[i],
                artist_indexes=tuple(album_artists),
                release_date=release_date,
                release_date_precision=precision,
                label=f"{rng.choice(_ADJECTIVES)} {rng.choice(('Records', 'Music', 'Recordings', 'Sounds'))}",
                popularity=album_popularity,
                track_indexes=tuple(track_ids),
                upc=f"{rng.randrange(10**12):012d}",
            )
        )
    return Catalog(seed, artists, albums, tracks)


def image_urls(seed: int, kind: str, index: int) -> list[dict]:
    """Three sizes, widest first, as Spotify gives them."""
    token = _hex_token(seed, kind, index)
    return [
        {"url": f"https://i.scdn.co/image/{token}{size}", "height": size, "width": size}
        for size in (640, 300, 64)
    ]
