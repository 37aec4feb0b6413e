"""The plays of a simulated listener look like a person's listening."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from listory_pipeline.spotify.simulator import Simulator, SimulatorConfig


@pytest.fixture(scope="module")
def sim() -> Simulator:
    return Simulator(SimulatorConfig(seed=42))


@pytest.fixture(scope="module")
def two_months(sim):
    """(user, plays of 60 local days) for every user."""
    out = {}
    for user in sim.users():
        listener = sim.listener(user.user_id)
        out[user.user_id] = [p for d in range(60) for p in listener.plays_on(date(2026, 9, 1) + timedelta(days=d))]
    return out


def test_plays_per_day_are_in_a_human_range(sim):
    for user in sim.users():
        listener = sim.listener(user.user_id)
        per_day = [len(listener.plays_on(date(2026, 9, 1) + timedelta(days=d))) for d in range(60)]
        assert 15 <= sum(per_day) / len(per_day) <= 80
        assert max(per_day) <= 4 * 40
        assert all(n == 0 or n >= 5 for n in per_day)  # a day is silent or has whole sessions


def test_played_at_strictly_increases_and_plays_do_not_overlap(two_months):
    for plays in two_months.values():
        for earlier, later in zip(plays, plays[1:]):
            assert later.played_at_ms > earlier.played_at_ms
            # played_at is the end: the later play started after the earlier ended
            assert later.played_at_ms - later.ms_played >= earlier.played_at_ms


def test_durations_come_from_the_catalog_or_are_skips(sim, two_months):
    plays = [p for ps in two_months.values() for p in ps]
    full = skipped = 0
    for p in plays:
        duration = sim.catalog.tracks[p.track_index].duration_ms
        if p.ms_played == duration:
            full += 1
        else:
            assert 10_000 <= p.ms_played < duration
            skipped += 1
    assert 0.03 < skipped / len(plays) < 0.15


def test_listening_happens_in_waking_hours_of_the_users_zone(sim, two_months):
    for user in sim.users():
        tz = ZoneInfo(user.timezone)
        hours = Counter(datetime.fromtimestamp(p.played_at_ms / 1000, tz).hour for p in two_months[user.user_id])
        night = sum(hours[h] for h in (3, 4, 5))
        assert night / sum(hours.values()) < 0.02
        assert sum(hours[h] for h in range(7, 23)) / sum(hours.values()) > 0.85


def test_taste_is_skewed_towards_favourite_artists(sim, two_months):
    for plays in two_months.values():
        artists = Counter(sim.catalog.tracks[p.track_index].artist_indexes[0] for p in plays)
        top10 = sum(n for _, n in artists.most_common(10))
        assert top10 / len(plays) > 0.35
        assert len(artists) > 30  # but with discovery beyond the favourites


def test_users_listen_differently(two_months):
    tracks = {u: {p.track_index for p in plays} for u, plays in two_months.items()}
    alice, bruno = tracks["sim-alice"], tracks["sim-bruno"]
    assert len(alice & bruno) < 0.3 * min(len(alice), len(bruno))
