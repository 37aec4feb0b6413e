"""Who to crawl: pure decisions the sensors wrap, so tests call them directly."""

from __future__ import annotations

from collections.abc import Iterable

from listory_pipeline.users.registry import RegisteredUser


def users_needing_partitions(users: Iterable[RegisteredUser], existing_partitions: Iterable[str]) -> list[str]:
    """Active users that have no Dagster partition yet: they get one and their first crawl at once."""
    existing = set(existing_partitions)
    return [user.user_id for user in users if user.status == "active" and user.user_id not in existing]


def crawlable_users(users: Iterable[RegisteredUser], existing_partitions: Iterable[str]) -> list[str]:
    existing = set(existing_partitions)
    return [user.user_id for user in users if user.status == "active" and user.user_id in existing]


def first_crawl_run_key(user_id: str) -> str:
    return f"first-crawl:{user_id}"


def periodic_crawl_run_key(user_id: str, tick_epoch_seconds: float, interval_seconds: int) -> str:
    """Deterministic per (user, interval slot): a re-evaluated tick never launches a second run."""
    return f"crawl:{user_id}:{int(tick_epoch_seconds // interval_seconds)}"
