"""A 429 seen by one process holds back every process of the same Spotify app."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from listory_pipeline.crawl.rate_limits import PauseStore, SharedRateGate
from listory_pipeline.spotify.errors import RateLimitedError

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=timezone.utc)


class FakeClock:
    def __init__(self):
        self.now = NOW
        self.slept = []

    def sleep(self, seconds):
        self.slept.append(seconds)
        self.now += timedelta(seconds=seconds)


def _gate(store, clock, key="app-a"):
    return SharedRateGate(store, key, sleep=clock.sleep, now=lambda: clock.now)


def test_a_short_block_in_one_process_makes_the_other_wait(tmp_path):
    store = PauseStore(tmp_path / "pauses.json")
    first_clock, second_clock = FakeClock(), FakeClock()
    _gate(store, first_clock).block_for(5, "429")
    assert _gate(store, second_clock).wait(max_wait_seconds=60) == pytest.approx(5)
    # Another app is not held back.
    assert _gate(store, FakeClock(), key="app-b").wait(max_wait_seconds=60) == 0


def test_a_long_pause_fails_other_processes_at_once(tmp_path):
    store = PauseStore(tmp_path / "pauses.json")
    _gate(store, FakeClock()).block_until(NOW + timedelta(hours=3), "QUOTA_EXCEEDED")
    clock = FakeClock()
    with pytest.raises(RateLimitedError) as raised:
        _gate(store, clock).wait(max_wait_seconds=60, endpoint="recently_played")
    assert raised.value.reason == "QUOTA_EXCEEDED"
    assert raised.value.retry_at == NOW + timedelta(hours=3)
    assert clock.slept == []
    assert store.pause_for("app-a", NOW).reason == "QUOTA_EXCEEDED"
    assert store.pause_for("app-a", NOW + timedelta(hours=3, seconds=1)) is None
