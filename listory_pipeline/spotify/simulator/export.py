"""A simulated user's Spotify privacy export, from the plays recently-played serves.

Spotify hands out two kinds of listening history on request:
- "Extended Streaming History" (`my_spotify_data.zip` with
  `Spotify Extended Streaming History/Streaming_History_Audio_*.json`, or
  `MyData/endsong_*.json` before late 2024): one entry per play, `ts` the end of
  the play in UTC seconds;
- "Account data" (`Spotify Account Data/StreamingHistory_music_*.json`): the
  last year in a short format, `endTime` the same moment floored to the minute.

Both are built here from `Listener.timeline`, the ground truth the
recently-played endpoint answers from, so a test can crawl a simulated user,
import their export and compare listen by listen, overlap included. Late
visibility does not matter: an export holds every play that ended in its window.

An export also holds what recently-played never shows: podcast episodes,
audiobook chapters, incognito plays, local files and byte-identical duplicate
rows. These extras sit in the 03:00-05:30 local window of some days, at least an
hour from any real play (sessions start after 06:00 and end long before 03:00),
so they never coincide with a play a crawler saw.

Everything is deterministic: entry fields come from RNGs seeded by (simulator
seed, user, play end) and extras from (seed, user, local day), so the same play
gets the same entry whatever window it is exported in.
"""

from __future__ import annotations

import hashlib
import io
import json
import random
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any

from listory_pipeline.spotify.simulator.catalog import Catalog, spotify_id
from listory_pipeline.spotify.simulator.listeners import Listener, Play, SimUser, to_ms
from listory_pipeline.spotify.simulator.simulator import Simulator

EXPORT_VARIANTS = ("legacy", "2024", "2025")
ZIP_NAME = "my_spotify_data.zip"
EXTENDED_FOLDER = "Spotify Extended Streaming History"
LEGACY_FOLDER = "MyData"
ACCOUNT_FOLDER = "Spotify Account Data"
README_PDF = "ReadMeFirst_ExtendedStreamingHistory.pdf"

SESSION_GAP_MS = 5 * 60_000
"""A play starting more than this after the previous one ended starts a session (`clickrow`)."""
EXTRAS_WINDOW = (time(3, 0), time(5, 30))
"""Local hours where extras go: no simulated session is there."""
EXTRA_CLEARANCE_MS = 60 * 60_000
"""An extra that would come closer than this to a real play is left out."""

_EXTRA_RATES = (("podcast", 1 / 3), ("audiobook", 1 / 20), ("incognito", 1 / 5), ("local", 1 / 15))
"""Chance per local day of each extra, in the order they are laid out in the night window."""
_DUPLICATE_FRACTION = 0.005
_OFFLINE_FRACTION = 0.03
_ZERO_OFFLINE_TS_FRACTION = 0.02
_NULL_OFFLINE_TS_FRACTION = 0.02
_PHONE_FRACTION = 0.75
_SHUFFLE_BY_CONTEXT = {None: 0.45, "playlist": 0.55, "artist": 0.35, "album": 0.05}
# Fixed member timestamps so the same entries give a byte-identical zip.
_ZIP_DATE = (2026, 1, 1, 0, 0, 0)
_FAKE_PDF = (
    b"%PDF-1.4\n% Simulated ReadMeFirst: what the fields of Extended Streaming History mean.\n"
    b"1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
)

_NEWER_FIELDS = (
    "ts", "platform", "ms_played", "conn_country", "ip_addr",
    "master_metadata_track_name", "master_metadata_album_artist_name", "master_metadata_album_album_name",
    "spotify_track_uri", "episode_name", "episode_show_name", "spotify_episode_uri",
)
_AUDIOBOOK_FIELDS = ("audiobook_title", "audiobook_uri", "audiobook_chapter_uri", "audiobook_chapter_title")
_TRAILING_FIELDS = (
    "reason_start", "reason_end", "shuffle", "skipped", "offline", "offline_timestamp", "incognito_mode",
)
EXTENDED_FIELDS = {
    "legacy": (
        "ts", "username", "platform", "ms_played", "conn_country", "ip_addr_decrypted", "user_agent_decrypted",
        *_NEWER_FIELDS[5:], *_TRAILING_FIELDS,
    ),
    "2024": (*_NEWER_FIELDS, *_TRAILING_FIELDS),
    "2025": (*_NEWER_FIELDS, *_AUDIOBOOK_FIELDS, *_TRAILING_FIELDS),
}
"""The fields of an extended entry in each variant, in Spotify's order."""

# (platform in 2024+ exports, platform in legacy exports, legacy user_agent_decrypted)
_PHONES = (
    ("android", "Android OS 13 API 33 (Google, Pixel 7)", "Spotify/8.8.60 Android/33 (Pixel 7)"),
    ("android", "Android OS 12 API 31 (samsung, SM-G991B)", "unknown"),
    ("ios", "iOS 17.1.2 (iPhone15,2)", "unknown"),
    ("ios", "iOS 16.6 (iPhone13,2)", "Spotify/8.8.48 iOS/16.6 (iPhone13,2)"),
)
_DESKTOPS = (
    ("windows", "Windows 10 (10.0.22631; x64)", "unknown"),
    ("osx", "OS X 14.1.1 [arm 2]", "unknown"),
    ("linux", "Linux [x86-64 0]", "unknown"),
    ("web_player", "WebPlayer (websocket RFC6455)", "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0"),
)
_SHOWS = (
    "The Daily Groove", "Tape Deck Stories", "Science on Sundays", "Deep Cuts Radio", "Field Notes",
    "Late Night Linguistics", "Startup Soup", "History Unplugged", "Kitchen Table Chemistry", "The Long Run",
)
_EPISODE_TOPICS = (
    "Why we hum", "The first mixtape", "Sleep, mostly", "Cities that sing", "A short history of noise",
    "Listener questions", "How charts are made", "The bassline episode", "Live from the archive", "Small habits",
)
_AUDIOBOOKS = (
    "The Quiet Harbor", "A Field Guide to Comets", "Letters from the Orchard", "The Copper Engine",
    "Northern Tides",
)
_LOCAL_FILES = (
    ("Garage Tapes", "Demo Sessions 2009", "Untitled Jam"),
    ("Garage Tapes", "Demo Sessions 2009", "Basement Blues"),
    ("Unknown Artist", "Unknown Album", "Track 07"),
    ("Grandpa's Vinyl Rips", "Side B", "Waltz in the Kitchen"),
    ("The School Band", "Spring Concert", "Finale"),
)


@dataclass(frozen=True)
class ExtraEntryCounts:
    """What `export_entries` added that is not a ground-truth music play."""

    podcast_episodes: int
    audiobook_chapters: int
    incognito_plays: int
    local_files: int
    duplicates: int


@dataclass(frozen=True)
class _Extra:
    """One non-recently-played entry: when it ended, how long it ran and what it was."""

    kind: str  # "podcast" | "audiobook" | "incognito" | "local"
    played_at_ms: int
    ms_played: int
    content: dict[str, Any]
    """Entry fields that say what was played (names, uris, reasons, incognito_mode)."""


# -- entries ----------------------------------------------------------------


def entries_for_plays(
    catalog: Catalog, user: SimUser, plays: Iterable[Play], *, variant: str = "2025", seed: int = 0
) -> list[dict]:
    """One extended entry per play (oldest first), deterministic from (seed, user, play).

    The first play has no known predecessor, so it starts a session (`clickrow`);
    `export_entries` looks one play back so a window's first entry matches what a
    wider window gives for the same play.
    """
    return _music_entries(catalog, user, list(plays), _fields(variant), variant, seed, previous=None)


def export_entries(
    simulator: Simulator, user_id: str, start: datetime, end: datetime, *, variant: str = "2025", extras: bool = True
) -> tuple[list[dict], ExtraEntryCounts]:
    """Extended entries of every play with start < played_at <= end, sorted by ts, and the extras' counts."""
    fields = _fields(variant)
    listener = simulator.listener(user_id)
    seed = simulator.config.seed
    start_ms, end_ms = to_ms(start), to_ms(end)
    plays = listener.timeline(start_ms, end_ms)
    before = listener.timeline(start_ms - 86_400_000, start_ms)
    entries = _music_entries(
        simulator.catalog, listener.user, plays, fields, variant, seed, previous=before[-1] if before else None
    )
    if not extras:
        return entries, ExtraEntryCounts(0, 0, 0, 0, 0)

    with_duplicates: list[dict] = []
    for play, entry in zip(plays, entries):
        with_duplicates.append(entry)
        if _unit(f"duplicate:{seed}:{user_id}:{play.played_at_ms}") < _DUPLICATE_FRACTION:
            with_duplicates.append(dict(entry))
    found = [x for x in _extras(simulator, listener, start_ms, end_ms) if x.kind != "audiobook" or variant == "2025"]
    out = with_duplicates + [_extra_entry(x, listener.user, fields, variant, seed) for x in found]
    # Stable, so a duplicate stays right after its original; extras never share a second with a play.
    out.sort(key=lambda e: e["ts"])
    kinds = [x.kind for x in found]
    counts = ExtraEntryCounts(
        podcast_episodes=kinds.count("podcast"),
        audiobook_chapters=kinds.count("audiobook"),
        incognito_plays=kinds.count("incognito"),
        local_files=kinds.count("local"),
        duplicates=len(with_duplicates) - len(entries),
    )
    return out, counts


def account_data_entries(
    simulator: Simulator, user_id: str, start: datetime, end: datetime
) -> tuple[list[dict], list[dict]]:
    """(music, podcasts) in the short "Account data" format for the same plays and podcast extras."""
    listener = simulator.listener(user_id)
    catalog = simulator.catalog
    start_ms, end_ms = to_ms(start), to_ms(end)
    music = []
    for play in listener.timeline(start_ms, end_ms):
        track = catalog.tracks[play.track_index]
        music.append({
            "endTime": _end_time(play.played_at_ms),
            "artistName": catalog.artists[track.artist_indexes[0]].name,
            "trackName": track.name,
            "msPlayed": play.ms_played,
        })
    podcasts = [
        {
            "endTime": _end_time(x.played_at_ms),
            "podcastName": x.content["episode_show_name"],
            "episodeName": x.content["episode_name"],
            "msPlayed": x.ms_played,
        }
        for x in _extras(simulator, listener, start_ms, end_ms)
        if x.kind == "podcast"
    ]
    return music, podcasts


def _fields(variant: str) -> tuple[str, ...]:
    if variant not in EXTENDED_FIELDS:
        raise ValueError(f"unknown export variant {variant!r}; expected one of {', '.join(EXPORT_VARIANTS)}")
    return EXTENDED_FIELDS[variant]


def _music_entries(
    catalog: Catalog, user: SimUser, plays: list[Play], fields: tuple[str, ...], variant: str, seed: int,
    previous: Play | None,
) -> list[dict]:
    out = []
    for play in plays:
        track = catalog.tracks[play.track_index]
        start_ms = play.played_at_ms - play.ms_played
        if previous is None or start_ms - previous.played_at_ms > SESSION_GAP_MS:
            reason_start = "clickrow"
        elif previous.ms_played == catalog.tracks[previous.track_index].duration_ms:
            reason_start = "trackdone"
        else:
            reason_start = "fwdbtn"
        done = play.ms_played == track.duration_ms
        rng = random.Random(f"export-play:{seed}:{user.user_id}:{play.played_at_ms}")
        values = _playback_values(rng, user, variant, seed, play.played_at_ms, play.ms_played)
        values.update({
            "master_metadata_track_name": track.name,
            "master_metadata_album_artist_name": catalog.artists[track.artist_indexes[0]].name,
            "master_metadata_album_album_name": catalog.albums[track.album_index].name,
            "spotify_track_uri": f"spotify:track:{track.id}",
            "reason_start": reason_start,
            "reason_end": "trackdone" if done else "fwdbtn",
            "shuffle": rng.random() < _SHUFFLE_BY_CONTEXT[play.context[0] if play.context else None],
            "skipped": None if variant == "legacy" else not done,
        })
        out.append({name: values.get(name) for name in fields})
        previous = play
    return out


def _playback_values(
    rng: random.Random, user: SimUser, variant: str, seed: int, played_at_ms: int, ms_played: int
) -> dict[str, Any]:
    """Where and how something was played: the fields every kind of entry shares."""
    devices = _user_devices(seed, user.user_id)
    new_platform, legacy_platform, user_agent = devices[0] if rng.random() < _PHONE_FRACTION else devices[1]
    ip = f"203.0.113.{1 + int(_unit(f'ip:{seed}:{user.user_id}:{played_at_ms // 86_400_000}') * 254)}"
    start_ms = played_at_ms - ms_played
    roll = rng.random()
    offline = roll < _OFFLINE_FRACTION
    offline_ms: int | None
    if offline:
        offline_ms = start_ms - rng.randint(60_000, 3 * 3_600_000)  # when the device went offline
    elif roll < _OFFLINE_FRACTION + _ZERO_OFFLINE_TS_FRACTION:
        offline_ms = 0
    elif roll < _OFFLINE_FRACTION + _ZERO_OFFLINE_TS_FRACTION + _NULL_OFFLINE_TS_FRACTION:
        offline_ms = None
    else:
        offline_ms = start_ms
    legacy = variant == "legacy"
    if offline_ms and not legacy:
        offline_ms //= 1000
    return {
        "ts": _ts(played_at_ms),
        "username": user.user_id,
        "platform": legacy_platform if legacy else new_platform,
        "ms_played": ms_played,
        "conn_country": user.country,
        "ip_addr": ip,
        "ip_addr_decrypted": ip,
        "user_agent_decrypted": user_agent,
        "offline": offline,
        "offline_timestamp": offline_ms,
        "incognito_mode": False,
    }


@lru_cache(maxsize=256)
def _user_devices(seed: int, user_id: str) -> tuple[tuple[str, str, str], tuple[str, str, str]]:
    """(phone, desktop) of a user: most plays come from the phone."""
    rng = random.Random(f"export-devices:{seed}:{user_id}")
    return rng.choice(_PHONES), rng.choice(_DESKTOPS)


# -- extras ---------------------------------------------------------------------


def _extras(simulator: Simulator, listener: Listener, start_ms: int, end_ms: int) -> list[_Extra]:
    """Every variant's extras with start < played_at <= end, oldest first (audiobooks included)."""
    day = listener.local_date(start_ms)
    last = listener.local_date(end_ms)
    out = []
    while day <= last:
        out.extend(x for x in _extras_of_day(simulator, listener, day) if start_ms < x.played_at_ms <= end_ms)
        day += timedelta(days=1)
    return out


def _extras_of_day(simulator: Simulator, listener: Listener, day: date) -> list[_Extra]:
    """The extras of one local night, laid out one after another in EXTRAS_WINDOW.

    Drawn for every variant alike, so dropping audiobooks from older variants
    leaves the other extras where they are.
    """
    seed, user_id = simulator.config.seed, listener.user.user_id
    rng = random.Random(f"export-extras:{seed}:{user_id}:{day.isoformat()}")
    # In epoch ms, so a DST change inside the window cannot stretch or squeeze it.
    window_start = to_ms(datetime.combine(day, EXTRAS_WINDOW[0], tzinfo=listener.tz))
    window_end = to_ms(datetime.combine(day, EXTRAS_WINDOW[1], tzinfo=listener.tz))
    cursor = window_start + rng.randint(0, 10 * 60_000)
    laid_out = []
    for kind, rate in _EXTRA_RATES:
        if rng.random() >= rate:
            continue
        ms_played, content = _extra_content(kind, rng, simulator.catalog, seed, user_id)
        if cursor + ms_played > window_end:
            continue
        laid_out.append(_Extra(kind, cursor + ms_played, ms_played, content))
        cursor += ms_played + rng.randint(30_000, 5 * 60_000)
    if not laid_out:
        return []
    # Sessions never reach this window, but should one ever do, the extra gives way.
    margin = EXTRA_CLEARANCE_MS + 2 * 3_600_000
    real = listener.timeline(window_start - margin, window_end + margin)
    return [x for x in laid_out if all(_gap_ms(x, p) >= EXTRA_CLEARANCE_MS for p in real)]


def _gap_ms(extra: _Extra, play: Play) -> int:
    """Time between an extra and a real play (0 when they overlap)."""
    extra_start, play_start = extra.played_at_ms - extra.ms_played, play.played_at_ms - play.ms_played
    return max(0, extra_start - play.played_at_ms, play_start - extra.played_at_ms)


def _extra_content(
    kind: str, rng: random.Random, catalog: Catalog, seed: int, user_id: str
) -> tuple[int, dict[str, Any]]:
    """(ms played, the fields saying what it was) for one extra of `kind`."""
    if kind == "podcast":
        shows = random.Random(f"export-shows:{seed}:{user_id}").sample(range(len(_SHOWS)), 3)
        show = rng.choice(shows)
        number = rng.randint(1, 300)
        return rng.randint(5 * 60_000, 50 * 60_000), {
            "episode_name": f"#{number}: {_EPISODE_TOPICS[(show + number) % len(_EPISODE_TOPICS)]}",
            "episode_show_name": _SHOWS[show],
            "spotify_episode_uri": f"spotify:episode:{spotify_id(seed, f'episode:{show}', number)}",
            "reason_start": "playbtn",
            "reason_end": rng.choice(("endplay", "trackdone")),
        }
    if kind == "audiobook":
        book = rng.randrange(len(_AUDIOBOOKS))
        chapter = rng.randint(1, 30)
        return rng.randint(10 * 60_000, 40 * 60_000), {
            "audiobook_title": _AUDIOBOOKS[book],
            "audiobook_uri": f"spotify:audiobook:{spotify_id(seed, 'audiobook', book)}",
            "audiobook_chapter_uri": f"spotify:chapter:{spotify_id(seed, f'chapter:{book}', chapter)}",
            "audiobook_chapter_title": f"Chapter {chapter}",
            "reason_start": "playbtn",
            "reason_end": "endplay",
        }
    if kind == "incognito":
        track = catalog.tracks[catalog.popular_track(rng)]
        return track.duration_ms, {
            "master_metadata_track_name": track.name,
            "master_metadata_album_artist_name": catalog.artists[track.artist_indexes[0]].name,
            "master_metadata_album_album_name": catalog.albums[track.album_index].name,
            "spotify_track_uri": f"spotify:track:{track.id}",
            "reason_start": "clickrow",
            "reason_end": "trackdone",
            "incognito_mode": True,
        }
    artist, album, title = rng.choice(_LOCAL_FILES)
    return rng.randint(90_000, 6 * 60_000), {
        "master_metadata_track_name": title,
        "master_metadata_album_artist_name": artist,
        "master_metadata_album_album_name": album,
        "reason_start": "clickrow",
        "reason_end": "trackdone",
    }


def _extra_entry(extra: _Extra, user: SimUser, fields: tuple[str, ...], variant: str, seed: int) -> dict:
    rng = random.Random(f"export-extra:{seed}:{user.user_id}:{extra.played_at_ms}")
    values = _playback_values(rng, user, variant, seed, extra.played_at_ms, extra.ms_played)
    values.update({"shuffle": False, "skipped": None if variant == "legacy" else False})
    values.update(extra.content)
    return {name: values.get(name) for name in fields}


# -- files ----------------------------------------------------------------------


def write_extended_export(
    entries: list[dict], target: Path, *, variant: str = "2025", entries_per_file: int = 15_000,
    pretty: bool = True, as_zip: bool = True, video_fraction: float = 0.02,
) -> Path:
    """Write entries as Spotify ships them: the zip `target` (in it when it is a folder) or a tree under `target`.

    Audio files hold at most `entries_per_file` entries each and are named by the
    years they span (`Streaming_History_Audio_2023-2024_0.json`, `..._2024_1.json`);
    a deterministic `video_fraction` of music entries go to `Streaming_History_Video_*.json`
    instead. Legacy exports are `MyData/endsong_<n>.json` with no video files.
    """
    _fields(variant)
    if entries_per_file < 1:
        raise ValueError("entries_per_file must be at least 1")
    if not 0.0 <= video_fraction <= 1.0:
        raise ValueError("video_fraction must be between 0 and 1")
    members: dict[str, bytes] = {}
    if variant == "legacy":
        for n, chunk in enumerate(_chunks(entries, entries_per_file)):
            members[f"{LEGACY_FOLDER}/endsong_{n}.json"] = _dump(chunk, indent=4 if pretty else None)
        members[f"{LEGACY_FOLDER}/{README_PDF}"] = _FAKE_PDF
    else:
        audio, video = [], []
        for entry in entries:
            (video if _is_video(entry, video_fraction) else audio).append(entry)
        for n, chunk in enumerate(_chunks(audio, entries_per_file)):
            members[f"{EXTENDED_FOLDER}/Streaming_History_Audio_{_years(chunk)}_{n}.json"] = _dump(
                chunk, indent=4 if pretty else None
            )
        video_chunks = _chunks(video, entries_per_file)
        for n, chunk in enumerate(video_chunks):
            suffix = f"_{n}" if len(video_chunks) > 1 else ""
            members[f"{EXTENDED_FOLDER}/Streaming_History_Video_{_years(chunk)}{suffix}.json"] = _dump(
                chunk, indent=4 if pretty else None
            )
        members[f"{EXTENDED_FOLDER}/{README_PDF}"] = _FAKE_PDF
    return _write_members(members, target, as_zip)


def write_account_data(
    music: list[dict], podcasts: list[dict], target: Path, *, username: str, as_zip: bool = True,
    entries_per_file: int = 10_000,
) -> Path:
    """Write the short "Account data" history: the zip `target` (in it when it is a folder) or a tree under it.

    Userdata.json carries `username`; the other personal fields are made up from
    it (country "ZZ": the user's real country is not known here). Follow.json
    stands for the files an importer must ignore.
    """
    if entries_per_file < 1:
        raise ValueError("entries_per_file must be at least 1")
    members: dict[str, bytes] = {}
    for kind, rows in (("music", music), ("podcast", podcasts)):
        for n, chunk in enumerate(_chunks(rows, entries_per_file) or [[]]):
            members[f"{ACCOUNT_FOLDER}/StreamingHistory_{kind}_{n}.json"] = _dump(chunk, indent=2)
    rng = random.Random(f"userdata:{username}")
    members[f"{ACCOUNT_FOLDER}/Userdata.json"] = _dump(
        {
            "username": username,
            "email": f"{username}@simulator.invalid",
            "country": "ZZ",
            "birthdate": (date(1970, 1, 1) + timedelta(days=rng.randrange(12_000))).isoformat(),
            "gender": rng.choice(("female", "male", "neutral")),
            "postalCode": None,
            "mobileNumber": None,
            "mobileOperator": None,
            "mobileBrand": None,
            "creationTime": (date(2012, 1, 1) + timedelta(days=rng.randrange(3_000))).isoformat(),
        },
        indent=2,
    )
    members[f"{ACCOUNT_FOLDER}/Follow.json"] = _dump(
        {"followerCount": 0, "followingUsersCount": rng.randint(0, 40), "dismissingUsersCount": 0}, indent=2
    )
    return _write_members(members, target, as_zip)


def _is_video(entry: dict, fraction: float) -> bool:
    """Music videos are track plays too; which ones is a pure function of the entry."""
    uri = entry.get("spotify_track_uri")
    if not uri or fraction <= 0:
        return False
    return _unit(f"video:{entry['ts']}:{uri}:{entry['ms_played']}") < fraction


def _years(chunk: list[dict]) -> str:
    first, last = chunk[0]["ts"][:4], chunk[-1]["ts"][:4]
    return first if first == last else f"{first}-{last}"


def _chunks(rows: list[dict], size: int) -> list[list[dict]]:
    return [rows[i:i + size] for i in range(0, len(rows), size)]


def _dump(value: Any, *, indent: int | None) -> bytes:
    return json.dumps(value, indent=indent, ensure_ascii=False).encode("utf-8")


def _write_members(members: dict[str, bytes], target: Path, as_zip: bool) -> Path:
    target = Path(target)
    if as_zip:
        if target.is_dir():
            target = target / ZIP_NAME
        target.parent.mkdir(parents=True, exist_ok=True)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, data in members.items():
                archive.writestr(zipfile.ZipInfo(name, date_time=_ZIP_DATE), data, zipfile.ZIP_DEFLATED)
        target.write_bytes(buffer.getvalue())
        return target
    for name, data in members.items():
        path = target / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return target


# -- small helpers ----------------------------------------------------------------


def _ts(ms: int) -> str:
    """Extended history's `ts`: UTC, whole seconds (floored), `Z` suffix."""
    return datetime.fromtimestamp(ms // 1000, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _end_time(ms: int) -> str:
    """Account data's `endTime`: the same moment floored to the minute, UTC, no zone."""
    return datetime.fromtimestamp(ms // 1000, timezone.utc).strftime("%Y-%m-%d %H:%M")


def _unit(key: str) -> float:
    """A uniform number in [0, 1) that only depends on `key` (stable across processes)."""
    digest = hashlib.blake2b(key.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64
