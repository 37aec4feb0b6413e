"""Turning a landed recently-played answer into warehouse rows.

Spotify's play-history items carry the full track, its simplified album and its
simplified artists, so the catalog comes free with every pull. Each item is
checked for the fields the warehouse needs; a pull that lacks one is rejected
whole with a message naming the item and field, and nothing of it is stored.
Local files (`is_local`, no Spotify id) are skipped and counted, not rejected;
any other track without an id rejects the pull. Values are checked against what
the warehouse can hold and what Spotify can mean (whole numbers in range, names of
sane length, text that is valid Unicode), so no pull can fail a load statement
and block the user's later pulls. A play dated after the fetch (beyond a few
minutes of clock skew) is not stored: it is counted and named on the pull's record.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

# Bounds of what a field can mean; anything outside rejects the pull, naming the field.
INT_BOUNDS = {
    "duration_ms": (0, 24 * 3600 * 1000),  # no track is longer than a day
    "disc_number": (0, 1000),
    "track_number": (0, 100_000),
    "popularity": (0, 100),
    "total_tracks": (0, 100_000),
}
MAX_TEXT_LENGTH = 4096  # names and ids: Spotify's are far shorter; a longer one is not a name
CLOCK_SKEW = timedelta(minutes=5)  # how far after the fetch a played_at may lie and still be stored


class MalformedPullError(ValueError):
    """A landed answer does not have the shape of Spotify's play history."""


@dataclass
class ParsedPull:
    pull_id: str
    user_id: str
    fetched_at: datetime
    listens: list[dict[str, Any]] = field(default_factory=list)
    tracks: list[dict[str, Any]] = field(default_factory=list)
    albums: list[dict[str, Any]] = field(default_factory=list)
    artists: list[dict[str, Any]] = field(default_factory=list)
    track_artists: list[dict[str, Any]] = field(default_factory=list)
    album_artists: list[dict[str, Any]] = field(default_factory=list)
    item_count: int = 0
    skipped_local: int = 0
    # items dated after fetched_at + CLOCK_SKEW, not stored: "items[i] <played_at>"
    future_plays: list[str] = field(default_factory=list)

    @property
    def played_at_values(self) -> list[datetime]:
        return [listen["played_at_dt"] for listen in self.listens]


def _checked(value: Any, key: str, where: str) -> Any:
    """A value of the right type, checked against what the warehouse holds and what it can mean."""
    if isinstance(value, int) and not isinstance(value, bool):
        low, high = INT_BOUNDS.get(key, (-(2**31), 2**31 - 1))
        if not low <= value <= high:
            raise MalformedPullError(f"{where}.{key} is {value}, outside {low}..{high}")
    elif isinstance(value, str):
        if len(value) > MAX_TEXT_LENGTH:
            raise MalformedPullError(f"{where}.{key} is {len(value):,} characters long (at most {MAX_TEXT_LENGTH})")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise MalformedPullError(f"{where}.{key} is not valid Unicode text") from None
        if "\x00" in value:
            raise MalformedPullError(f"{where}.{key} contains a NUL character")
    return value


def _require(container: Any, key: str, where: str, kind: type | tuple[type, ...]) -> Any:
    if not isinstance(container, dict) or key not in container or container[key] is None:
        raise MalformedPullError(f"{where}.{key} is missing")
    value = container[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise MalformedPullError(f"{where}.{key} has type {type(value).__name__}, expected {_kind_name(kind)}")
    if isinstance(value, str) and not value.strip():
        raise MalformedPullError(f"{where}.{key} is empty")
    return _checked(value, key, where)


def _optional(container: Any, key: str, kind: type | tuple[type, ...], where: str) -> Any:
    """The value when it has the type; absent or another type is None (these fields are extras)."""
    if not isinstance(container, dict):
        return None
    value = container.get(key)
    if isinstance(value, kind) and not (kind is int and isinstance(value, bool)):
        return _checked(value, key, where)
    return None


def _kind_name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(k.__name__ for k in kinds)


def parse_played_at(raw: str, where: str) -> datetime:
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError as exc:
        raise MalformedPullError(f"{where}.played_at {raw[:64]!r} is not an ISO 8601 time") from exc
    if moment.tzinfo is None:
        raise MalformedPullError(f"{where}.played_at {raw!r} has no time zone")
    try:
        return moment.astimezone(timezone.utc)
    except OverflowError:
        raise MalformedPullError(f"{where}.played_at {raw!r} is out of range") from None


def _first_image(obj: dict[str, Any]) -> str | None:
    images = obj.get("images")
    if isinstance(images, list) and images and isinstance(images[0], dict):
        url = images[0].get("url")
        return url if isinstance(url, str) else None
    return None


def _artist_row(artist: dict[str, Any], where: str) -> dict[str, Any]:
    return {
        "artist_id": _require(artist, "id", where, str),
        "name": _require(artist, "name", where, str),
        "uri": _optional(artist, "uri", str, where),
    }


@dataclass
class CatalogRows:
    """Rows for the catalog tables, deduplicated by key, gathered from full track objects."""

    tracks: dict[str, dict[str, Any]] = field(default_factory=dict)
    albums: dict[str, dict[str, Any]] = field(default_factory=dict)
    artists: dict[str, dict[str, Any]] = field(default_factory=dict)
    track_artists: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    album_artists: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)


def add_track(catalog: CatalogRows, track: Any, track_where: str) -> str:
    """Check a full track object (with its simplified album and artists) and add its rows; returns its id.

    Recently-played items and `GET /tracks` answers carry the same TrackObject, so the crawl and
    the resolution of imported tracks read it the same way.
    """
    if not isinstance(track, dict):
        raise MalformedPullError(f"{track_where} is not an object")
    track_id = _require(track, "id", track_where, str)
    album = _require(track, "album", track_where, dict)
    album_where = f"{track_where}.album"
    album_id = _require(album, "id", album_where, str)
    track_artist_list = _require(track, "artists", track_where, list)
    if not track_artist_list:
        raise MalformedPullError(f"{track_where}.artists is empty")
    catalog.tracks[track_id] = {
        "track_id": track_id,
        "name": _require(track, "name", track_where, str),
        "duration_ms": _require(track, "duration_ms", track_where, int),
        "album_id": album_id,
        "disc_number": _optional(track, "disc_number", int, track_where),
        "track_number": _optional(track, "track_number", int, track_where),
        "explicit": _optional(track, "explicit", bool, track_where),
        "popularity": _optional(track, "popularity", int, track_where),
        "isrc": _optional(track.get("external_ids"), "isrc", str, f"{track_where}.external_ids"),
        "uri": _optional(track, "uri", str, track_where),
    }
    catalog.albums[album_id] = {
        "album_id": album_id,
        "name": _require(album, "name", album_where, str),
        "album_type": _optional(album, "album_type", str, album_where),
        "release_date": _optional(album, "release_date", str, album_where),
        "release_date_precision": _optional(album, "release_date_precision", str, album_where),
        "total_tracks": _optional(album, "total_tracks", int, album_where),
        "image_url": _first_image(album),
        "uri": _optional(album, "uri", str, album_where),
    }
    for position, artist in enumerate(track_artist_list):
        row = _artist_row(artist, f"{track_where}.artists[{position}]")
        catalog.artists.setdefault(row["artist_id"], row)
        catalog.track_artists.setdefault(
            (track_id, row["artist_id"]),
            {"track_id": track_id, "artist_id": row["artist_id"], "position": position},
        )
    album_artists = album.get("artists")
    if album_artists is not None and not isinstance(album_artists, list):
        raise MalformedPullError(f"{album_where}.artists has type {type(album_artists).__name__}, expected list")
    for position, artist in enumerate(album_artists or []):
        row = _artist_row(artist, f"{album_where}.artists[{position}]")
        catalog.artists.setdefault(row["artist_id"], row)
        catalog.album_artists.setdefault(
            (album_id, row["artist_id"]),
            {"album_id": album_id, "artist_id": row["artist_id"], "position": position},
        )
    return track_id


def parse_recently_played(
    payload: Any, *, pull_id: str, user_id: str, fetched_at: datetime
) -> ParsedPull:
    """Rows for every table a pull touches, deduplicated within the pull."""
    if not isinstance(payload, dict):
        raise MalformedPullError(f"pull {pull_id}: the answer is not a JSON object")
    items = payload.get("items")
    if not isinstance(items, list):
        raise MalformedPullError(f"pull {pull_id}: the answer has no 'items' list")
    parsed = ParsedPull(pull_id=pull_id, user_id=user_id, fetched_at=fetched_at, item_count=len(items))
    catalog = CatalogRows()
    listens: dict[tuple[str, datetime], dict[str, Any]] = {}
    for index, item in enumerate(items):
        where = f"pull {pull_id}: items[{index}]"
        if not isinstance(item, dict):
            raise MalformedPullError(f"{where} is not an object")
        track = _require(item, "track", where, dict)
        played_at = parse_played_at(_require(item, "played_at", where, str), where)
        if played_at > fetched_at + CLOCK_SKEW:
            parsed.future_plays.append(f"items[{index}] {played_at.isoformat()}")
            continue
        if track.get("is_local") is True:
            # Local files have no Spotify id and no catalog entry: counted, not stored.
            parsed.skipped_local += 1
            continue
        track_id = add_track(catalog, track, f"{where}.track")
        context = item.get("context")
        listens[(track_id, played_at)] = {
            "user_id": user_id,
            "played_at": played_at.isoformat(),
            "played_at_dt": played_at,
            "track_id": track_id,
            "context_uri": _optional(context, "uri", str, f"{where}.context"),
            "pull_id": pull_id,
        }
    parsed.listens = list(listens.values())
    parsed.tracks = list(catalog.tracks.values())
    parsed.albums = list(catalog.albums.values())
    parsed.artists = list(catalog.artists.values())
    parsed.track_artists = list(catalog.track_artists.values())
    parsed.album_artists = list(catalog.album_artists.values())
    return parsed
