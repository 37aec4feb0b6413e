"""What `import-history PATH...` finds in the folders, zips and files a user gives it, and what it refuses."""

from __future__ import annotations

import io
import stat
import struct
import zipfile
from pathlib import Path

import pytest

from listory_pipeline.history.archive import (
    KIND_EXTENDED,
    KIND_SHORT_MUSIC,
    KIND_SHORT_PODCAST,
    KIND_UNKNOWN_JSON,
    KIND_USERDATA,
    ArchiveLimits,
    collect_export_files,
    read_bounded,
)
from listory_pipeline.history.errors import HistoryInputError

MIB = 1024**2
EXTENDED_FOLDER = "Spotify Extended Streaming History"
ACCOUNT_FOLDER = "Spotify Account Data"
PLAYS = b'[{"ts": "2019-05-01T10:00:00Z", "ms_played": 1234}]'


def _zip(path: Path, members: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", compression) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return path


def _write(path: Path, content: bytes = PLAYS) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


def _patch_headers(zip_path: Path, member_name: str, *, local_offset: int, central_offset: int,
                   fmt: str, value: int) -> None:
    """Overwrites one field of a member in both its local header and its central directory entry,
    the way a crafted archive would (zipfile itself always writes honest headers)."""
    data = bytearray(zip_path.read_bytes())
    with zipfile.ZipFile(zip_path) as archive:
        local_header = archive.getinfo(member_name).header_offset
    struct.pack_into(fmt, data, local_header + local_offset, value)
    central = data.find(b"PK\x01\x02")
    while central != -1:
        name_length = struct.unpack_from("<H", data, central + 28)[0]
        if data[central + 46:central + 46 + name_length] == member_name.encode():
            struct.pack_into(fmt, data, central + central_offset, value)
            break
        central = data.find(b"PK\x01\x02", central + 1)
    zip_path.write_bytes(bytes(data))


def _summary(files) -> list[tuple[str, str, int]]:
    return [(export_file.kind, export_file.base_name, export_file.size) for export_file in files]


# --- what is found -------------------------------------------------------------------------------


def test_a_folder_is_walked_into_subfolders_skipping_hidden_unknown_and_symlinked_folders(tmp_path):
    export = tmp_path / "export"
    _write(export / "MyData" / "endsong_0.json")
    _write(export / "older" / "deeper" / "StreamingHistory0.json")
    _write(export / "MyData" / "Playlist1.json")  # account data we do not import
    _write(export / "MyData" / "ReadMeFirst.pdf", b"%PDF-1.4")
    _write(export / ".cache" / "endsong_9.json")
    _write(export / "MyData" / ".endsong_8.json")
    elsewhere = _write(tmp_path / "elsewhere" / "endsong_7.json")
    (export / "link").symlink_to(elsewhere.parent, target_is_directory=True)

    files = collect_export_files([export])

    assert _summary(files) == [
        (KIND_EXTENDED, "endsong_0.json", len(PLAYS)),
        (KIND_SHORT_MUSIC, "StreamingHistory0.json", len(PLAYS)),
    ]
    assert files[0].display_name == str(export / "MyData" / "endsong_0.json")
    assert files[0].read_bytes() == PLAYS


def test_an_extended_history_zip_yields_audio_and_video_files_and_ignores_the_pdf(tmp_path):
    video = b'[{"ts": "2020-01-01T00:00:00Z"}]'
    archive = _zip(tmp_path / "my_spotify_data.zip", {
        f"{EXTENDED_FOLDER}/Streaming_History_Audio_2019_0.json": PLAYS,
        f"{EXTENDED_FOLDER}/Streaming_History_Video_2019-2020.json": video,
        f"{EXTENDED_FOLDER}/ReadMeFirst_ExtendedStreamingHistory.pdf": b"%PDF-1.4",
    })

    files = collect_export_files([archive])

    assert [file.display_name for file in files] == [
        f"{archive}!{EXTENDED_FOLDER}/Streaming_History_Audio_2019_0.json",
        f"{archive}!{EXTENDED_FOLDER}/Streaming_History_Video_2019-2020.json",
    ]
    assert {file.kind for file in files} == {KIND_EXTENDED}
    assert [file.read_bytes() for file in files] == [PLAYS, video]
    assert [file.size for file in files] == [len(PLAYS), len(video)]


def test_a_legacy_extended_zip_with_endsong_files_is_found(tmp_path):
    archive = _zip(tmp_path / "my_spotify_data.zip", {"MyData/endsong_0.json": PLAYS, "MyData/Read_Me_First.pdf": b"x"})

    files = collect_export_files([str(archive)])

    assert _summary(files) == [(KIND_EXTENDED, "endsong_0.json", len(PLAYS))]
    assert files[0].read_bytes() == PLAYS


def test_an_account_data_zip_yields_music_podcast_and_userdata_and_ignores_the_rest(tmp_path):
    userdata = b'{"username": "anna"}'
    archive = _zip(tmp_path / "my_spotify_data.zip", {
        f"{ACCOUNT_FOLDER}/StreamingHistory_music_0.json": PLAYS,
        f"{ACCOUNT_FOLDER}/StreamingHistory_podcast_0.json": b"[]",
        f"{ACCOUNT_FOLDER}/Userdata.json": userdata,
        f"{ACCOUNT_FOLDER}/YourLibrary.json": b"{}",
        f"{ACCOUNT_FOLDER}/inner.zip": b"PK\x05\x06" + bytes(18),  # nested zips are not opened
    })

    files = collect_export_files([archive])

    assert _summary(files) == [
        (KIND_SHORT_MUSIC, "StreamingHistory_music_0.json", len(PLAYS)),
        (KIND_SHORT_PODCAST, "StreamingHistory_podcast_0.json", 2),
        (KIND_USERDATA, "Userdata.json", len(userdata)),
    ]
    assert files[2].read_bytes() == userdata


def test_names_match_case_insensitively_and_a_zip_is_recognised_by_content_not_extension(tmp_path):
    renamed = _zip(tmp_path / "download (1)", {"streaming_history_audio_2021_1.JSON": PLAYS})
    folder = tmp_path / "unpacked"
    _write(folder / "ENDSONG_3.json")
    _zip(folder / "second.zip", {"Spotify Account Data/streaminghistory_music_2.json": PLAYS})

    files = collect_export_files([renamed, folder])

    assert _summary(files) == [
        (KIND_EXTENDED, "streaming_history_audio_2021_1.JSON", len(PLAYS)),
        (KIND_EXTENDED, "ENDSONG_3.json", len(PLAYS)),
        (KIND_SHORT_MUSIC, "streaminghistory_music_2.json", len(PLAYS)),
    ]


def test_a_json_file_named_explicitly_with_an_unknown_name_is_returned_for_sniffing(tmp_path):
    renamed = _write(tmp_path / "my plays.json")

    files = collect_export_files([renamed])

    assert _summary(files) == [(KIND_UNKNOWN_JSON, "my plays.json", len(PLAYS))]
    assert files[0].display_name == str(renamed)
    assert files[0].read_bytes() == PLAYS


def test_the_same_export_given_as_zip_and_as_folder_is_returned_twice_in_a_stable_order(tmp_path):
    archive = _zip(tmp_path / "my_spotify_data.zip", {"MyData/endsong_0.json": PLAYS})
    folder = tmp_path / "MyData"
    _write(folder / "endsong_0.json")

    forwards = collect_export_files([archive, folder])
    backwards = collect_export_files([folder, archive])

    assert forwards == backwards
    assert [file.display_name for file in forwards] == sorted([f"{archive}!MyData/endsong_0.json",
                                                               str(folder / "endsong_0.json")])


# --- what is refused -----------------------------------------------------------------------------


@pytest.mark.parametrize("member_name", [
    "../evil.json",
    "/abs/Streaming_History_Audio_0.json",
    "C:/x/endsong_0.json",
    "a/../../endsong_1.json",
    "..\\windows\\endsong_2.json",
    "\\abs\\endsong_3.json",
])
def test_an_entry_that_escapes_the_archive_folder_refuses_the_archive(tmp_path, member_name):
    archive = tmp_path / "my_spotify_data.zip"
    with zipfile.ZipFile(archive, "w") as writer:
        writer.writestr("MyData/endsong_0.json", PLAYS)
        writer.writestr(zipfile.ZipInfo(member_name), PLAYS)

    with pytest.raises(HistoryInputError, match="escapes the archive folder") as refused:
        collect_export_files([archive])

    assert str(archive) in str(refused.value)
    assert repr(member_name) in str(refused.value)


def test_a_symlink_entry_refuses_the_archive(tmp_path):
    archive = tmp_path / "my_spotify_data.zip"
    link = zipfile.ZipInfo("MyData/endsong_1.json")
    link.create_system = 3
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    with zipfile.ZipFile(archive, "w") as writer:
        writer.writestr("MyData/endsong_0.json", PLAYS)
        writer.writestr(link, "/etc/passwd")

    with pytest.raises(HistoryInputError, match="symbolic link") as refused:
        collect_export_files([archive])

    assert str(archive) in str(refused.value) and "MyData/endsong_1.json" in str(refused.value)


def test_an_encrypted_history_entry_refuses_the_archive(tmp_path):
    archive = _zip(tmp_path / "my_spotify_data.zip", {"MyData/endsong_0.json": PLAYS}, zipfile.ZIP_STORED)
    _patch_headers(archive, "MyData/endsong_0.json", local_offset=6, central_offset=8, fmt="<H", value=0x1)
    with zipfile.ZipFile(archive) as check:
        assert check.getinfo("MyData/endsong_0.json").flag_bits & 0x1

    with pytest.raises(HistoryInputError, match="is encrypted") as refused:
        collect_export_files([archive])

    assert f"{archive}!MyData/endsong_0.json" in str(refused.value)


def test_an_encrypted_entry_we_would_not_import_is_ignored(tmp_path):
    archive = _zip(tmp_path / "my_spotify_data.zip",
                   {"MyData/endsong_0.json": PLAYS, "MyData/Payments.json": b"{}"}, zipfile.ZIP_STORED)
    _patch_headers(archive, "MyData/Payments.json", local_offset=6, central_offset=8, fmt="<H", value=0x1)

    assert _summary(collect_export_files([archive])) == [(KIND_EXTENDED, "endsong_0.json", len(PLAYS))]


def test_a_member_over_the_size_limit_is_refused_as_a_zip_bomb(tmp_path):
    archive = _zip(tmp_path / "bomb.zip", {"endsong_0.json": bytes(2 * MIB)}, zipfile.ZIP_STORED)

    with pytest.raises(HistoryInputError, match="zip bomb") as refused:
        collect_export_files([archive], ArchiveLimits(max_member_bytes=MIB))

    assert f"{archive}!endsong_0.json" in str(refused.value)
    assert "max_member_bytes" in str(refused.value) and f"{MIB:,}" in str(refused.value)


def test_a_member_that_expands_too_much_is_refused_as_a_zip_bomb(tmp_path):
    archive = _zip(tmp_path / "bomb.zip", {"endsong_0.json": bytes(2 * MIB)})

    with pytest.raises(HistoryInputError, match="zip bomb") as refused:
        collect_export_files([archive], ArchiveLimits(max_member_bytes=1024 * MIB))

    assert f"{archive}!endsong_0.json" in str(refused.value) and "max_compression_ratio" in str(refused.value)


def test_small_members_are_not_held_to_the_compression_ratio(tmp_path):
    archive = _zip(tmp_path / "my_spotify_data.zip", {"endsong_0.json": b" " * (MIB // 2)})

    assert _summary(collect_export_files([archive])) == [(KIND_EXTENDED, "endsong_0.json", MIB // 2)]


def test_files_that_add_up_to_more_than_the_total_limit_are_refused(tmp_path):
    archive = _zip(tmp_path / "my_spotify_data.zip", {"MyData/endsong_0.json": b"[" + b" " * 598 + b"]"})
    plain = _write(tmp_path / "endsong_1.json", b"[" + b" " * 598 + b"]")
    limits = ArchiveLimits(max_total_bytes=1000)

    with pytest.raises(HistoryInputError, match="max_total_bytes") as refused:
        collect_export_files([archive, plain], limits)

    assert str(plain) in str(refused.value) and "1,000 bytes" in str(refused.value)
    assert len(collect_export_files([archive], limits)) == 1


def test_a_plain_json_file_over_the_size_limit_is_refused(tmp_path):
    big = _write(tmp_path / "endsong_0.json", b" " * 2048)

    with pytest.raises(HistoryInputError, match="max_member_bytes") as refused:
        collect_export_files([big], ArchiveLimits(max_member_bytes=1024))

    assert str(big) in str(refused.value)


def test_a_zip_with_more_entries_than_allowed_is_refused(tmp_path):
    archive = _zip(tmp_path / "many.zip", {f"x/{index}.txt": b"" for index in range(11)} | {"endsong_0.json": PLAYS})

    with pytest.raises(HistoryInputError, match="max_members") as refused:
        collect_export_files([archive], ArchiveLimits(max_members=10))

    assert str(archive) in str(refused.value) and "12 entries" in str(refused.value)


def test_a_zip_named_file_that_is_not_a_zip_is_refused(tmp_path):
    fake = _write(tmp_path / "my_spotify_data.zip", b"<html>Download expired</html>")

    with pytest.raises(HistoryInputError, match="is not a zip archive") as refused:
        collect_export_files([tmp_path])

    assert str(fake) in str(refused.value)


def test_a_truncated_zip_is_refused_with_a_clear_error(tmp_path):
    archive = _zip(tmp_path / "my_spotify_data.zip", {"MyData/endsong_0.json": PLAYS * 200})
    content = archive.read_bytes()
    archive.write_bytes(content[: len(content) // 2])

    with pytest.raises(HistoryInputError, match="damaged or truncated") as refused:
        collect_export_files([archive])

    assert str(archive) in str(refused.value)


def test_a_member_whose_header_understates_its_size_fails_to_read_naming_the_member(tmp_path):
    archive = _zip(tmp_path / "my_spotify_data.zip", {"MyData/endsong_0.json": PLAYS * 20}, zipfile.ZIP_STORED)
    _patch_headers(archive, "MyData/endsong_0.json", local_offset=22, central_offset=24, fmt="<I", value=10)
    [lying] = collect_export_files([archive])
    assert lying.size == 10

    with pytest.raises(HistoryInputError, match="damaged") as refused:
        lying.read_bytes()

    assert f"{archive}!MyData/endsong_0.json" in str(refused.value)


def test_a_member_whose_data_is_corrupt_fails_to_read_naming_the_member(tmp_path):
    archive = _zip(tmp_path / "my_spotify_data.zip", {"MyData/endsong_0.json": PLAYS}, zipfile.ZIP_STORED)
    [member] = collect_export_files([archive])
    content = bytearray(archive.read_bytes())
    start = content.find(PLAYS)
    content[start:start + 5] = b"XXXXX"
    archive.write_bytes(bytes(content))

    with pytest.raises(HistoryInputError, match="damaged") as refused:
        member.read_bytes()

    assert f"{archive}!MyData/endsong_0.json" in str(refused.value)


def test_the_bounded_reader_stops_when_a_stream_gives_more_than_allowed():
    class EndlessZeros(io.RawIOBase):
        def readinto(self, buffer):
            buffer[:] = bytes(len(buffer))
            return len(buffer)

    with pytest.raises(HistoryInputError, match="more than the 1,048,576 bytes") as refused:
        read_bounded(EndlessZeros(), MIB, "x.zip!endsong_0.json")

    assert "x.zip!endsong_0.json" in str(refused.value)
    assert read_bounded(io.BytesIO(b"abc"), 3, "x.zip!endsong_0.json") == b"abc"


def test_a_path_that_does_not_exist_is_named(tmp_path):
    missing = tmp_path / "my_spotify_data.zip"

    with pytest.raises(HistoryInputError, match="does not exist") as refused:
        collect_export_files([_write(tmp_path / "endsong_0.json"), missing])

    assert str(missing) in str(refused.value)


def test_finding_no_history_file_lists_the_paths_and_the_expected_names(tmp_path):
    empty = tmp_path / "Downloads"
    _write(empty / "Playlist1.json")
    _write(empty / "notes.txt", b"hello")
    only_userdata = _zip(tmp_path / "account.zip", {"Spotify Account Data/Userdata.json": b"{}"})

    with pytest.raises(HistoryInputError, match="no Spotify listening history found") as refused:
        collect_export_files([empty, only_userdata])

    message = str(refused.value)
    assert str(empty) in message and str(only_userdata) in message
    assert "Streaming_History_Audio_*.json" in message and "StreamingHistory_music_*.json" in message
