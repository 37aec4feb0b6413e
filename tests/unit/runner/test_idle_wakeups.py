"""The instance's idle loops wake less often (runner/idle_wakeups.py) and still do their work:
uvicorn serves with a current Date header and stops when asked, an interval daemon iterates on
its interval and stops at once, and a sensor's tick purge runs again once its pause is over."""

from __future__ import annotations

import asyncio
import threading
import time
from email.utils import parsedate_to_datetime

import httpx
import uvicorn
from dagster._daemon.daemon import IntervalDaemon, SpanMarker

from listory_pipeline.runner import idle_wakeups
from listory_pipeline.runner.idle_wakeups import ThrottledTickPurge
from tests.support.ports import free_port


async def _hello(scope, receive, send) -> None:
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"hello"})


def test_uvicorn_serves_with_a_current_date_wakes_once_a_second_and_stops_when_asked(monkeypatch):
    monkeypatch.setattr(uvicorn.Server, "main_loop", uvicorn.Server.main_loop)  # restored after the test
    idle_wakeups.tick_uvicorn_once_a_second()
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(_hello, host="127.0.0.1", port=port, log_level="warning"))
    ticks = []
    original_on_tick = server.on_tick

    async def counting_on_tick(counter: int) -> bool:
        ticks.append(time.monotonic())
        return await original_on_tick(counter)

    server.on_tick = counting_on_tick
    thread = threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started

    window_start = time.monotonic()
    time.sleep(3.2)
    window_ticks = [t for t in ticks if t >= window_start]
    response = httpx.get(f"http://127.0.0.1:{port}/")
    assert response.text == "hello"
    served_date = parsedate_to_datetime(response.headers["date"]).timestamp()
    assert abs(served_date - time.time()) <= 2.5  # refreshed while the server ran, not the start's
    assert 2 <= len(window_ticks) <= 5  # about one a second (uvicorn's own loop: ~32 in this time)

    server.should_exit = True
    stopping = time.monotonic()
    thread.join(timeout=10)
    assert not thread.is_alive()
    assert time.monotonic() - stopping < 5


class _CountingDaemon(IntervalDaemon):
    """An interval daemon whose iteration only notes when it ran."""

    def __init__(self, interval_seconds: float) -> None:
        super().__init__(interval_seconds=interval_seconds)
        self.iterations: list[float] = []

    @classmethod
    def daemon_type(cls) -> str:
        return "COUNTING"

    def run_iteration(self, workspace_process_context):
        self.iterations.append(time.monotonic())
        yield from ()


def _drive(daemon: IntervalDaemon, shutdown: threading.Event, seconds: float) -> int:
    """Run the daemon's loop as Dagster's `run_daemon_loop` does; the wake-ups it came back with."""
    wakeups = 0
    loop = daemon.core_loop(None, shutdown)
    ends = time.monotonic() + seconds
    while time.monotonic() < ends and not shutdown.is_set():
        if next(loop) is None:
            wakeups += 1
    return wakeups


def test_an_interval_daemon_iterates_on_its_interval_and_sleeps_in_between(monkeypatch):
    monkeypatch.setattr(IntervalDaemon, "core_loop", IntervalDaemon.core_loop)
    idle_wakeups.sleep_interval_daemons_through()
    daemon = _CountingDaemon(interval_seconds=1.5)
    wakeups = _drive(daemon, threading.Event(), seconds=3.2)
    assert len(daemon.iterations) == 3  # at 0, 1.5 and 3.0 s, as before
    gaps = [later - earlier for earlier, later in zip(daemon.iterations, daemon.iterations[1:])]
    assert all(1.45 <= gap <= 2.0 for gap in gaps)
    assert wakeups <= 2 * len(daemon.iterations)  # one sleep and the loop's end each (Dagster's slices: four)


def test_an_interval_daemon_with_a_long_interval_still_returns_for_its_heartbeat_and_stops_at_once(monkeypatch):
    monkeypatch.setattr(IntervalDaemon, "core_loop", IntervalDaemon.core_loop)
    monkeypatch.setattr(idle_wakeups, "DAEMON_SLICE_SECONDS", 0.5)
    idle_wakeups.sleep_interval_daemons_through()
    daemon = _CountingDaemon(interval_seconds=60)
    shutdown = threading.Event()
    loop = daemon.core_loop(None, shutdown)
    assert next(loop) is SpanMarker.START_SPAN
    assert next(loop) is SpanMarker.END_SPAN
    started = time.monotonic()
    assert next(loop) is None  # back within a slice, for the heartbeat
    assert time.monotonic() - started < 1.5
    threading.Timer(0.3, shutdown.set).start()
    monkeypatch.setattr(idle_wakeups, "DAEMON_SLICE_SECONDS", 30.0)
    started = time.monotonic()
    next(loop)
    assert shutdown.is_set() and time.monotonic() - started < 5  # the stop ended the sleep


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_sensors_tick_purge_runs_again_once_its_pause_is_over():
    purged = []
    clock = _Clock()
    purge = ThrottledTickPurge(lambda *args: purged.append(args), every_seconds=600, clock=clock)

    purge("origin-a", "sensor-a", before=1.0, tick_statuses=["SKIPPED"])
    purge("origin-a", "sensor-a", before=2.0, tick_statuses=["SUCCESS", "STARTED"])  # another age: its own purge
    purge("origin-b", "sensor-b", before=3.0, tick_statuses=["SKIPPED"])  # another sensor
    clock.now += 10
    purge("origin-a", "sensor-a", before=4.0, tick_statuses=["SKIPPED"])  # too soon: waits
    purge("origin-a", "sensor-a", before=5.0, tick_statuses=["STARTED", "SUCCESS"])
    assert [call[2] for call in purged] == [1.0, 2.0, 3.0]

    clock.now += 600
    purge("origin-a", "sensor-a", before=6.0, tick_statuses=["SKIPPED"])
    assert purged[-1] == ("origin-a", "sensor-a", 6.0, ["SKIPPED"])
