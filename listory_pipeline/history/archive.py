"""Finding the files of a Spotify privacy export among the paths given to `import-history`.

Users hand us whatever they have: the mailed `my_spotify_data.zip`, the folder they
unpacked it into, a single JSON file, or a folder holding several exports. This module
turns those paths into a flat list of the files worth parsing, and nothing else.

A zip is an untrusted input, so it is never extracted to disk and every check on member
names and declared sizes runs here, before any content is read: a crafted archive (path
traversal, symlinks, zip bombs, encryption) refuses the whole call up front instead of
failing halfway through an import. Content is only read later through
`ExportFile.read_bytes`, which trusts no header and stops at the declared size.
"""

from __future__ import annotations

import lzma
import os
import re
import stat
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Sequence

from listory_pipeline.history.errors import HistoryInputError

KIND_EXTENDED = "extended"
KIND_SHORT_MUSIC = "short_music"
KIND_SHORT_PODCAST = "short_podcast"
KIND_USERDATA = "userdata"
KIND_UNKNOWN_JSON = "unknown_json"

_MIB = 1024**2
_READ_CHUNK_BYTES = _MIB
# Small members compress wildly (a run of `[]` or spaces) without being dangerous, so the
# ratio rule only looks at members big enough to hurt.
_RATIO_CHECKED_ABOVE_BYTES = _MIB
# A local file header, or the end record of an empty archive.
_ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")
_READABLE_METHODS = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA}
_ENCRYPTED_FLAG = 0x1
_DRIVE_LETTER = re.compile(r"^[A-Za-z]:")

# Matched case-insensitively against the whole base name, wherever the file sits.
_KIND_PATTERNS = (
    (KIND_EXTENDED, re.compile(r"streaming_history_(?:audio|video)(?:_[\w-]+)?\.json", re.IGNORECASE)),
    (KIND_EXTENDED, re.compile(r"endsong(?:_\d+)?\.json", re.IGNORECASE)),
    (KIND_SHORT_MUSIC, re.compile(r"streaminghistory(?:_music_\d+|\d+)\.json", re.IGNORECASE)),
    (KIND_SHORT_PODCAST, re.compile(r"streaminghistory_podcast_\d+\.json", re.IGNORECASE)),
    (KIND_USERDATA, re.compile(r"userdata\.json", re.IGNORECASE)),
)
_EXPECTED_NAMES = (
    "my_spotify_data.zip or the files in it: Streaming_History_Audio_*.json, endsong_*.json "
    "(Extended Streaming History), StreamingHistory_music_*.json, StreamingHistory_podcast_*.json "
    "(Account data)"
)

# What zipfile and the decompressors raise on a damaged or truncated archive.
_DAMAGED_ZIP_ERRORS = (
    zipfile.BadZipFile, EOFError, OSError, zlib.error, lzma.LZMAError,
    NotImplementedError, RuntimeError, ValueError,
)


@dataclass(frozen=True)
class ArchiveLimits:
    """Bounds no real export comes near; anything past them is a zip bomb or not an export."""

    max_member_bytes: int = 256 * 1024**2
    max_total_bytes: int = 4 * 1024**3
    max_compression_ratio: float = 200.0
    max_members: int = 20_000


@dataclass(frozen=True)
class _Source:
    """Where an ExportFile's bytes live: a plain file, or one member of a zip."""

    path: Path
    member_name: str | None
    header_offset: int | None
    max_bytes: int


@dataclass(frozen=True)
class ExportFile:
    """One file of an export, not read yet; sizes are declared, content comes from `read_bytes`."""

    display_name: str
    base_name: str
    kind: str
    size: int
    _source: _Source = field(compare=False, repr=False)

    def read_bytes(self) -> bytes:
        """The whole content, read with bounds so a lying zip header cannot flood memory."""
        if self._source.member_name is None:
            return _read_plain_file(self._source, self.display_name)
        return _read_zip_member(self._source, self.display_name, self.size)


def collect_export_files(
    paths: Sequence[Path | str], limits: ArchiveLimits = ArchiveLimits()
) -> list[ExportFile]:
    """Every export file in `paths` (folders walked, zips listed), sorted by (kind, display_name).

    Raises HistoryInputError, naming the path (and zip member), when a path is missing,
    an archive is damaged or unsafe, a limit is exceeded, or no history file is found.
    """
    if isinstance(paths, (str, Path)):
        paths = [paths]
    if not paths:
        raise HistoryInputError(f"no paths given; expected {_EXPECTED_NAMES}")
    found: list[ExportFile] = []
    for raw_path in paths:
        found.extend(_collect_path(Path(raw_path), limits))
    _check_total_size(found, limits)
    if all(export_file.kind == KIND_USERDATA for export_file in found):
        searched = ", ".join(str(path) for path in paths)
        only_userdata = " (only Userdata.json, which holds no plays)" if found else ""
        raise HistoryInputError(
            f"no Spotify listening history found in {searched}{only_userdata}; expected {_EXPECTED_NAMES}"
        )
    return sorted(found, key=lambda export_file: (export_file.kind, export_file.display_name))


def kind_of(base_name: str) -> str | None:
    """The KIND_* a file name belongs to, or None for a name no export uses."""
    for kind, pattern in _KIND_PATTERNS:
        if pattern.fullmatch(base_name):
            return kind
    return None


def _collect_path(path: Path, limits: ArchiveLimits) -> list[ExportFile]:
    if not path.exists():
        raise HistoryInputError(f"{path} does not exist")
    if path.is_dir():
        return _collect_folder(path, limits)
    return _collect_file(path, limits, named_explicitly=True)


def _collect_folder(root: Path, limits: ArchiveLimits) -> list[ExportFile]:
    """Walks without following symlinked folders, so a link cannot pull in (or loop over) other trees."""

    def refuse_unreadable(error: OSError) -> None:
        raise HistoryInputError(f"cannot read the folder {error.filename}: {error.strerror}") from error

    found: list[ExportFile] = []
    for folder, subfolders, file_names in os.walk(root, onerror=refuse_unreadable):
        subfolders[:] = sorted(name for name in subfolders if not name.startswith("."))
        for name in sorted(file_names):
            if name.startswith("."):
                continue
            if name.lower().endswith(".zip") or kind_of(name) is not None:
                found.extend(_collect_file(Path(folder, name), limits, named_explicitly=False))
    return found


def _collect_file(path: Path, limits: ArchiveLimits, *, named_explicitly: bool) -> list[ExportFile]:
    if _has_zip_magic(path):
        return _collect_zip(path, limits)
    if path.name.lower().endswith(".zip"):
        raise HistoryInputError(f"{path} is not a zip archive (damaged, or not fully downloaded?)")
    kind = kind_of(path.name)
    if kind is None:
        if not named_explicitly:
            return []
        if not path.name.lower().endswith(".json"):
            raise HistoryInputError(f"{path} is neither a .json file nor a zip archive")
        kind = KIND_UNKNOWN_JSON
    try:
        size = path.stat().st_size
    except OSError as error:
        raise HistoryInputError(f"cannot read {path}: {error.strerror}") from error
    if size > limits.max_member_bytes:
        raise HistoryInputError(
            f"{path} is {size:,} bytes, over the limit of {limits.max_member_bytes:,} bytes "
            "per file (max_member_bytes); no Spotify export file is that big"
        )
    source = _Source(path=path, member_name=None, header_offset=None, max_bytes=limits.max_member_bytes)
    return [ExportFile(display_name=str(path), base_name=path.name, kind=kind, size=size, _source=source)]


def _has_zip_magic(path: Path) -> bool:
    """Decided by content, since downloads get renamed and `.zip` names get lost."""
    try:
        with path.open("rb") as stream:
            return stream.read(4) in _ZIP_MAGICS
    except OSError as error:
        raise HistoryInputError(f"cannot read {path}: {error.strerror}") from error


def _collect_zip(zip_path: Path, limits: ArchiveLimits) -> list[ExportFile]:
    """Lists the matching members after checking every entry; reads no member content."""
    try:
        with zipfile.ZipFile(zip_path) as archive:
            members = archive.infolist()
    except _DAMAGED_ZIP_ERRORS as error:
        raise HistoryInputError(f"{zip_path} is a damaged or truncated zip archive ({error})") from error
    if len(members) > limits.max_members:
        raise HistoryInputError(
            f"{zip_path} has {len(members):,} entries, more than the {limits.max_members:,} allowed "
            "(max_members); it looks like a zip bomb, not a Spotify export"
        )
    found: list[ExportFile] = []
    for member in members:
        _refuse_unsafe_entry(zip_path, member)
        base_name = member.filename.replace("\\", "/").rsplit("/", 1)[-1]
        kind = kind_of(base_name)
        if kind is None or member.is_dir():
            continue
        display_name = f"{zip_path}!{member.filename}"
        _refuse_unreadable_member(display_name, member)
        _refuse_oversized_member(display_name, member, limits)
        source = _Source(
            path=zip_path, member_name=member.filename,
            header_offset=member.header_offset, max_bytes=limits.max_member_bytes,
        )
        found.append(ExportFile(
            display_name=display_name, base_name=base_name, kind=kind, size=member.file_size, _source=source,
        ))
    return found


def _refuse_unsafe_entry(zip_path: Path, member: zipfile.ZipInfo) -> None:
    """Any entry, matching or not: an archive with such a name was crafted, not mailed by Spotify."""
    name = member.filename.replace("\\", "/")
    if name.startswith("/") or _DRIVE_LETTER.match(name) or ".." in name.split("/"):
        raise HistoryInputError(
            f"{zip_path}: entry {member.filename!r} escapes the archive folder; refusing the archive"
        )
    if stat.S_ISLNK(member.external_attr >> 16):
        raise HistoryInputError(
            f"{zip_path}: entry {member.filename!r} is a symbolic link; refusing the archive"
        )


def _refuse_unreadable_member(display_name: str, member: zipfile.ZipInfo) -> None:
    if member.flag_bits & _ENCRYPTED_FLAG:
        raise HistoryInputError(
            f"{display_name} is encrypted; Spotify exports are not, extract it with its password first"
        )
    if member.compress_type not in _READABLE_METHODS:
        raise HistoryInputError(
            f"{display_name} uses compression method {member.compress_type}, which cannot be read; "
            "re-create the zip with ordinary (deflate) compression"
        )


def _refuse_oversized_member(display_name: str, member: zipfile.ZipInfo, limits: ArchiveLimits) -> None:
    if member.file_size > limits.max_member_bytes:
        raise HistoryInputError(
            f"{display_name} declares {member.file_size:,} bytes uncompressed, over the limit of "
            f"{limits.max_member_bytes:,} bytes per file (max_member_bytes); it looks like a zip bomb"
        )
    if member.file_size > _RATIO_CHECKED_ABOVE_BYTES:
        ratio = member.file_size / max(member.compress_size, 1)
        if ratio > limits.max_compression_ratio:
            raise HistoryInputError(
                f"{display_name} expands {ratio:,.0f} times when uncompressed, over the limit of "
                f"{limits.max_compression_ratio:g} (max_compression_ratio); it looks like a zip bomb"
            )


def _check_total_size(found: list[ExportFile], limits: ArchiveLimits) -> None:
    total = 0
    for export_file in found:
        total += export_file.size
        if total > limits.max_total_bytes:
            looks_like = "; it looks like a zip bomb" if export_file._source.member_name is not None else ""
            raise HistoryInputError(
                f"the export files add up to more than {limits.max_total_bytes:,} bytes uncompressed "
                f"(max_total_bytes) once {export_file.display_name} is counted{looks_like}"
            )


def _read_plain_file(source: _Source, display_name: str) -> bytes:
    try:
        with source.path.open("rb") as stream:
            return read_bounded(stream, source.max_bytes, display_name)
    except OSError as error:
        raise HistoryInputError(f"cannot read {display_name}: {error.strerror}") from error


def _read_zip_member(source: _Source, display_name: str, declared_size: int) -> bytes:
    """Re-opens the zip so an ExportFile holds no open handle between listing and parsing."""
    try:
        with zipfile.ZipFile(source.path) as archive:
            member = next(
                (candidate for candidate in archive.infolist()
                 if candidate.filename == source.member_name and candidate.header_offset == source.header_offset),
                None,
            )
            if member is None:
                raise HistoryInputError(f"{display_name} is gone; the zip changed after it was listed")
            with archive.open(member) as stream:
                content = read_bounded(stream, min(declared_size, source.max_bytes), display_name)
    except HistoryInputError:
        raise
    except _DAMAGED_ZIP_ERRORS as error:
        raise HistoryInputError(
            f"{display_name} cannot be read, the zip archive is damaged or truncated ({error})"
        ) from error
    if len(content) != declared_size:
        raise HistoryInputError(
            f"{display_name} holds {len(content):,} bytes but its header declares {declared_size:,}; "
            "the zip archive is damaged"
        )
    return content


def read_bounded(stream: BinaryIO, max_bytes: int, display_name: str) -> bytes:
    """Reads in chunks and stops one byte past `max_bytes`, so a lying header costs at most that much."""
    content = bytearray()
    while True:
        chunk = stream.read(min(_READ_CHUNK_BYTES, max_bytes + 1 - len(content)))
        if not chunk:
            return bytes(content)
        content += chunk
        if len(content) > max_bytes:
            raise HistoryInputError(
                f"{display_name} produces more than the {max_bytes:,} bytes declared or allowed; "
                "the archive is damaged or crafted (a zip bomb?)"
            )
