"""The compact landing zone: answers gzip'd, repeats of the previous answer kept as a line, old pulls still read."""

from __future__ import annotations

import gzip
import json
import re
import subprocess
from datetime import timedelta

import duckdb
import pytest

from listory_pipeline.landing.store import REPEATS_FILE, LandingError, LandingZone
from listory_pipeline.warehouse.connection import open_warehouse
from listory_pipeline.warehouse.loader import UserRow, load_user_pulls
from tests.support.payloads import T0, plays_every, recently_played

USER = UserRow("alice", "Alice", "Europe/Berlin", "active")
CORE_TABLES = ["listens", "tracks", "albums", "artists", "track_artists", "album_artists", "users"]
LOADED_AT = T0 + timedelta(days=3)


def _land_plain(zone: LandingZone, user_id: str, payload: dict, fetched_at, counts=None):
    """A pull as the landing zone wrote it before compression: `<stem>.json`, plain JSON."""
    day = zone.root / "recently_played" / user_id / fetched_at.date().isoformat()
    day.mkdir(parents=True, exist_ok=True)
    stem = fetched_at.strftime("%Y%m%dT%H%M%S") + f"{fetched_at.microsecond // 1000:03d}Z-0123abcd"
    document = {"format": 1, "kind": "recently_played", "user_id": user_id, "fetched_at": fetched_at.isoformat(),
                "request_counts": counts or {}, "payload": payload}
    (day / f"{stem}.json").write_text(json.dumps(document, separators=(",", ":")))


def _files(zone: LandingZone) -> list[str]:
    return sorted(p.name for p in zone.root.rglob("*") if p.is_file())


def test_an_answer_lands_as_gzip_json_that_standard_tools_open(tmp_path):
    zone = LandingZone(tmp_path / "landing")
    payload = recently_played(plays_every(T0, 50))
    pull = zone.land("alice", payload, fetched_at=T0 + timedelta(hours=4), request_counts={"recently_played": 1})
    assert pull.path.name.endswith(".json.gz") and pull.same_as is None
    opened = json.loads(subprocess.run(["gzip", "-dc", str(pull.path)], capture_output=True, check=True).stdout)
    assert opened["payload"] == payload and opened["request_counts"] == {"recently_played": 1}
    plain_size = len(json.dumps(opened, separators=(",", ":")).encode())
    assert pull.path.stat().st_size * 5 < plain_size


def test_the_same_answer_again_is_one_line_naming_the_first_pull(tmp_path):
    zone = LandingZone(tmp_path / "landing")
    payload = recently_played(plays_every(T0, 50))
    first = zone.land("alice", payload, fetched_at=T0 + timedelta(hours=4))
    again = [zone.land("alice", payload, fetched_at=T0 + timedelta(hours=4, minutes=m), request_counts={"recently_played": 1})
             for m in (1, 2, 3)]
    assert [pull.same_as for pull in again] == [first.pull_id] * 3  # a repeat of a repeat names the original
    assert _files(zone) == sorted([first.path.name, REPEATS_FILE])
    assert len((first.path.parent / REPEATS_FILE).read_bytes()) < 3 * 400
    changed = recently_played(plays_every(T0 + timedelta(minutes=4), 50))
    newer = zone.land("alice", changed, fetched_at=T0 + timedelta(hours=5))
    assert newer.same_as is None and newer.path.name.endswith(".json.gz")

    listed = list(zone.pulls("alice"))
    assert [pull.pull_id for pull in listed] == [first.pull_id, *(p.pull_id for p in again), newer.pull_id]
    read = zone.read(listed[2])
    assert read["payload"] == payload and read["fetched_at"] == (T0 + timedelta(hours=4, minutes=2)).isoformat()
    assert read["request_counts"] == {"recently_played": 1} and read["user_id"] == "alice"
    assert [p.pull_id for p in zone.pulls("alice", since=T0 + timedelta(hours=4, minutes=2))] == [
        again[1].pull_id, again[2].pull_id, newer.pull_id]
    assert zone.remove_user("alice") == 5 and list(zone.pulls("alice")) == []


def test_pulls_landed_before_compression_are_read_and_repeated(tmp_path):
    zone = LandingZone(tmp_path / "landing")
    payload = recently_played(plays_every(T0, 20))
    _land_plain(zone, "alice", payload, T0 + timedelta(hours=1))
    [old] = list(zone.pulls("alice"))
    assert old.path.name.endswith(".json") and zone.read(old)["payload"] == payload
    repeat = zone.land("alice", payload, fetched_at=T0 + timedelta(hours=2))
    assert repeat.same_as == old.pull_id and zone.read(repeat)["payload"] == payload


def test_a_line_torn_by_a_crash_is_skipped_and_spoils_no_later_line(tmp_path):
    zone = LandingZone(tmp_path / "landing")
    payload = recently_played(plays_every(T0, 5))
    first = zone.land("alice", payload, fetched_at=T0 + timedelta(hours=1))
    kept = zone.land("alice", payload, fetched_at=T0 + timedelta(hours=1, minutes=1))
    repeats = first.path.parent / REPEATS_FILE
    with open(repeats, "ab") as handle:  # a crash in the middle of the next append
        handle.write(b'{"format":1,"kind":"recently_played","user_id":"ali')
    after = zone.land("alice", payload, fetched_at=T0 + timedelta(hours=1, minutes=2))
    assert [p.pull_id for p in zone.pulls("alice")] == [first.pull_id, kept.pull_id, after.pull_id]
    assert zone.read(after)["payload"] == payload


def test_a_repeat_whose_original_is_gone_or_differs_is_refused_by_name(tmp_path):
    zone = LandingZone(tmp_path / "landing")
    first = zone.land("alice", recently_played(plays_every(T0, 5)), fetched_at=T0 + timedelta(hours=1))
    repeat = zone.land("alice", recently_played(plays_every(T0, 5)), fetched_at=T0 + timedelta(hours=2))
    document = json.loads(gzip.decompress(first.path.read_bytes()))
    document["payload"]["items"].pop()
    first.path.write_bytes(gzip.compress(json.dumps(document).encode()))
    with pytest.raises(LandingError, match="digests differ"):
        zone.read(repeat)
    first.path.unlink()
    with pytest.raises(LandingError, match=f"names pull {first.pull_id}, which is not in the landing zone"):
        zone.read(repeat)


def _core(db_path) -> dict[str, list[tuple]]:
    """Every core.* row, with pull ids named by fetch time (the two zones drew different nonces)."""
    def same_fetch(value):
        return re.sub(r"-[0-9a-f]{8}$", "", value) if isinstance(value, str) and value.startswith("alice/") else value

    with duckdb.connect(str(db_path), read_only=True) as conn:
        return {
            table: [tuple(map(same_fetch, row)) for row in conn.execute(f"select * from core.{table} order by all").fetchall()]
            for table in CORE_TABLES
        }


def _load(db_path, zone, now):
    with open_warehouse(db_path) as warehouse:
        return load_user_pulls(warehouse, zone, USER, now=now)


def test_replaying_the_compact_landing_zone_gives_the_same_core_as_plain_pulls(tmp_path):
    """A day of polls (repeats, new plays, an old plain pull first): crawled one by one into one
    warehouse, replayed all at once into an empty one, and landed the old way into a third."""
    compact, plain = LandingZone(tmp_path / "compact"), LandingZone(tmp_path / "plain")
    answers = []
    for poll in range(40):
        newest = poll // 3  # a new play every third poll: two of three answers repeat the previous
        answers.append((T0 + timedelta(hours=4, minutes=poll), recently_played(plays_every(T0 + timedelta(minutes=4 * newest), 50))))
    _land_plain(compact, "alice", answers[0][1], answers[0][0])
    crawled = tmp_path / "crawled.duckdb"
    for fetched_at, payload in answers[1:]:
        compact.land("alice", payload, fetched_at=fetched_at)
        _load(crawled, compact, fetched_at + timedelta(seconds=1))
    for fetched_at, payload in answers:
        _land_plain(plain, "alice", payload, fetched_at)
    assert len(list(compact.pulls("alice"))) == len(list(plain.pulls("alice"))) == 40
    assert sum(1 for p in compact.pulls("alice") if p.same_as) == 26

    replayed, from_plain = tmp_path / "replayed.duckdb", tmp_path / "from_plain.duckdb"
    assert _load(replayed, compact, LOADED_AT).pulls_loaded == 40
    assert _load(from_plain, plain, LOADED_AT).pulls_loaded == 40
    assert _core(replayed) == _core(from_plain)
    with duckdb.connect(str(crawled), read_only=True) as conn:
        crawled_listens = conn.execute("select user_id, played_at, track_id from core.listens order by all").fetchall()
    with duckdb.connect(str(replayed), read_only=True) as conn:
        assert conn.execute("select user_id, played_at, track_id from core.listens order by all").fetchall() == crawled_listens
        assert conn.execute("select count(*) from meta.loaded_pulls where outcome = 'loaded'").fetchone()[0] == 40


def test_a_repeat_of_an_answer_loaded_before_is_recorded_without_reading_or_writing_the_plays_again(tmp_path):
    """Most crawls land a repeat; once its answer is stored whole, loading it again could change nothing."""
    zone, db = LandingZone(tmp_path / "landing"), tmp_path / "w.duckdb"
    answer = recently_played(plays_every(T0, 50))
    zone.land("alice", answer, fetched_at=T0 + timedelta(hours=4))
    first = _load(db, zone, T0 + timedelta(hours=4, seconds=1))
    before = _core(db)
    repeat = zone.land("alice", answer, fetched_at=T0 + timedelta(hours=4, minutes=1))
    assert repeat.same_as is not None

    again = _load(db, zone, T0 + timedelta(hours=4, minutes=1, seconds=1))
    assert (again.pulls_loaded, again.repeats_already_loaded, again.plays_in_pulls) == (1, 1, 50)
    assert set(again.write_statements) == {"core.users", "meta.loaded_pulls", "meta.landing_watermarks"}
    assert set(first.write_statements) > {"core.tracks", "core.listens"}
    assert _core(db) == before
    with duckdb.connect(str(db), read_only=True) as conn:
        assert conn.execute("select play_count, outcome from meta.loaded_pulls where pull_id = ?",
                            [repeat.pull_id]).fetchone() == (50, "loaded")


def test_a_repeat_of_an_answer_with_plays_not_stored_is_read_again(tmp_path):
    """Plays dated after their answer's fetch are not stored; a later repeat of that answer may store them."""
    zone, db = LandingZone(tmp_path / "landing"), tmp_path / "w.duckdb"
    answer = recently_played(plays_every(T0, 50))  # the newest play ends at T0 + 196 min
    zone.land("alice", answer, fetched_at=T0 + timedelta(minutes=150))  # a fetch clock far behind
    first = _load(db, zone, T0 + timedelta(hours=4))
    assert first.future_plays
    zone.land("alice", answer, fetched_at=T0 + timedelta(hours=4))
    again = _load(db, zone, T0 + timedelta(hours=4, minutes=1))
    assert again.repeats_already_loaded == 0 and again.new_listens == len(first.future_plays)
