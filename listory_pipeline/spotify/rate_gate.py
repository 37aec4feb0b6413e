"""A process-wide gate that holds every Spotify request back after a 429.

Spotify's ``Retry-After`` applies to the whole app, not to the one request that got the
429. One :class:`RateGate` is shared by every session of a :class:`SpotifyClient` (and may
be shared by several clients of the same app): ``block_for`` closes it, and every request
goes through ``wait`` first, so all of them pause together.

Time comes from an injectable UTC ``now`` and an injectable ``sleep`` so tests never sleep.
``wait`` refuses (raises :class:`RateLimitedError`, no sleep) when the gate stays closed
longer than the caller is willing to wait inline (e.g. ``QUOTA_EXCEEDED`` for hours).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from listory_pipeline.spotify.errors import RateLimitedError

__all__ = ["RateGate", "RateGateStatus", "utc_now"]


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class RateGateStatus:
    blocked: bool
    blocked_until: datetime | None
    remaining_seconds: float
    reason: str | None


class RateGate:
    """Thread-safe ``blocked_until`` (UTC) shared by all requests of a process."""

    def __init__(
        self,
        *,
        sleep: Callable[[float], None] = time.sleep,
        now: Callable[[], datetime] = utc_now,
    ) -> None:
        self._sleep = sleep
        self._now = now
        self._lock = threading.Lock()
        self._blocked_until: datetime | None = None
        self._reason: str | None = None

    def block_for(self, seconds: float, reason: str | None = None) -> datetime:
        """Close the gate for ``seconds`` from now (never shortens an existing block)."""
        return self.block_until(self._now() + timedelta(seconds=max(0.0, float(seconds))), reason)

    def block_until(self, until: datetime, reason: str | None = None) -> datetime:
        """Close the gate until ``until`` (never shortens an existing block)."""
        with self._lock:
            if self._blocked_until is None or until > self._blocked_until:
                self._blocked_until = until
                self._reason = reason
            return self._blocked_until

    def _refresh(self) -> None:
        """Hook for gates that learn of blocks from elsewhere (other processes) before each wait."""

    def _remaining(self) -> tuple[float, datetime | None, str | None]:
        self._refresh()
        with self._lock:
            until, reason = self._blocked_until, self._reason
        if until is None:
            return 0.0, None, None
        return max(0.0, (until - self._now()).total_seconds()), until, reason

    def wait(self, max_wait_seconds: float | None = None, *, endpoint: str | None = None) -> float:
        """Sleep until the gate is open; returns the seconds slept.

        Raises :class:`RateLimitedError` without sleeping when the remaining wait exceeds
        ``max_wait_seconds``.
        """
        slept = 0.0
        while True:
            remaining, until, reason = self._remaining()
            if remaining <= 0:
                return slept
            if max_wait_seconds is not None and remaining > max_wait_seconds:
                raise RateLimitedError(
                    retry_at=until,
                    retry_after_seconds=remaining,
                    reason=reason,
                    endpoint=endpoint,
                )
            self._sleep(remaining)
            slept += remaining
            with self._lock:
                extended = self._blocked_until != until
            if not extended:  # nobody closed it again while we slept: open (also under fake clocks)
                return slept

    def status(self) -> RateGateStatus:
        remaining, until, reason = self._remaining()
        return RateGateStatus(
            blocked=remaining > 0,
            blocked_until=until if remaining > 0 else None,
            remaining_seconds=remaining,
            reason=reason if remaining > 0 else None,
        )

    def __repr__(self) -> str:
        s = self.status()
        return f"RateGate(blocked={s.blocked}, remaining_seconds={s.remaining_seconds:.1f}, reason={s.reason!r})"
