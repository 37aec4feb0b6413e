"""Who is crawled when: the adaptive policy as plain functions."""

from __future__ import annotations

from listory_pipeline.crawl import scheduling
from listory_pipeline.crawl.scheduling import CrawlPolicy, SchedulerCursor, UserCrawlState
from listory_pipeline.users.registry import RegisteredUser

POLICY = CrawlPolicy()
NOW = 1_800_000_000.0


def user(user_id, status="active"):
    return RegisteredUser(user_id, None, "UTC", status, None, None, None, "", "")


def due(users, cursor, now=NOW, in_flight=(), paused=None, partitions=None):
    return scheduling.due_users(
        users,
        cursor,
        now,
        policy=POLICY,
        partitions=set(partitions if partitions is not None else [u.user_id for u in users]),
        in_flight=set(in_flight),
        paused_apps=paused or {},
        app_of_user={u.user_id: "app" for u in users},
    )


def test_listening_users_every_minute_idle_users_every_ten():
    listening = UserCrawlState(newest_play=NOW - 20 * 60, last_requested=NOW - 61)
    idle = UserCrawlState(newest_play=NOW - 3 * 3600, last_requested=NOW - 61)
    assert scheduling.crawl_interval(listening, NOW, POLICY) == 60
    assert scheduling.crawl_interval(idle, NOW, POLICY) == 600
    cursor = SchedulerCursor(users={"listening": listening, "idle": idle})
    assert due([user("listening"), user("idle")], cursor) == ["listening"]
    idle.last_requested = NOW - 601
    assert due([user("listening"), user("idle")], cursor) == ["listening", "idle"]


def test_never_crawled_users_are_due_at_once():
    assert due([user("new")], SchedulerCursor()) == ["new"]


def test_a_crawl_seen_in_the_event_log_counts_like_a_request():
    # After a cursor reset the sensor does not re-crawl someone crawled a moment ago.
    cursor = SchedulerCursor()
    scheduling.record_success(cursor, "fresh", at=NOW - 30, newest_play=NOW - 2 * 3600)
    scheduling.record_success(cursor, "stale", at=NOW - 700, newest_play=NOW - 2 * 3600)
    assert due([user("fresh"), user("stale")], cursor) == ["stale"]


def test_failing_users_back_off_exponentially_up_to_ten_minutes():
    intervals = []
    for failures in range(1, 8):
        state = UserCrawlState(newest_play=NOW - 60, last_requested=NOW, failures=failures)
        intervals.append(scheduling.crawl_interval(state, NOW, POLICY))
    assert intervals == [60, 120, 240, 480, 600, 600, 600]
    cursor = SchedulerCursor()
    scheduling.record_failure(cursor, "u")
    scheduling.record_failure(cursor, "u")
    scheduling.record_success(cursor, "u", at=NOW, newest_play=NOW - 5)
    assert cursor.users["u"].failures == 0


def test_in_flight_paused_disabled_and_partitionless_users_are_skipped():
    users = [user("running"), user("paused"), user("disabled", "disabled"), user("revoked", "revoked"), user("nopart"), user("ok")]
    app_of_user = {u.user_id: ("slow-app" if u.user_id == "paused" else "app") for u in users}
    result = scheduling.due_users(
        users,
        SchedulerCursor(),
        NOW,
        policy=POLICY,
        partitions={"running", "paused", "disabled", "revoked", "ok"},
        in_flight={"running"},
        paused_apps={"slow-app": NOW + 3600, "app": NOW - 1},
        app_of_user=app_of_user,
    )
    assert result == ["ok"]


def test_cursor_survives_json_and_forgets_removed_users():
    cursor = SchedulerCursor(materialization_storage_id=41, failure_cursor="7")
    scheduling.record_requested(cursor, "a", NOW)
    scheduling.record_success(cursor, "b", at=NOW, newest_play=NOW - 10)
    again = SchedulerCursor.from_json(cursor.to_json())
    assert again == cursor
    scheduling.forget_missing(again, {"b"})
    assert set(again.users) == {"b"}


def test_run_keys_are_deterministic_per_user_and_due_time():
    assert scheduling.crawl_run_key("u", 100.7) == scheduling.crawl_run_key("u", 100.2)
    assert scheduling.crawl_run_key("u", 100) != scheduling.crawl_run_key("u", 160)


def test_revoked_and_expiring_users_are_called_out():
    from dataclasses import replace
    from datetime import datetime, timedelta, timezone

    now = datetime(2026, 11, 25, tzinfo=timezone.utc)
    fresh = replace(user("fresh"), refresh_token_issued_at=(now - timedelta(days=10)).isoformat())
    old = replace(user("old"), refresh_token_issued_at=(now - timedelta(days=175)).isoformat())
    gone = replace(user("gone", "revoked"), refresh_token_issued_at=(now - timedelta(days=10)).isoformat())
    lines = scheduling.attention_lines([fresh, old, gone], now=now)
    assert lines == [
        "not crawled, access revoked: gone (run `listory login` for each)",
        "refresh token expiring or expired: old (expiring in 7 days) (run `listory login` for each)",
    ]
