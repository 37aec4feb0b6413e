"""The read copy: what readers see, when it is taken, and what it never does to stored data."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time

import duckdb
import pytest

from listory_pipeline.publication.snapshot import (
    Publication,
    PublicationError,
    is_stale,
    publish,
    publish_trailing,
    read_state,
)
from listory_pipeline.warehouse.connection import open_warehouse


@pytest.fixture
def publication(tmp_path) -> Publication:
    return Publication(tmp_path / "pipeline" / "warehouse.duckdb", tmp_path / "warehouse.duckdb", min_interval_seconds=0)


def _add_user(pub: Publication, user_id: str) -> None:
    with open_warehouse(pub.writer_path, publication=pub) as warehouse:
        warehouse.conn.execute(
            "insert into core.users (user_id, display_name, timezone, status, updated_at) values (?, ?, 'UTC', 'active', now())",
            [user_id, user_id],
        )


def _users(path) -> list[str]:
    with duckdb.connect(str(path), read_only=True) as conn:
        return [row[0] for row in conn.execute("select user_id from core.users order by 1").fetchall()]


def test_a_write_session_publishes_and_a_held_connection_keeps_its_snapshot(publication):
    _add_user(publication, "ann")
    assert _users(publication.published_path) == ["ann"]
    held = duckdb.connect(str(publication.published_path), read_only=True)
    try:
        _add_user(publication, "bob")  # the writer never waits for the reader holding the copy
        assert held.execute("select count(*) from core.users").fetchone()[0] == 1
    finally:
        held.close()
    assert _users(publication.published_path) == ["ann", "bob"]
    assert read_state(publication).generation == 2
    assert not os.access(publication.published_path, os.W_OK) or os.geteuid() == 0
    assert oct(publication.published_path.stat().st_mode & 0o777) == "0o400"


def test_nothing_changed_means_no_copy(publication):
    _add_user(publication, "ann")
    before = read_state(publication)
    with open_warehouse(publication.writer_path, publication=publication) as warehouse:
        warehouse.read("select count(*) from core.users")
    assert not is_stale(publication)
    assert publish(publication, wait_seconds=1) is None
    assert read_state(publication).generation == before.generation


def test_a_failed_session_publishes_nothing(publication):
    _add_user(publication, "ann")
    with pytest.raises(RuntimeError, match="boom"):
        with open_warehouse(publication.writer_path, publication=publication) as warehouse:
            with warehouse.transaction():
                warehouse.conn.execute(
                    "insert into core.users (user_id, display_name, timezone, status, updated_at) "
                    "values ('eve', 'eve', 'UTC', 'active', now())"
                )
                raise RuntimeError("boom")
    assert _users(publication.published_path) == ["ann"]
    assert read_state(publication).generation == 1


def test_writes_inside_the_interval_wait_for_the_trailing_publish(tmp_path):
    pub = Publication(tmp_path / "pipeline" / "warehouse.duckdb", tmp_path / "warehouse.duckdb", min_interval_seconds=0.5)
    _add_user(pub, "ann")  # the first copy is always due
    _add_user(pub, "bob")  # inside the interval: left for the trailing publish
    assert _users(pub.published_path) == ["ann"] and is_stale(pub)
    assert publish_trailing(pub, wait_seconds=1) is None  # younger than two intervals
    time.sleep(1.05)
    published = publish_trailing(pub, wait_seconds=1)
    assert published is not None and published.generation == 2
    assert _users(pub.published_path) == ["ann", "bob"]


def test_a_home_from_before_the_read_copy_keeps_its_data(tmp_path):
    legacy = tmp_path / "warehouse.duckdb"
    with open_warehouse(legacy) as warehouse:  # the old layout: the pipeline wrote this file itself
        warehouse.conn.execute(
            "insert into core.users (user_id, display_name, timezone, status, updated_at) values ('old', 'old', 'UTC', 'active', now())"
        )
    pub = Publication(tmp_path / "pipeline" / "warehouse.duckdb", legacy, min_interval_seconds=0)
    _add_user(pub, "new")
    assert _users(pub.writer_path) == ["new", "old"]
    assert _users(pub.published_path) == ["new", "old"]


def test_a_foreign_file_where_readers_look_is_never_replaced(publication):
    publication.writer_path.parent.mkdir(parents=True)
    with open_warehouse(publication.writer_path):
        pass
    with duckdb.connect(str(publication.published_path)) as conn:
        conn.execute("create table mine as select 42 as answer")
    with pytest.raises(PublicationError, match="was not published by the pipeline"):
        publish(publication, wait_seconds=1)
    with duckdb.connect(str(publication.published_path), read_only=True) as conn:
        assert conn.execute("select answer from mine").fetchone() == (42,)


def test_a_torn_state_file_means_publish_again(publication):
    _add_user(publication, "ann")
    publication.state_path.write_text("{not json")
    _add_user(publication, "bob")
    assert _users(publication.published_path) == ["ann", "bob"]
    assert read_state(publication) is not None


def test_a_copy_left_half_written_is_cleaned_up(publication):
    _add_user(publication, "ann")
    leftover = publication.published_path.with_name(".publishing-999-warehouse.duckdb")
    leftover.write_bytes(b"torn")
    _add_user(publication, "bob")
    assert not leftover.exists()


READER = textwrap.dedent(
    """
    import sys, time, duckdb
    path, seconds = sys.argv[1], float(sys.argv[2])
    held = duckdb.connect(path, read_only=True)   # held for the whole run, as a DuckDB CLI session would be
    torn = samples = most = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        held.execute("select count(*) from core.users").fetchone()
        with duckdb.connect() as fresh:  # attached, so it opens the copy the name points to now
            fresh.execute(f"attach '{path}' as w (read_only)")
            users = fresh.execute("select count(*) from w.core.users").fetchone()[0]
        samples += 1
        torn += users % 2 == 0  # one first user, then two per transaction: always odd when whole
        most = max(most, users)
    print(samples, torn, most)
    """
)


def test_readers_never_see_half_a_transaction_nor_block_the_writer(publication):
    """Each transaction writes two rows; a reader sampling the copy always sees an odd count."""
    _add_user(publication, "first")  # a first copy, so the reader has something to open
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(publication.published_path), "4"], stdout=subprocess.PIPE, text=True
    )
    try:
        for i in range(1, 40):
            with open_warehouse(publication.writer_path, wait_seconds=0, publication=publication) as warehouse:
                with warehouse.transaction():
                    for half in ("a", "b"):
                        warehouse.conn.execute(
                            "insert into core.users (user_id, display_name, timezone, status, updated_at) "
                            "values (?, ?, 'UTC', 'active', now())",
                            [f"{i}{half}", f"pair-{i}"],
                        )
    finally:
        out, _ = reader.communicate(timeout=30)
    samples, torn, most = map(int, out.split())
    assert reader.returncode == 0 and samples > 5
    assert torn == 0
    assert most > 1  # the reader did see loads arrive
    assert read_state(publication).generation >= 40


def test_a_session_of_bookkeeping_alone_keeps_the_copy_without_taking_it_again(publication):
    """Most crawls only record a repeat: copying the whole warehouse for that would rewrite it every
    few seconds. Readers' tables are unchanged, so the copy stays, current and not copied."""
    _add_user(publication, "alice")
    first = read_state(publication)
    with open_warehouse(publication.writer_path, publication=publication) as warehouse:
        warehouse.conn.execute("insert into meta.landing_watermarks values ('alice', current_date, now())")
        warehouse.only_bookkeeping()
    assert read_state(publication).generation == first.generation  # not copied again
    assert not is_stale(publication)  # and nothing waits for the trailing publish
    assert publish_trailing(publication, wait_seconds=5) is None

    # A change readers see is published as before, bookkeeping included.
    _add_user(publication, "bob")
    assert read_state(publication).generation == first.generation + 1
    assert _users(publication.published_path) == ["alice", "bob"]
    with duckdb.connect(str(publication.published_path), read_only=True) as conn:
        assert conn.execute("select count(*) from meta.landing_watermarks").fetchone()[0] == 1


def test_bookkeeping_after_a_change_not_yet_published_leaves_that_change_to_be_published(tmp_path):
    pub = Publication(tmp_path / "pipeline" / "warehouse.duckdb", tmp_path / "warehouse.duckdb", min_interval_seconds=3600)
    _add_user(pub, "alice")  # the first session publishes (no copy yet)
    _add_user(pub, "bob")  # inside the interval: left for the trailing publish
    assert is_stale(pub)
    with open_warehouse(pub.writer_path, publication=pub) as warehouse:
        warehouse.conn.execute("insert into meta.landing_watermarks values ('alice', current_date, now())")
        warehouse.only_bookkeeping()
    assert is_stale(pub)  # bob still waits: never marked as published
    assert _users(pub.published_path) == ["alice"]
