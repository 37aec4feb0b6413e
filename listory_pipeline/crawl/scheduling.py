"""Who to crawl, and when: pure decisions the sensors wrap, so tests call them directly.

Spotify keeps 50 plays, and nobody plays 50 tracks in 10 minutes, so every user
is crawled at least every 10 minutes; a user who played something in the last
hour is crawled every minute so new plays show up at once. A user whose crawls
keep failing backs off exponentially, never beyond the 10-minute ceiling, and a
rate-limit pause of their Spotify app holds every crawl of it until it passes.

The per-user state lives in the sensor's cursor and is learned from Dagster's
event log (materialisations of `landing/recently_played`, failed crawl runs), so
a tick's work depends on the number of users and new events, never on listens.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from listory_pipeline.users.registry import RegisteredUser, token_expiry_status


@dataclass(frozen=True)
class CrawlPolicy:
    active_interval_seconds: float = 60.0
    idle_interval_seconds: float = 600.0
    active_window_seconds: float = 3600.0
    failure_backoff_base_seconds: float = 60.0


@dataclass
class UserCrawlState:
    """What the sensor knows of one user, all times in epoch seconds."""

    newest_play: float | None = None
    last_requested: float | None = None
    last_success: float | None = None
    failures: int = 0


@dataclass
class SchedulerCursor:
    """The sensor cursor: event-log positions already read, and per-user state."""

    materialization_storage_id: int | None = None
    failure_cursor: str | None = None
    users: dict[str, UserCrawlState] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(
            {
                "m": self.materialization_storage_id,
                "f": self.failure_cursor,
                "u": {uid: [s.newest_play, s.last_requested, s.last_success, s.failures] for uid, s in self.users.items()},
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str | None) -> "SchedulerCursor":
        if not text:
            return cls()
        data = json.loads(text)
        return cls(
            materialization_storage_id=data.get("m"),
            failure_cursor=data.get("f"),
            users={uid: UserCrawlState(*values) for uid, values in data.get("u", {}).items()},
        )


def crawl_interval(state: UserCrawlState, now: float, policy: CrawlPolicy) -> float:
    """Seconds between crawls for this user right now."""
    listening = state.newest_play is not None and now - state.newest_play < policy.active_window_seconds
    interval = policy.active_interval_seconds if listening else policy.idle_interval_seconds
    if state.failures > 0:
        backoff = policy.failure_backoff_base_seconds * 2 ** (state.failures - 1)
        interval = min(policy.idle_interval_seconds, max(interval, backoff))
    return interval


def next_due(state: UserCrawlState, now: float, policy: CrawlPolicy) -> float:
    """A crawl is due one interval after the last request or success, whichever is later."""
    last = max((t for t in (state.last_requested, state.last_success) if t is not None), default=None)
    if last is None:
        return now
    return last + crawl_interval(state, now, policy)


def due_users(
    users: Iterable[RegisteredUser],
    cursor: SchedulerCursor,
    now: float,
    *,
    policy: CrawlPolicy,
    partitions: set[str],
    in_flight: set[str],
    paused_apps: Mapping[str, float],
    app_of_user: Mapping[str, str],
) -> list[str]:
    """Active users with a partition, not already queued or running, whose app is not paused, and due."""
    due = []
    for user in users:
        user_id = user.user_id
        if user.status != "active" or user_id not in partitions or user_id in in_flight:
            continue
        if paused_apps.get(app_of_user.get(user_id, ""), 0.0) > now:
            continue
        state = cursor.users.get(user_id) or UserCrawlState()
        if next_due(state, now, policy) <= now:
            due.append(user_id)
    return due


def record_success(cursor: SchedulerCursor, user_id: str, *, at: float, newest_play: float | None) -> None:
    state = cursor.users.setdefault(user_id, UserCrawlState())
    state.failures = 0
    state.last_success = max(state.last_success or 0.0, at)
    if newest_play is not None:
        state.newest_play = max(state.newest_play or 0.0, newest_play)


def record_failure(cursor: SchedulerCursor, user_id: str) -> None:
    cursor.users.setdefault(user_id, UserCrawlState()).failures += 1


def record_requested(cursor: SchedulerCursor, user_id: str, at: float) -> None:
    cursor.users.setdefault(user_id, UserCrawlState()).last_requested = at


def forget_missing(cursor: SchedulerCursor, registered: set[str]) -> None:
    """Removed users leave the cursor, so it stays the size of the registry."""
    for user_id in [uid for uid in cursor.users if uid not in registered]:
        del cursor.users[user_id]


def users_needing_partitions(users: Iterable[RegisteredUser], existing_partitions: Iterable[str]) -> list[str]:
    """Active users that have no Dagster partition yet: they get one and their first crawl at once."""
    existing = set(existing_partitions)
    return [user.user_id for user in users if user.status == "active" and user.user_id not in existing]


def partitions_without_users(users: Iterable[RegisteredUser], existing_partitions: Iterable[str]) -> list[str]:
    """Partitions of users no longer in the registry (`listory users remove`): they are dropped.

    Disabled users keep theirs (they may be enabled again); their history stays in the event log.
    """
    registered = {user.user_id for user in users}
    return sorted(set(existing_partitions) - registered)


def first_crawl_run_key(user_id: str) -> str:
    return f"first-crawl:{user_id}"


def crawl_run_key(user_id: str, due_at: float) -> str:
    """Deterministic per (user, due time): a re-evaluated tick never launches a second run."""
    return f"crawl:{user_id}:{int(due_at)}"



def attention_lines(users: Iterable[RegisteredUser], now=None) -> list[str]:
    """Users a person must act on before crawling them stops or stays stopped."""
    lines = []
    revoked = [user.user_id for user in users if user.status == "revoked"]
    if revoked:
        lines.append(f"not crawled, access revoked: {', '.join(revoked)} (run `listory login` for each)")
    expiring = []
    for user in users:
        if user.status != "active":
            continue
        expiry = token_expiry_status(user, now)
        if expiry.status in ("expiring", "expired"):
            expiring.append(f"{user.user_id} ({expiry.describe()})")
    if expiring:
        lines.append(f"refresh token expiring or expired: {', '.join(expiring)} (run `listory login` for each)")
    return lines
