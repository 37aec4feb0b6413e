"""recently-played answers what Spotify would: the newest visible plays at a moment."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from listory_pipeline.spotify.simulator import FaultConfig, Simulator, SimulatorConfig

T = datetime(2026, 11, 20, 12, tzinfo=timezone.utc)
USER = "sim-bruno"


def _parse(played_at: str) -> datetime:
    return datetime.fromisoformat(played_at.replace("Z", "+00:00"))


def _seen(body: dict) -> list[tuple[datetime, str]]:
    return [(_parse(i["played_at"]), i["track"]["id"]) for i in body["items"]]


@pytest.fixture
def sim() -> Simulator:
    return Simulator(SimulatorConfig(seed=42))


def test_answer_is_the_50_newest_plays_before_t_newest_first(sim):
    body = sim.recently_played(USER, now=T, limit=50)
    seen = _seen(body)
    assert len(seen) == 50
    assert seen == sorted(seen, reverse=True)
    assert all(played_at <= T for played_at, _ in seen)
    truth = sim.ground_truth(USER, T - timedelta(days=30), T)
    assert seen == truth[-50:][::-1]
    assert body["cursors"] == {
        "after": str(int(seen[0][0].timestamp() * 1000)),
        "before": str(int(seen[-1][0].timestamp() * 1000)),
    }
    assert body["items"][0]["played_at"].endswith("Z") and len(body["items"][0]["played_at"]) == 24


def test_moving_time_forward_reveals_the_plays_made_meanwhile(sim):
    first = _seen(sim.recently_played(USER, now=T))
    later_t = T + timedelta(days=1)
    later = _seen(sim.recently_played(USER, now=later_t))
    new = [p for p in later if p[0] > T]
    assert new, "a day later there are new plays"
    assert new[::-1] == sim.ground_truth(USER, T, later_t)[-len(new):]
    assert later[0][0] > first[0][0]


def test_limit_and_before_cursor_page_backwards(sim):
    page1 = sim.recently_played(USER, now=T, limit=10)
    assert len(page1["items"]) == 10
    page2 = sim.recently_played(USER, now=T, limit=10, before=int(page1["cursors"]["before"]))
    assert _seen(page1) + _seen(page2) == _seen(sim.recently_played(USER, now=T, limit=20))
    assert "before=" in page1["next"]


def test_after_cursor_returns_only_newer_plays(sim):
    older = sim.recently_played(USER, now=T - timedelta(hours=12), limit=1)
    cursor = int(older["cursors"]["after"])
    newer = _seen(sim.recently_played(USER, now=T, limit=50, after=cursor))
    assert newer and all(p[0].timestamp() * 1000 > cursor for p in newer)
    assert newer[::-1] == sim.ground_truth(USER, T - timedelta(hours=12), T)[-len(newer):]


def _late_sim(max_late_seconds: int = 3 * 3600) -> Simulator:
    return Simulator(SimulatorConfig(seed=42, faults=FaultConfig(late_fraction=0.3, max_late_seconds=max_late_seconds)))


# Lags of up to five days would push late plays past 50 newer ones; the cap must stop that.
LAGS = pytest.mark.parametrize("max_late", [3 * 3600, 5 * 86400], ids=["3h", "5d"])


@LAGS
def test_late_plays_appear_only_after_their_lag_and_inside_the_50(max_late):
    sim = _late_sim(max_late)
    plays = sim.ground_truth(USER, T - timedelta(days=3), T)
    late = [(p, sim.visible_at(USER, p)) for p, _ in plays]
    late = [(p, v) for p, v in late if v > p]
    assert len(late) > 0.2 * len(plays)
    for played_at, visible_at in late[:40]:
        just_before = _seen(sim.recently_played(USER, now=visible_at - timedelta(milliseconds=1)))
        at_visible = _seen(sim.recently_played(USER, now=visible_at))
        assert played_at not in [p for p, _ in just_before]
        assert played_at in [p for p, _ in at_visible]
        assert visible_at - played_at <= timedelta(seconds=max_late)


@LAGS
def test_ground_truth_is_what_a_ten_minute_poller_sees(max_late):
    """Every play, late ones included, shows up in some answer of 50 polled every 10 minutes."""
    sim = _late_sim(max_late)
    start, end = T - timedelta(days=4), T
    seen: set[tuple[datetime, str]] = set()
    t = start
    while t <= end:
        seen.update(p for p in _seen(sim.recently_played(USER, now=t)) if p[0] > start)
        t += timedelta(minutes=10)
    truth = sim.ground_truth(USER, start, end)
    assert truth and seen == set(truth)


def test_ground_truth_leaves_out_plays_not_yet_visible():
    sim = _late_sim()
    on_time = Simulator(SimulatorConfig(seed=42))
    late_play = next(p for p, _ in on_time.ground_truth(USER, T - timedelta(days=1), T) if sim.visible_at(USER, p) > p)
    end = late_play + timedelta(seconds=1)
    everything = on_time.ground_truth(USER, end - timedelta(days=1), end)
    visible_now = sim.ground_truth(USER, end - timedelta(days=1), end)
    assert set(visible_now) < set(everything)
    assert all(sim.visible_at(USER, p) <= end for p, _ in visible_now)
    assert all(sim.visible_at(USER, p) > end for p in {p for p, _ in everything} - {p for p, _ in visible_now})


def test_out_of_order_swaps_neighbours_but_keeps_the_same_plays(sim):
    ordered = _seen(sim.recently_played(USER, now=T))
    sim.faults.out_of_order = True
    shuffled = _seen(sim.recently_played(USER, now=T))
    assert shuffled != ordered
    assert sorted(shuffled, reverse=True) == ordered
