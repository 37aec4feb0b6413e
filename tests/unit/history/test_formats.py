"""Every shape of export file Spotify has shipped reads; broken ones are refused by file and entry."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from listory_pipeline.history.errors import HistoryInputError
from listory_pipeline.history.reader import read_export
from tests.unit.history.export_files import T0, entry, short_entry, track_id, write_json

NOW = T0 + timedelta(days=10)


def _read(tmp_path, name, entries, **kwargs):
    folder = tmp_path / "export"
    write_json(folder, name, entries, pretty=kwargs.pop("pretty", False))
    return read_export([folder], user_id=kwargs.pop("user_id", "alice"), now=NOW, **kwargs)


def _legacy(e: dict) -> dict:
    """The same entry as exports before late 2024 wrote it."""
    old = {k: v for k, v in e.items() if k != "ip_addr"}
    old.update(username="alice", user_agent_decrypted="unknown", ip_addr_decrypted="203.0.113.9", skipped=None)
    old["offline_timestamp"] = e["offline_timestamp"] * 1000
    return old


@pytest.mark.parametrize("pretty", [False, True])
def test_every_extended_variant_reads_the_same(tmp_path, pretty):
    new = [entry(1, T0), entry(2, T0 + timedelta(minutes=4), offline=True)]
    audiobooks = [{**e, "audiobook_title": None, "audiobook_uri": None} for e in new]
    read = [_read(tmp_path / n, name, data, pretty=pretty) for n, name, data in (
        ("new", "Streaming_History_Audio_2024_0.json", new),
        ("book", "Streaming_History_Audio_2025_0.json", audiobooks),
        ("old", "endsong_0.json", [_legacy(e) for e in new]),
        ("video", "Streaming_History_Video_2024.json", new),
    )]
    tables = [r.entries.drop("offline_at", "skipped").rows() for r in read]  # legacy: skipped is null
    assert all(t == tables[0] for t in tables)
    # offline_timestamp: milliseconds in older exports, seconds in newer ones: the same moment
    assert {r.entries["offline_at"].to_list()[1] for r in read} == {T0 + timedelta(minutes=4)}


def test_short_account_data_reads_with_minute_precision(tmp_path):
    export = _read(tmp_path, "StreamingHistory_music_0.json", [short_entry(T0 + timedelta(seconds=50), 95_000, "Song")])
    row = export.entries.row(0, named=True)
    assert row["played_at"] == T0 and row["precision"] == "minute" and row["track_id"] is None
    assert (row["track_name"], row["artist_name"], row["ms_played"]) == ("Song", "Artist A", 95_000)


def test_a_renamed_file_is_recognised_by_its_content(tmp_path):
    folder = tmp_path / "renamed"
    path = write_json(folder, "my history.json", [entry(1, T0)])
    assert read_export([path], user_id="alice", now=NOW).counts["listens"] == 1


def test_a_utf8_bom_and_byte_identical_duplicates_are_fine(tmp_path):
    folder = tmp_path / "bom"
    folder.mkdir()
    rows = [entry(1, T0), entry(1, T0), entry(2, T0)]  # two rows may share a ts; duplicates exist
    (folder / "Streaming_History_Audio_2024_0.json").write_bytes(b"\xef\xbb\xbf" + json.dumps(rows).encode())
    export = read_export([folder], user_id="alice", now=NOW)
    assert export.counts["duplicate_rows"] == 1 and export.entries.height == 2


def test_the_same_files_twice_are_one_import(tmp_path):
    one = write_json(tmp_path / "a", "Streaming_History_Audio_2024_0.json", [entry(1, T0)])
    two = write_json(tmp_path / "b", "Streaming_History_Audio_2024_0.json", [entry(1, T0)])
    export = read_export([one, two], user_id="alice", now=NOW)
    assert export.entries.height == 1 and len(export.duplicate_files) == 1
    assert export.import_id == read_export([one], user_id="alice", now=NOW).import_id


@pytest.mark.parametrize(
    "content, message",
    [
        (b"<html>not json</html>", r"is not valid JSON"),
        (json.dumps([entry(1, T0)] * 3).encode()[:-40], r"is not valid JSON \(the file looks truncated\)"),
        (json.dumps({"ts": "2024-01-01T00:00:00Z"}).encode(), r"holds a JSON dict, not a list"),
        (json.dumps([entry(1, T0), 7]).encode(), r"entry 1: the entry is 7, expected an object"),
        (json.dumps([{k: v for k, v in entry(1, T0).items() if k != "ts"}]).encode(), r"entry 0: ts is missing"),
        (json.dumps([{**entry(1, T0), "ms_played": "12"}]).encode(), r"entry 0: ms_played is \"12\""),
        (json.dumps([{**entry(1, T0), "ms_played": -5}]).encode(), r"ms_played is -5"),
        (json.dumps([{**entry(1, T0), "ts": "2031-01-01T00:00:00Z"}]).encode(), r"in the future"),
        (json.dumps([{**entry(1, T0), "ts": "1999-01-01T00:00:00Z"}]).encode(), r"before Spotify existed"),
        (json.dumps([{**entry(1, T0), "spotify_track_uri": "spotify:track:short"}]).encode(), r"spotify_track_uri"),
        (json.dumps([{**entry(1, T0), "shuffle": "yes"}]).encode(), r"shuffle is \"yes\""),
        (json.dumps([{**entry(1, T0), "offline_timestamp": "x"}]).encode(), r"offline_timestamp"),
        (json.dumps([{**entry(1, T0), "offline_timestamp": 1e30}]).encode(), r"entry 0: offline_timestamp is 1e\+30"),
        (b'[{"ts": "2024-03-01T12:00:00Z", "ms_played": NaN}]', r"entry 0: ms_played is NaN"),
        (b"[" * 100_000 + b"]" * 100_000, r"nested too deeply|entry 0"),
    ],
)
def test_bad_files_are_refused_naming_file_and_entry(tmp_path, content, message):
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "Streaming_History_Audio_2024_0.json").write_bytes(content)
    with pytest.raises(HistoryInputError, match=message) as caught:
        read_export([folder], user_id="alice", now=NOW)
    assert "Streaming_History_Audio_2024_0.json" in str(caught.value)


def test_short_format_entries_of_the_wrong_shape_are_refused(tmp_path):
    with pytest.raises(HistoryInputError, match=r"StreamingHistory_music_0\.json, entry 0: endTime"):
        _read(tmp_path, "StreamingHistory_music_0.json", [{"endTime": "05.01.2024 12:34", "artistName": "A", "trackName": "T", "msPlayed": 1}])


def test_a_file_of_something_else_is_not_taken_for_a_history(tmp_path):
    path = write_json(tmp_path, "Playlist1.json", {"playlists": []})
    with pytest.raises(HistoryInputError, match="not a Spotify streaming history"):
        read_export([path], user_id="alice", now=NOW)


def test_the_userdata_username_is_compared(tmp_path):
    folder = tmp_path / "account"
    write_json(folder, "StreamingHistory_music_0.json", [short_entry(T0, 95_000, "Song")])
    write_json(folder, "Userdata.json", {"username": "bob", "country": "DE"})
    with pytest.raises(HistoryInputError, match=r"Userdata\.json, username: username is 'bob'"):
        read_export([folder], user_id="alice", now=NOW)


def test_track_ids_come_from_the_uri(tmp_path):
    export = _read(tmp_path, "Streaming_History_Audio_2024_0.json", [entry(42, T0)])
    assert export.entries["track_id"].to_list() == [track_id(42)]


def test_a_timestamp_without_zone_is_utc_as_spotify_writes_it(tmp_path):
    zoned = _read(tmp_path / "zoned", "Streaming_History_Audio_2024_0.json", [entry(1, T0)])
    naive = {**entry(1, T0), "ts": T0.strftime("%Y-%m-%dT%H:%M:%S")}
    plain = _read(tmp_path / "naive", "Streaming_History_Audio_2024_0.json", [naive])
    assert plain.entries["played_at"].to_list() == zoned.entries["played_at"].to_list() == [T0]


def test_no_mutation_of_an_entry_escapes_as_anything_but_a_clear_refusal(tmp_path):
    """Random values of random types in random fields: read, or refused naming file and entry."""
    import random

    rng = random.Random(9)
    odd_values = [None, 0, -1, 3e9, 1e30, float("inf"), "", "x" * 300, "2024-13-45T99:99:99Z", [], {}, [1, [2]], True, 7.5]
    base = [entry(1, T0), entry(2, T0 + timedelta(minutes=4)), entry(None, T0 + timedelta(minutes=9))]
    for attempt in range(150):
        entries = [dict(e) for e in base]
        for _ in range(rng.randint(1, 3)):
            victim = rng.choice(entries)
            victim[rng.choice(list(victim))] = rng.choice(odd_values)
        folder = tmp_path / f"case{attempt}"
        folder.mkdir()
        raw = json.dumps(entries, allow_nan=True).encode()
        (folder / "Streaming_History_Audio_2024_0.json").write_bytes(raw)
        try:
            read_export([folder], user_id="alice", now=NOW)
        except HistoryInputError as exc:
            assert "Streaming_History_Audio_2024_0.json" in str(exc)
