"""A simulated user's privacy export holds exactly the plays recently-played serves, plus Spotify's extras."""

from __future__ import annotations

import json
import re
import zipfile
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from listory_pipeline.spotify.simulator import Simulator, SimulatorConfig
from listory_pipeline.spotify.simulator.export import (
    EXPORT_VARIANTS,
    EXTENDED_FIELDS,
    account_data_entries,
    entries_for_plays,
    export_entries,
    write_account_data,
    write_extended_export,
)
from listory_pipeline.spotify.simulator.listeners import to_ms

USERS = ("sim-alice", "sim-bruno")
# Three weeks across New Year, so file names span two years.
START = datetime(2025, 12, 20, 12, tzinfo=timezone.utc)
END = datetime(2026, 1, 10, 12, tzinfo=timezone.utc)
# Long enough for every kind of extra to turn up at least once.
LONG_END = START + timedelta(days=70)
FOLDER = "Spotify Extended Streaming History"
AUDIO_NAME = re.compile(rf"{FOLDER}/Streaming_History_Audio_(\d{{4}})(?:-(\d{{4}}))?_(\d+)\.json")
VIDEO_NAME = re.compile(rf"{FOLDER}/Streaming_History_Video_(\d{{4}})(?:-(\d{{4}}))?(?:_\d+)?\.json")


@pytest.fixture(scope="module")
def sim() -> Simulator:
    return Simulator(SimulatorConfig(seed=42, n_users=2))


@pytest.fixture(scope="module")
def long_exports(sim) -> dict:
    """(entries, counts) of ten weeks for every user, 2025 variant."""
    return {user: export_entries(sim, user, START, LONG_END) for user in USERS}


def _ts_of(played_at: datetime) -> str:
    return played_at.replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def _epoch(ts: str) -> int:
    return int(datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp())


def _kind(entry: dict) -> str:
    if entry["spotify_episode_uri"]:
        return "podcast"
    if entry.get("audiobook_uri"):
        return "audiobook"
    if entry["incognito_mode"]:
        return "incognito"
    if entry["spotify_track_uri"] is None:
        return "local"
    return "music"


def _without_adjacent_copies(entries: list[dict]) -> list[dict]:
    return [e for i, e in enumerate(entries) if i == 0 or e != entries[i - 1]]


def _members(zip_path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(zip_path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


# -- entries -------------------------------------------------------------------


@pytest.mark.parametrize("variant", EXPORT_VARIANTS)
@pytest.mark.parametrize("user", USERS)
def test_every_ground_truth_play_is_one_entry_with_its_second_and_track(sim, user, variant):
    entries, counts = export_entries(sim, user, START, END, variant=variant)
    truth = sim.ground_truth(user, START, END)
    assert truth
    music = [e for e in entries if _kind(e) == "music"]
    unique = _without_adjacent_copies(music)
    assert [(e["ts"], e["spotify_track_uri"]) for e in unique] == [
        (_ts_of(played_at), f"spotify:track:{track_id}") for played_at, track_id in truth
    ]
    assert len(music) - len(unique) == counts.duplicates
    with_uri = [e for e in entries if e["spotify_track_uri"]]
    assert len(with_uri) == len(truth) + counts.incognito_plays + counts.duplicates
    assert [e["ts"] for e in entries] == sorted(e["ts"] for e in entries)


def test_track_uris_and_seconds_match_what_recently_played_serves(sim):
    entries, _ = export_entries(sim, "sim-bruno", START, END)
    exported = {(e["ts"], e["spotify_track_uri"]) for e in entries}
    items = sim.recently_played("sim-bruno", now=END, limit=50)["items"]
    assert len(items) == 50
    for item in items:
        played_at = datetime.fromisoformat(item["played_at"].replace("Z", "+00:00"))
        assert (_ts_of(played_at), item["track"]["uri"]) in exported


def test_reasons_follow_the_plays(sim):
    user = sim.user("sim-alice")
    plays = sim.listener("sim-alice").timeline(to_ms(START), to_ms(END))
    entries = entries_for_plays(sim.catalog, user, plays, seed=sim.config.seed)
    assert len(entries) == len(plays)
    assert entries[0]["reason_start"] == "clickrow"
    for previous, play, entry in zip([None, *plays], plays, entries):
        done = play.ms_played == sim.catalog.tracks[play.track_index].duration_ms
        assert entry["reason_end"] == ("trackdone" if done else "fwdbtn")
        assert entry["skipped"] is (not done)
        assert entry["ms_played"] == play.ms_played
        if previous is not None:
            gap = play.played_at_ms - play.ms_played - previous.played_at_ms
            previous_done = previous.ms_played == sim.catalog.tracks[previous.track_index].duration_ms
            expected = "clickrow" if gap > 5 * 60_000 else "trackdone" if previous_done else "fwdbtn"
            assert entry["reason_start"] == expected
        assert entry["ip_addr"].startswith("203.0.113.")
        assert entry["incognito_mode"] is False and entry["conn_country"] == user.country
    offline_ts = Counter(
        "offline" if e["offline"] else "zero" if e["offline_timestamp"] == 0 else
        "null" if e["offline_timestamp"] is None else "start" for e in entries
    )
    assert set(offline_ts) == {"offline", "zero", "null", "start"}
    assert offline_ts["start"] > 0.85 * len(entries)


def test_a_window_gives_the_same_entries_as_a_wider_window_over_it(sim):
    inner_start, inner_end = START + timedelta(days=3), START + timedelta(days=10)
    wide, _ = export_entries(sim, "sim-bruno", START, END)
    inner, _ = export_entries(sim, "sim-bruno", inner_start, inner_end)
    lo, hi = int(inner_start.timestamp()), int(inner_end.timestamp())
    assert inner == [e for e in wide if lo <= _epoch(e["ts"]) < hi]


def test_extras_have_their_documented_fields(long_exports):
    for entries, counts in long_exports.values():
        kinds = Counter(_kind(e) for e in entries)
        assert kinds["podcast"] == counts.podcast_episodes > 0
        assert kinds["audiobook"] == counts.audiobook_chapters > 0
        assert kinds["incognito"] == counts.incognito_plays > 0
        assert kinds["local"] == counts.local_files > 0
        music = [e for e in entries if _kind(e) == "music"]
        assert len(music) - len(_without_adjacent_copies(music)) == counts.duplicates > 0
        for e in entries:
            kind = _kind(e)
            if kind in ("podcast", "audiobook"):
                assert e["spotify_track_uri"] is None and e["master_metadata_track_name"] is None
            if kind == "podcast":
                assert e["episode_name"] and e["episode_show_name"]
                assert re.fullmatch(r"spotify:episode:[0-9A-Za-z]{22}", e["spotify_episode_uri"])
                assert e["audiobook_uri"] is None
            elif kind == "audiobook":
                assert e["audiobook_title"] and e["audiobook_chapter_title"] and e["audiobook_chapter_uri"]
                assert e["spotify_episode_uri"] is None
            elif kind == "incognito":
                assert re.fullmatch(r"spotify:track:[0-9A-Za-z]{22}", e["spotify_track_uri"])
            elif kind == "local":
                assert e["master_metadata_track_name"] and e["master_metadata_album_artist_name"]
                assert e["master_metadata_album_album_name"] and e["spotify_episode_uri"] is None
            if kind != "incognito":
                assert e["incognito_mode"] is False


def test_extras_keep_an_hour_away_from_every_real_play(sim, long_exports):
    for user, (entries, _) in long_exports.items():
        plays = sim.listener(user).timeline(to_ms(START - timedelta(days=1)), to_ms(LONG_END + timedelta(days=1)))
        for e in entries:
            if _kind(e) == "music":
                continue
            end_ms = _epoch(e["ts"]) * 1000
            start_ms = end_ms - e["ms_played"]
            for p in plays:
                gap = max(start_ms - p.played_at_ms, p.played_at_ms - p.ms_played - end_ms)
                assert gap > 60 * 60_000 - 1000, (user, e["ts"])


def test_field_sets_follow_the_variant(sim):
    by_variant = {v: export_entries(sim, "sim-alice", START, LONG_END, variant=v) for v in EXPORT_VARIANTS}
    for variant, (entries, _) in by_variant.items():
        assert all(tuple(e) == EXTENDED_FIELDS[variant] for e in entries)
    legacy = by_variant["legacy"][0]
    assert {"username", "ip_addr_decrypted", "user_agent_decrypted"} <= set(legacy[0])
    assert "ip_addr" not in legacy[0] and "audiobook_uri" not in legacy[0]
    assert all(e["username"] == "sim-alice" and e["skipped"] is None for e in legacy)
    newer = by_variant["2024"][0]
    assert "username" not in newer[0] and "ip_addr" in newer[0]
    assert not any(f.startswith("audiobook_") for f in newer[0])
    assert by_variant["2024"][1].audiobook_chapters == by_variant["legacy"][1].audiobook_chapters == 0
    assert {f for f in by_variant["2025"][0][0] if f.startswith("audiobook_")} == {
        "audiobook_title", "audiobook_uri", "audiobook_chapter_uri", "audiobook_chapter_title",
    }
    # offline_timestamp is the play's start: epoch ms in legacy exports, seconds after.
    for variant, unit in (("legacy", 1000), ("2024", 1), ("2025", 1)):
        for e in by_variant[variant][0]:
            if e["offline_timestamp"] and not e["offline"]:
                start_ms = _epoch(e["ts"]) * 1000 - e["ms_played"]
                assert abs(e["offline_timestamp"] * (1000 // unit) - start_ms) <= 1000
    # Apart from the audiobooks, every variant has the same plays and extras.
    keys = {
        variant: [(e["ts"], e["ms_played"], e["spotify_track_uri"], e["spotify_episode_uri"])
                  for e in entries if not e.get("audiobook_uri")]
        for variant, (entries, _) in by_variant.items()
    }
    assert keys["legacy"] == keys["2024"] == keys["2025"]


def test_the_same_call_gives_the_same_json(sim):
    first = export_entries(sim, "sim-bruno", START, END, variant="legacy")
    again = export_entries(Simulator(SimulatorConfig(seed=42, n_users=2)), "sim-bruno", START, END, variant="legacy")
    assert json.dumps(first[0]) == json.dumps(again[0]) and first[1] == again[1]
    other_world = Simulator(SimulatorConfig(seed=7, n_users=2, n_artists=300, n_albums=600, n_tracks=4000))
    assert export_entries(other_world, "sim-bruno", START, END)[0] != first[0]


def test_unknown_variant_is_refused(sim):
    with pytest.raises(ValueError, match="variant"):
        export_entries(sim, "sim-bruno", START, END, variant="2019")


# -- files ---------------------------------------------------------------------


@pytest.mark.parametrize("pretty", [True, False])
def test_zip_splits_audio_by_count_and_years_and_keeps_every_entry(sim, tmp_path, pretty):
    entries, _ = export_entries(sim, "sim-alice", START, END)
    path = write_extended_export(entries, tmp_path, entries_per_file=200, pretty=pretty, video_fraction=0.05)
    assert path == tmp_path / "my_spotify_data.zip"
    members = _members(path)
    assert "Spotify Extended Streaming History/ReadMeFirst_ExtendedStreamingHistory.pdf" in members
    audio = sorted((int(m.group(3)), name) for name in members if (m := AUDIO_NAME.fullmatch(name)))
    video = [name for name in members if VIDEO_NAME.fullmatch(name)]
    assert len(audio) + len(video) + 1 == len(members)
    assert [n for n, _ in audio] == list(range(len(audio))) and len(audio) >= 4
    assert video
    union: list[dict] = []
    for _, name in audio:
        raw = members[name].decode("utf-8")
        assert ("\n    {" in raw) is pretty and ("\n" in raw) is pretty
        chunk = json.loads(raw)
        assert 0 < len(chunk) <= 200
        assert [e["ts"] for e in chunk] == sorted(e["ts"] for e in chunk)
        first, last = AUDIO_NAME.fullmatch(name).group(1, 2)
        assert chunk[0]["ts"][:4] == first and chunk[-1]["ts"][:4] == (last or first)
        union.extend(chunk)
    assert any(AUDIO_NAME.fullmatch(name).group(2) for _, name in audio)  # one file spans 2025-2026
    for name in video:
        chunk = json.loads(members[name])
        assert chunk and all(e["spotify_track_uri"] and not e["spotify_episode_uri"] for e in chunk)
        union.extend(chunk)
    assert all(tuple(e) == EXTENDED_FIELDS["2025"] for e in union)
    assert Counter(json.dumps(e) for e in union) == Counter(json.dumps(e) for e in entries)


def test_legacy_export_is_endsong_files_in_my_data_without_video(sim, tmp_path):
    entries, _ = export_entries(sim, "sim-bruno", START, END, variant="legacy")
    root = write_extended_export(entries, tmp_path / "export", variant="legacy", entries_per_file=300, as_zip=False)
    assert root == tmp_path / "export"
    files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    n_files = -(-len(entries) // 300)
    assert files == sorted(
        [f"MyData/endsong_{n}.json" for n in range(n_files)] + ["MyData/ReadMeFirst_ExtendedStreamingHistory.pdf"]
    )
    union = [e for n in range(n_files) for e in json.loads((root / f"MyData/endsong_{n}.json").read_text("utf-8"))]
    assert union == entries


def test_zip_and_folder_hold_the_same_bytes_and_zips_are_reproducible(sim, tmp_path):
    entries, _ = export_entries(sim, "sim-bruno", START, END, variant="2024")
    first = write_extended_export(entries, tmp_path / "a.zip", variant="2024", pretty=False)
    second = write_extended_export(entries, tmp_path / "b.zip", variant="2024", pretty=False)
    assert first.read_bytes() == second.read_bytes()
    root = write_extended_export(entries, tmp_path / "tree", variant="2024", pretty=False, as_zip=False)
    tree = {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}
    assert tree == _members(first)
    assert len(tree) == 3  # one audio file, one video file, the readme


# -- account data ------------------------------------------------------------------


def test_account_data_floors_the_extended_ts_to_the_minute(sim, long_exports):
    music, podcasts = account_data_entries(sim, "sim-bruno", START, LONG_END)
    entries, _ = export_entries(sim, "sim-bruno", START, LONG_END, extras=False)
    assert len(music) == len(entries)
    for short, full in zip(music, entries):
        assert list(short) == ["endTime", "artistName", "trackName", "msPlayed"]
        assert short["endTime"] == full["ts"][:16].replace("T", " ")
        assert short["artistName"] == full["master_metadata_album_artist_name"]
        assert (short["trackName"], short["msPlayed"]) == (full["master_metadata_track_name"], full["ms_played"])
    episodes = [e for e in long_exports["sim-bruno"][0] if e["spotify_episode_uri"]]
    assert podcasts and [
        (p["endTime"], p["podcastName"], p["episodeName"], p["msPlayed"]) for p in podcasts
    ] == [(e["ts"][:16].replace("T", " "), e["episode_show_name"], e["episode_name"], e["ms_played"]) for e in episodes]


def test_account_data_zip_layout_and_userdata(sim, tmp_path):
    music, podcasts = account_data_entries(sim, "sim-alice", START, END)
    path = write_account_data(
        music, podcasts, tmp_path / "my_spotify_data.zip", username="sim-alice", entries_per_file=250
    )
    members = _members(path)
    n_music = -(-len(music) // 250)
    assert sorted(members) == sorted(
        [f"Spotify Account Data/StreamingHistory_music_{n}.json" for n in range(n_music)]
        + ["Spotify Account Data/StreamingHistory_podcast_0.json", "Spotify Account Data/Userdata.json",
           "Spotify Account Data/Follow.json"]
    )
    chunks = [json.loads(members[f"Spotify Account Data/StreamingHistory_music_{n}.json"]) for n in range(n_music)]
    assert all(len(chunk) <= 250 for chunk in chunks)
    assert [e for chunk in chunks for e in chunk] == music
    assert json.loads(members["Spotify Account Data/StreamingHistory_podcast_0.json"]) == podcasts
    userdata = json.loads(members["Spotify Account Data/Userdata.json"])
    assert userdata["username"] == "sim-alice"
    assert set(userdata) == {
        "username", "email", "country", "birthdate", "gender", "postalCode", "mobileNumber", "mobileOperator",
        "mobileBrand", "creationTime",
    }
    root = write_account_data(
        music, podcasts, tmp_path / "tree", username="sim-alice", as_zip=False, entries_per_file=250
    )
    assert {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()} == set(members)
