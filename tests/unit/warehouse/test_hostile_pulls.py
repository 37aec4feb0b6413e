"""Pulls no crawl should produce: each is recorded and kept, and the user's next pulls still load.

Every case here once escaped the loader, rolled the whole load back and blocked every later
crawl of the user until someone deleted the file. The fuzz test mutates a real-shaped pull at
random and asserts the same of every mutation.
"""

from __future__ import annotations

import copy
import gzip
import json
import random
from datetime import timedelta

import duckdb
import pytest

from listory_pipeline.warehouse.connection import open_warehouse
from listory_pipeline.warehouse.loader import UserRow, load_user_pulls
from tests.support.payloads import T0, play, plays_every, recently_played

USER = UserRow("alice", "Alice", "UTC", "active")
FETCHED = T0 + timedelta(hours=4)


def _load(db_path, landing):
    with open_warehouse(db_path) as warehouse:
        return load_user_pulls(warehouse, landing, USER, now=FETCHED + timedelta(minutes=1))


def _rows(db_path, sql):
    with duckdb.connect(str(db_path), read_only=True) as conn:
        return conn.execute(sql).fetchall()


def _good_pull(start=T0, count=5):
    return recently_played(plays_every(start, count))


def _set(payload, path, value):
    node = payload
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return payload


HOSTILE = {
    "played_at far in the future overflows": (["items", 0, "played_at"], "9999-12-31T23:30:00-01:00", "out of range"),
    "played_at before year 1 overflows": (["items", 0, "played_at"], "0001-01-01T00:30:00+01:00", "out of range"),
    "external_ids as a list": (["items", 0, "track", "external_ids"], ["isrc"], None),
    "album.artists as a number": (["items", 0, "track", "album", "artists"], 5, "album.artists has type int"),
    "duration_ms beyond INTEGER": (["items", 0, "track", "duration_ms"], 3_000_000_000, "duration_ms is 3000000000"),
    "negative duration_ms": (["items", 0, "track", "duration_ms"], -5, "duration_ms is -5"),
    "popularity out of range": (["items", 0, "track", "popularity"], 10**12, "popularity is"),
    "disc_number out of range": (["items", 0, "track", "disc_number"], 2**40, "disc_number is"),
    "a 50 MB track name": (["items", 0, "track", "name"], "x" * 50_000_000, "more than any recently-played answer"),
    "a name that is not Unicode": (["items", 0, "track", "name"], "\ud800", "not valid Unicode"),
    "a deeply nested array": (["items", 0, "track", "album", "images"], "NESTED", "nested too deeply"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_a_hostile_pull_is_rejected_by_name_and_later_pulls_load(landing, db_path, case):
    path, value, says = HOSTILE[case]
    if value == "NESTED":  # no JSON encoder writes this; a file on disk can hold it
        bad = landing.land("alice", _set(_good_pull(), path, "NESTED"), fetched_at=FETCHED - timedelta(hours=2))
        text = gzip.decompress(bad.path.read_bytes()).decode()
        bad.path.write_bytes(gzip.compress(text.replace('"NESTED"', "[" * 100_000 + "]" * 100_000).encode()))
    else:
        bad = landing.land("alice", _set(_good_pull(), path, value), fetched_at=FETCHED - timedelta(hours=2))
    result = _load(db_path, landing)
    recorded = dict(_rows(db_path, "select pull_id, outcome from meta.loaded_pulls"))
    if says is None:  # an extra field of the wrong shape is simply not read
        assert result.pulls_rejected == [] and recorded == {bad.pull_id: "loaded"}
    else:
        assert [pull_id for pull_id, _ in result.pulls_rejected] == [bad.pull_id]
        assert says in result.pulls_rejected[0][1]
        assert recorded == {bad.pull_id: "rejected"} and bad.path.exists()
    landing.land("alice", _good_pull(T0 + timedelta(hours=1), 3), fetched_at=FETCHED)
    assert _load(db_path, landing).pulls_loaded == 1  # the queue moves on


def test_a_stray_file_in_a_landing_folder_is_not_taken_for_a_pull(landing, db_path):
    good = landing.land("alice", _good_pull(), fetched_at=FETCHED)
    (good.path.parent / "backup.json").write_text(json.dumps({"not": "a pull"}))
    result = _load(db_path, landing)
    assert result.pulls_loaded == 1 and result.pulls_rejected == []


def test_plays_dated_after_the_fetch_are_not_stored_and_are_named(landing, db_path):
    plays = plays_every(T0, 3) + [play("tr-future", FETCHED + timedelta(days=5 * 365))]
    plays.append(play("tr-skew", FETCHED + timedelta(minutes=2)))  # within the clock-skew allowance
    pulled = landing.land("alice", recently_played(plays), fetched_at=FETCHED)
    result = _load(db_path, landing)
    assert len(result.future_plays) == 1 and "items[" in result.future_plays[0]
    assert sorted(t for (t,) in _rows(db_path, "select track_id from core.listens")) == ["tr-skew", "tr0", "tr1", "tr2"]
    [(outcome, error)] = _rows(db_path, f"select outcome, error from meta.loaded_pulls where pull_id = '{pulled.pull_id}'")
    assert outcome == "loaded" and "dated after the fetch not stored" in error
    assert _rows(db_path, "select count(*) from core.listens where played_at > now()") == [(0,)]


# -- fuzz ------------------------------------------------------------------------------------

ODD_VALUES = [
    None, True, -1, 0, 2**31, 2**63, -(2**63), 1e308, float("nan"), "", " ", "\x00", "\ud83d", "9" * 5000,
    "2026-13-45T99:99:99Z", "2031-01-01T00:00:00Z", [], [1, "a"], {}, {"id": None}, "x" * 10_000,
]


def _paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _paths(value, (*prefix, index))


def _mutate(payload, rng):
    mutated = copy.deepcopy(payload)
    for _ in range(rng.randint(1, 3)):
        paths = [p for p in _paths(mutated) if p]
        path = rng.choice(paths)
        if rng.random() < 0.15:
            node = mutated
            for key in path[:-1]:
                node = node[key]
            del node[path[-1]]
        else:
            _set(mutated, path, copy.deepcopy(rng.choice(ODD_VALUES)))
    return mutated


def test_no_mutation_of_a_pull_can_block_the_queue(landing, db_path):
    """400 random mutations, ten pulls a load: every load commits and records every pull it saw."""
    rng = random.Random(20261203)
    base = _good_pull(count=3)
    fetched = FETCHED - timedelta(days=1)
    for batch in range(40):
        landed = []
        for _ in range(10):
            fetched += timedelta(seconds=1)
            landed.append(landing.land("alice", _mutate(base, rng), fetched_at=fetched).pull_id)
        with open_warehouse(db_path) as warehouse:
            load_user_pulls(warehouse, landing, USER, now=fetched + timedelta(seconds=1))
        recorded = {pull_id for (pull_id,) in _rows(db_path, "select pull_id from meta.loaded_pulls")}
        assert set(landed) <= recorded, f"batch {batch}: a pull was neither loaded nor rejected"
    assert _rows(db_path, "select count(*) from core.listens where played_at > now()") == [(0,)]
