"""The simulator's notion of "now", which tests pin so history is reproducible."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone


class SimClock:
    """Wall clock by default; `set`/`advance` freeze it so answers stop drifting.

    Server threads read it while a test moves it, hence the lock.
    """

    def __init__(self, fixed: datetime | None = None) -> None:
        self._lock = threading.Lock()
        self._fixed: datetime | None = None
        if fixed is not None:
            self.set(fixed)

    def now(self) -> datetime:
        with self._lock:
            if self._fixed is not None:
                return self._fixed
        return datetime.now(timezone.utc)

    def set(self, dt: datetime) -> None:
        if dt.tzinfo is None:
            raise ValueError("SimClock needs a timezone-aware datetime")
        with self._lock:
            self._fixed = dt.astimezone(timezone.utc)

    def advance(self, seconds: float) -> None:
        self.set(self.now() + timedelta(seconds=seconds))

    def use_wall_clock(self) -> None:
        with self._lock:
            self._fixed = None

    @property
    def is_fixed(self) -> bool:
        with self._lock:
            return self._fixed is not None
