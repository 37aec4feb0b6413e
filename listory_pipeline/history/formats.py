"""Reading the entries of one export file, in every shape Spotify has shipped.

Extended Streaming History (`Streaming_History_Audio_*.json`, `..._Video_*.json`, the older
`endsong_*.json`): one object per play with `ts` (UTC, seconds, the END of the play),
`ms_played`, `spotify_track_uri` and names. Its fields changed over the years (late 2024
dropped `username` and `user_agent_decrypted` and renamed `ip_addr_decrypted` to `ip_addr`;
2025 added audiobook fields; `skipped` may be null; `offline_timestamp` is epoch
milliseconds in older files and seconds in newer ones, 0 or null when absent), so only `ts`
and `ms_played` are required and every other field may be missing or null.

Account data (`StreamingHistory_music_*.json`, legacy `StreamingHistory<n>.json`): `endTime`
(UTC, the extended `ts` rounded down to the minute), `artistName`, `trackName`, `msPlayed`;
no track URI, no reasons, no incognito flag. Podcasts have their own file.

Each file becomes columns (`EntryColumns`), not a list of objects: a 10-year export is a
quarter of a million entries, and columns go to Polars and Parquet without another copy.
Personal data (IP address, user agent, platform, country) is never read into them.
A file that is not JSON, is truncated or has an entry of the wrong shape raises
`HistoryInputError` naming the file and the entry.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from listory_pipeline.history.archive import (
    KIND_EXTENDED,
    KIND_SHORT_MUSIC,
    KIND_SHORT_PODCAST,
    KIND_UNKNOWN_JSON,
    KIND_USERDATA,
    ExportFile,
)
from listory_pipeline.history.errors import HistoryInputError

# Spotify launched in 2008; anything before 2006 is a broken timestamp, not a play.
EARLIEST_PLAY = datetime(2006, 1, 1, tzinfo=timezone.utc)
# A clock a little ahead is not a broken file; a play days in the future is.
FUTURE_TOLERANCE = timedelta(days=1)
# Longer than any audiobook chapter or podcast episode played in one go.
MAX_MS_PLAYED = 7 * 24 * 3600 * 1000
# Epoch values at or above this are milliseconds (1e11 s would be the year 5138).
MILLISECOND_EPOCH_THRESHOLD = 100_000_000_000
# No timestamp of a play lies beyond the year 2200 (in milliseconds).
LATEST_EPOCH_MS = 7_258_118_400_000

_TRACK_URI = re.compile(r"^spotify:track:([0-9A-Za-z]{22})$")
_SHORT_END_TIME = re.compile(r"^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2})$")

CONTENT_MUSIC = "music"
CONTENT_PODCAST = "podcast"
CONTENT_AUDIOBOOK = "audiobook"
CONTENT_LOCAL = "local"  # names but no Spotify id: a local file
CONTENT_UNKNOWN = "unknown"  # neither a track, an episode nor names

PRECISION_SECOND = "second"
PRECISION_MINUTE = "minute"


@dataclass
class EntryColumns:
    """The entries of one file as columns; row i of every list is entry i of the file."""

    precision: str
    played_at_ms: list[int] = field(default_factory=list)
    ms_played: list[int] = field(default_factory=list)
    content: list[str] = field(default_factory=list)
    track_id: list[str | None] = field(default_factory=list)
    track_name: list[str | None] = field(default_factory=list)
    artist_name: list[str | None] = field(default_factory=list)
    album_name: list[str | None] = field(default_factory=list)
    reason_start: list[str | None] = field(default_factory=list)
    reason_end: list[str | None] = field(default_factory=list)
    shuffle: list[bool | None] = field(default_factory=list)
    skipped: list[bool | None] = field(default_factory=list)
    offline: list[bool | None] = field(default_factory=list)
    offline_at_ms: list[int | None] = field(default_factory=list)
    incognito: list[bool] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.played_at_ms)

    def add(
        self,
        *,
        played_at_ms: int,
        ms_played: int,
        content: str,
        track_id: str | None = None,
        track_name: str | None = None,
        artist_name: str | None = None,
        album_name: str | None = None,
        reason_start: str | None = None,
        reason_end: str | None = None,
        shuffle: bool | None = None,
        skipped: bool | None = None,
        offline: bool | None = None,
        offline_at_ms: int | None = None,
        incognito: bool = False,
    ) -> None:
        """One entry; what a format does not say stays null."""
        for name, value in locals().items():
            if name != "self":
                getattr(self, name).append(value)


@dataclass
class ParsedFile:
    file: ExportFile
    format: str  # "extended" | "short_music" | "short_podcast"
    columns: EntryColumns | None  # None once the reader has made its table of them
    # username -> index of the first entry naming it (older exports carry one per entry)
    usernames: dict[str, int] = field(default_factory=dict)


def load_json(file: ExportFile, data: bytes) -> Any:
    """The decoded document; the error says where a truncated or broken file stops making sense."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return json.loads(data)
    except json.JSONDecodeError as exc:
        # A file cut short (an interrupted download or unzip) no longer ends its list.
        hint = " (the file looks truncated)" if not data.rstrip().endswith((b"]", b"}")) else ""
        raise HistoryInputError(
            f"{file.display_name} is not valid JSON{hint}: {exc.msg} at line {exc.lineno}, column {exc.colno}"
        ) from None
    except UnicodeDecodeError as exc:
        raise HistoryInputError(f"{file.display_name} is not UTF-8 text: {exc.reason} at byte {exc.start}") from None
    except RecursionError:
        raise HistoryInputError(f"{file.display_name} is nested too deeply to be a streaming history") from None


def sniff_format(file: ExportFile, document: Any) -> str:
    """The format of a file whose name said nothing, from its first entry."""
    first = document[0] if isinstance(document, list) and document else None
    if isinstance(first, dict):
        if "ts" in first and "ms_played" in first:
            return KIND_EXTENDED
        if "endTime" in first and "trackName" in first:
            return KIND_SHORT_MUSIC
        if "endTime" in first and "podcastName" in first:
            return KIND_SHORT_PODCAST
    raise HistoryInputError(
        f"{file.display_name} is not a Spotify streaming history: expected a list of entries with "
        "'ts' and 'ms_played' (Extended Streaming History) or 'endTime' and 'trackName' (Account data)"
    )


def parse_file(file: ExportFile, *, now: datetime, data: bytes | None = None) -> ParsedFile:
    """Entries of one history file (`data`: its bytes, if read already), checked; raises
    `HistoryInputError` naming file and entry."""
    document = load_json(file, file.read_bytes() if data is None else data)
    del data
    kind = file.kind
    if kind == KIND_UNKNOWN_JSON:
        kind = sniff_format(file, document)
    if not isinstance(document, list):
        raise HistoryInputError(
            f"{file.display_name} is not a streaming history: the file holds a JSON "
            f"{type(document).__name__}, not a list of entries"
        )
    latest_ms = int((now + FUTURE_TOLERANCE).timestamp() * 1000)
    if kind == KIND_EXTENDED:
        fast = _extended_columns_fast(document, latest_ms)
        if fast is not None:
            columns, usernames = fast
            return ParsedFile(file, KIND_EXTENDED, columns, usernames)
        return _parse_extended(file, document, latest_ms)
    if kind == KIND_SHORT_MUSIC:
        return _parse_short_music(file, document, latest_ms)
    if kind == KIND_SHORT_PODCAST:
        return _parse_short_podcast(file, document, latest_ms)
    raise HistoryInputError(f"{file.display_name}: no streaming history parser for files of kind {kind!r}")


def read_userdata_username(file: ExportFile) -> str | None:
    """The account's username from Account data's Userdata.json, if it says."""
    if file.kind != KIND_USERDATA:
        raise ValueError(f"{file.display_name} is not Userdata.json")
    document = load_json(file, file.read_bytes())
    username = document.get("username") if isinstance(document, dict) else None
    return username if isinstance(username, str) and username else None


class _EntryError(Exception):
    def __init__(self, field_name: str, problem: str) -> None:
        super().__init__(f"{field_name} {problem}")


def _describe(value: Any) -> str:
    text = json.dumps(value)[:60] if not isinstance(value, (dict, list)) else type(value).__name__
    return text


def _optional_str(entry: dict, key: str) -> str | None:
    value = entry.get(key)
    if value is None or isinstance(value, str):
        return value
    raise _EntryError(key, f"is {_describe(value)}, expected text or null")


def _optional_bool(entry: dict, key: str) -> bool | None:
    value = entry.get(key)
    if value is None or isinstance(value, bool):
        return value
    raise _EntryError(key, f"is {_describe(value)}, expected true, false or null")


def _ms_value(entry: dict, key: str) -> int:
    value = entry.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _EntryError(key, "is missing" if value is None else f"is {_describe(value)}, expected milliseconds")
    if not 0 <= value <= MAX_MS_PLAYED or value != value:
        raise _EntryError(key, f"is {_describe(value)}, expected 0 to {MAX_MS_PLAYED} milliseconds")
    return int(value)


def _epoch_ms(value: Any) -> int | None:
    """`offline_timestamp`: milliseconds in older exports, seconds in newer; 0 or null when absent."""
    if value is None or value == 0:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= LATEST_EPOCH_MS:
        raise _EntryError("offline_timestamp", f"is {_describe(value)}, expected epoch seconds or milliseconds")
    return int(value) if value >= MILLISECOND_EPOCH_THRESHOLD else int(value * 1000)


def _check_time(played_ms: int, latest_ms: int, key: str, raw: str) -> None:
    if played_ms < _EARLIEST_MS:
        raise _EntryError(key, f"is {raw!r}, before Spotify existed")
    if played_ms > latest_ms:
        raise _EntryError(key, f"is {raw!r}, in the future")


_EARLIEST_MS = int(EARLIEST_PLAY.timestamp() * 1000)


def _parse_ts(entry: dict, latest_ms: int) -> int:
    raw = entry.get("ts")
    if not isinstance(raw, str):
        raise _EntryError("ts", "is missing" if raw is None else f"is {_describe(raw)}, expected a UTC timestamp")
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise _EntryError("ts", f"is {raw[:40]!r}, expected a timestamp like 2023-01-05T12:34:56Z") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    played_ms = int(moment.timestamp() * 1000)
    _check_time(played_ms, latest_ms, "ts", raw)
    return played_ms


def _content_of(track_uri: str | None, entry: dict, track_name: str | None) -> tuple[str, str | None]:
    if track_uri:
        match = _TRACK_URI.match(track_uri)
        if match:
            return CONTENT_MUSIC, match.group(1)
        if track_uri.startswith("spotify:local:"):
            return CONTENT_LOCAL, None
        raise _EntryError("spotify_track_uri", f"is {track_uri[:60]!r}, expected spotify:track:<22-character id>")
    if entry.get("spotify_episode_uri") or entry.get("episode_name") or entry.get("episode_show_name"):
        return CONTENT_PODCAST, None
    if entry.get("audiobook_uri") or entry.get("audiobook_title") or entry.get("audiobook_chapter_uri"):
        return CONTENT_AUDIOBOOK, None
    if track_name:
        return CONTENT_LOCAL, None
    return CONTENT_UNKNOWN, None

_NONE = type(None)
# The text fields that are stored or decide something; episode and audiobook fields only tell
# "not music" by being there, whatever their type, and are never stored.
_STR_FIELDS = (
    "master_metadata_track_name",
    "master_metadata_album_artist_name",
    "master_metadata_album_album_name",
    "spotify_track_uri",
    "reason_start",
    "reason_end",
    "username",
)
_BOOL_FIELDS = ("shuffle", "skipped", "offline", "incognito_mode")


def _types(values: list) -> set[type]:
    return set(map(type, values))


def _extended_columns_fast(document: list, latest_ms: int) -> tuple[EntryColumns, dict[str, int]] | None:
    """The file's columns, checked a column at a time; None when any entry needs a closer look.

    A ten-year export is a quarter of a million entries: checking each field of each entry in
    Python costs seconds, checking each column's set of types costs milliseconds. Anything
    unexpected falls back to `_parse_extended`, which names the entry and field.
    """
    if _types(document) - {dict}:
        return None
    columns = EntryColumns(precision=PRECISION_SECOND)
    if not document:
        return columns, {}
    values = {key: [entry.get(key) for entry in document] for key in ("ts", "ms_played", "offline_timestamp", *_STR_FIELDS, *_BOOL_FIELDS)}
    if _types(values["ts"]) != {str} or _types(values["ms_played"]) - {int, float}:
        return None
    if any(_types(values[key]) - {str, _NONE} for key in _STR_FIELDS):
        return None
    if any(_types(values[key]) - {bool, _NONE} for key in _BOOL_FIELDS):
        return None
    if _types(values["offline_timestamp"]) - {int, float, _NONE}:
        return None
    try:
        moments = [datetime.fromisoformat(raw) for raw in values["ts"]]
    except ValueError:
        return None
    if any(moment.tzinfo is None for moment in moments):
        return None
    played = [int(moment.timestamp() * 1000) for moment in moments]
    ms_played = values["ms_played"]
    if min(played) < _EARLIEST_MS or max(played) > latest_ms:
        return None
    if not all(0 <= value <= MAX_MS_PLAYED for value in ms_played):  # also false for NaN
        return None
    offline = values["offline_timestamp"]
    if any(value is not None and not 0 <= value <= LATEST_EPOCH_MS for value in offline):
        return None
    content, track_ids = [], []
    for entry, uri, name in zip(document, values["spotify_track_uri"], values["master_metadata_track_name"]):
        match = _TRACK_URI.match(uri) if uri else None
        if match:
            content.append(CONTENT_MUSIC)
            track_ids.append(match.group(1))
            continue
        if uri and not uri.startswith("spotify:local:"):
            return None
        try:
            kind, _ = _content_of(uri, entry, name)
        except _EntryError:
            return None
        content.append(kind)
        track_ids.append(None)
    columns.played_at_ms = played
    columns.ms_played = [int(value) for value in ms_played]
    columns.content = content
    columns.track_id = track_ids
    columns.track_name = values["master_metadata_track_name"]
    columns.artist_name = values["master_metadata_album_artist_name"]
    columns.album_name = values["master_metadata_album_album_name"]
    columns.reason_start = values["reason_start"]
    columns.reason_end = values["reason_end"]
    columns.shuffle = values["shuffle"]
    columns.skipped = values["skipped"]
    columns.offline = values["offline"]
    columns.offline_at_ms = [
        None if not value else int(value) if value >= MILLISECOND_EPOCH_THRESHOLD else int(value * 1000)
        for value in offline
    ]
    columns.incognito = [bool(value) for value in values["incognito_mode"]]
    names = values["username"]
    return columns, {name: names.index(name) for name in set(names) if name}


def _each_entry(file: ExportFile, document: list, columns: EntryColumns, read_entry) -> None:
    """Add every entry through `read_entry(index, entry) -> row`, naming the entry of the first problem."""
    for index, entry in enumerate(document):
        try:
            if not isinstance(entry, dict):
                raise _EntryError("the entry", f"is {_describe(entry)}, expected an object")
            columns.add(**read_entry(index, entry))
        except _EntryError as exc:
            raise HistoryInputError(f"{file.display_name}, entry {index}: {exc}") from None


def _parse_extended(file: ExportFile, document: list, latest_ms: int) -> ParsedFile:
    """Entry by entry, every field checked: slower than the column-wise path, and exact about problems."""
    columns = EntryColumns(precision=PRECISION_SECOND)
    usernames: dict[str, int] = {}

    def read_entry(index: int, entry: dict) -> dict[str, Any]:
        played_ms = _parse_ts(entry, latest_ms)
        ms_played = _ms_value(entry, "ms_played")
        track_name = _optional_str(entry, "master_metadata_track_name")
        content, track_id = _content_of(_optional_str(entry, "spotify_track_uri"), entry, track_name)
        username = _optional_str(entry, "username")
        if username and username not in usernames:
            usernames[username] = index
        return {
            "played_at_ms": played_ms,
            "ms_played": ms_played,
            "content": content,
            "track_id": track_id,
            "track_name": track_name,
            "artist_name": _optional_str(entry, "master_metadata_album_artist_name"),
            "album_name": _optional_str(entry, "master_metadata_album_album_name"),
            "reason_start": _optional_str(entry, "reason_start"),
            "reason_end": _optional_str(entry, "reason_end"),
            "shuffle": _optional_bool(entry, "shuffle"),
            "skipped": _optional_bool(entry, "skipped"),
            "offline": _optional_bool(entry, "offline"),
            "offline_at_ms": _epoch_ms(entry.get("offline_timestamp")),
            "incognito": bool(_optional_bool(entry, "incognito_mode")),
        }

    _each_entry(file, document, columns, read_entry)
    return ParsedFile(file, KIND_EXTENDED, columns, usernames)


def _parse_end_time(entry: dict, latest_ms: int) -> int:
    raw = entry.get("endTime")
    match = _SHORT_END_TIME.match(raw) if isinstance(raw, str) else None
    if match is None:
        problem = "is missing" if raw is None else f"is {_describe(raw)}, expected UTC time like 2023-01-05 12:34"
        raise _EntryError("endTime", problem)
    try:
        moment = datetime(*(int(part) for part in match.groups()), tzinfo=timezone.utc)
    except ValueError:
        raise _EntryError("endTime", f"is {raw!r}, not a calendar time") from None
    played_ms = int(moment.timestamp() * 1000)
    _check_time(played_ms, latest_ms, "endTime", raw)
    return played_ms


def _required_str(entry: dict, key: str) -> str:
    value = entry.get(key)
    if not isinstance(value, str):
        raise _EntryError(key, "is missing" if value is None else f"is {_describe(value)}, expected text")
    return value


def _parse_short_music(file: ExportFile, document: list, latest_ms: int) -> ParsedFile:
    columns = EntryColumns(precision=PRECISION_MINUTE)

    def read_entry(index: int, entry: dict) -> dict[str, Any]:
        played_ms = _parse_end_time(entry, latest_ms)
        ms_played = _ms_value(entry, "msPlayed")
        artist_name = _required_str(entry, "artistName")
        track_name = _required_str(entry, "trackName")
        # Spotify writes "Unknown Track" for entries it cannot name.
        named = bool(track_name.strip()) and track_name != "Unknown Track"
        return {
            "played_at_ms": played_ms,
            "ms_played": ms_played,
            "content": CONTENT_MUSIC if named else CONTENT_UNKNOWN,
            "track_name": track_name,
            "artist_name": artist_name,
        }

    _each_entry(file, document, columns, read_entry)
    return ParsedFile(file, KIND_SHORT_MUSIC, columns)


def _parse_short_podcast(file: ExportFile, document: list, latest_ms: int) -> ParsedFile:
    columns = EntryColumns(precision=PRECISION_MINUTE)

    def read_entry(index: int, entry: dict) -> dict[str, Any]:
        played_ms = _parse_end_time(entry, latest_ms)
        ms_played = _ms_value(entry, "msPlayed")
        _required_str(entry, "podcastName")
        return {"played_at_ms": played_ms, "ms_played": ms_played, "content": CONTENT_PODCAST}

    _each_entry(file, document, columns, read_entry)
    return ParsedFile(file, KIND_SHORT_PODCAST, columns)
