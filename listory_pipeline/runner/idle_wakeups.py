"""What the daemon and the webserver of `listory ui` spend while nothing happens.

They run all day, so a loop that wakes every tenth of a second with nothing to do is paid
864,000 times a day. Measured on this machine (README, "Bounded history", the instance's
cost), the daemon and the webserver spent ~0.5 CPU-s a minute besides the crawl runs, and
three loops made a good part of it without doing any work:

- **uvicorn's main loop wakes ten times a second**, to refresh the `Date` header once a
  second and to notice a stop request: a bare asyncio loop sleeping 0.1 s costs ~4 CPU-s
  per 30 minutes here, about as much as the idle webserver spent in all. Once a second
  keeps both (the header changes once a second; a stop is noticed within a second).
- **Dagster's interval daemons sleep in half-second slices** (the run queue every 5 s, run
  monitoring every 60 s), waking in between only to return to their heartbeat check,
  which is due every 30 s. They sleep until their next iteration here, in slices of at
  most `DAEMON_SLICE_SECONDS` so heartbeats still go out well within Dagster's tolerance;
  a stop still wakes them at once (the shutdown event).
- **Every sensor tick purges old ticks**, one DELETE per retention age of dagster.yaml
  (three), ~390 ticks in 30 minutes, ~0.9 ms of CPU each against a long history. Ticks
  older than their age can wait a few minutes more: each sensor's purge runs at most every
  `TICK_PURGE_EVERY_SECONDS`.
"""

from __future__ import annotations

import asyncio
import random
import sys
import threading
import time
from collections.abc import Callable

UVICORN_TICK_SECONDS = 1.0  # uvicorn's own cadence is 0.1 s
_UVICORN_TICKS_PER_SECOND = 10  # on_tick refreshes the Date header when its counter is a multiple of this
_UVICORN_COUNTER_WRAP = 864000  # as uvicorn's loop
DAEMON_SLICE_SECONDS = 5.0  # Dagster's daemon heartbeat is due every 30 s
TICK_PURGE_EVERY_SECONDS = 600.0


def tick_uvicorn_once_a_second() -> None:
    """Make every uvicorn server of this process run its housekeeping once a second."""
    import uvicorn

    async def main_loop(self) -> None:
        counter = 0
        should_exit = await self.on_tick(counter)
        while not should_exit:
            # a multiple of ten on every tick: on_tick refreshes the Date header each time
            counter = (counter + _UVICORN_TICKS_PER_SECOND) % _UVICORN_COUNTER_WRAP
            await asyncio.sleep(UVICORN_TICK_SECONDS)
            should_exit = await self.on_tick(counter)

    uvicorn.Server.main_loop = main_loop


def sleep_interval_daemons_through() -> None:
    """Make Dagster's interval daemons (run queue, run monitoring) sleep until their next
    iteration instead of waking every half second; otherwise their loop as Dagster has it."""
    from dagster._daemon.daemon import IntervalDaemon, SpanMarker
    from dagster._utils.error import serializable_error_info_from_exc_info

    def core_loop(self, workspace_process_context, shutdown_event: threading.Event):
        if self.startup_jitter_seconds:
            time.sleep(random.uniform(0, self.startup_jitter_seconds))
        while True:
            interval = self.interval_seconds + random.uniform(0, self.interval_jitter_seconds)
            start_time = time.time()
            yield SpanMarker.START_SPAN
            try:
                yield from self.run_iteration(workspace_process_context)
            except Exception:
                error_info = serializable_error_info_from_exc_info(sys.exc_info())
                self._logger.error("Caught error:\n%s", error_info)
                yield error_info
            yield SpanMarker.END_SPAN
            while (remaining := interval - (time.time() - start_time)) > 0:
                shutdown_event.wait(min(remaining, DAEMON_SLICE_SECONDS))
                yield None  # back to the daemon's loop: its heartbeat and its shutdown check
            yield None

    IntervalDaemon.core_loop = core_loop


class ThrottledTickPurge:
    """`instance.purge_ticks` that lets the same purge (one instigator, the same statuses) run at
    most every `every_seconds`; any other call goes through."""

    def __init__(self, purge_ticks: Callable[..., None], every_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._purge_ticks = purge_ticks
        self._every_seconds = every_seconds
        self._clock = clock
        self._last_run: dict[tuple, float] = {}
        self._lock = threading.Lock()  # sensor ticks run on a thread pool

    def __call__(self, origin_id: str, selector_id: str, before: float, tick_statuses=None) -> None:
        key = (origin_id, selector_id, tuple(sorted(str(status) for status in tick_statuses or ())))
        now = self._clock()
        with self._lock:
            last = self._last_run.get(key)
            if last is not None and now - last < self._every_seconds:
                return
            self._last_run[key] = now
        self._purge_ticks(origin_id, selector_id, before, tick_statuses)


def purge_ticks_less_often(instance, every_seconds: float = TICK_PURGE_EVERY_SECONDS) -> None:
    """Throttle the sensor and schedule daemons' tick purges on this instance object (the
    daemon's own; the retention job's purges, in its run worker, are not affected)."""
    instance.purge_ticks = ThrottledTickPurge(instance.purge_ticks, every_seconds)
