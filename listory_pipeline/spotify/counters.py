"""Thread-safe counts of Spotify HTTP attempts by (endpoint, outcome).

Endpoints: ``token``, ``me``, ``recently_played``, ``track``, ``tracks_bulk``, ``album``,
``albums_bulk``, ``artist``, ``artists_bulk``. Outcomes: ``ok`` (2xx), the HTTP status as a
string (``"429"``, ``"503"``, ``"403"``…), ``timeout`` or ``connection_error``.
Every attempt is counted, retries included.

Counting one crawl: each session of the client has its own ``RequestCounter`` (exact even
when several crawls share the client in threads); for a single-threaded process
``counter.diff(before)`` with ``before = counter.snapshot()`` works too.
"""

from __future__ import annotations

import threading
from collections import Counter

__all__ = ["ENDPOINTS", "RequestCounter"]

ENDPOINTS = (
    "token",
    "me",
    "recently_played",
    "track",
    "tracks_bulk",
    "album",
    "albums_bulk",
    "artist",
    "artists_bulk",
)


class RequestCounter:
    """Counts HTTP attempts; every method is safe to call from several threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[tuple[str, str]] = Counter()

    def record(self, endpoint: str, outcome: str) -> None:
        with self._lock:
            self._counts[(endpoint, str(outcome))] += 1

    def counts(self) -> dict[tuple[str, str], int]:
        """Every (endpoint, outcome) pair seen, with its count."""
        with self._lock:
            return dict(self._counts)

    @property
    def total(self) -> int:
        with self._lock:
            return sum(self._counts.values())

    def by_endpoint(self) -> dict[str, int]:
        """Attempts per endpoint, all outcomes together."""
        out: Counter[str] = Counter()
        for (endpoint, _), n in self.counts().items():
            out[endpoint] += n
        return dict(out)

    def by_outcome(self) -> dict[str, int]:
        """Attempts per outcome, all endpoints together."""
        out: Counter[str] = Counter()
        for (_, outcome), n in self.counts().items():
            out[outcome] += n
        return dict(out)

    def by_endpoint_outcome(self) -> dict[str, dict[str, int]]:
        """``{"artists_bulk": {"ok": 2, "429": 1}, …}``."""
        out: dict[str, dict[str, int]] = {}
        for (endpoint, outcome), n in sorted(self.counts().items()):
            out.setdefault(endpoint, {})[outcome] = n
        return out

    def snapshot(self) -> dict[str, int]:
        """``{"total": n, "token": 1, "recently_played": 1, …}``: only non-zero endpoints."""
        per_endpoint = self.by_endpoint()
        snap = {"total": sum(per_endpoint.values())}
        snap.update({k: v for k, v in sorted(per_endpoint.items()) if v})
        return snap

    def diff(self, since_snapshot: dict[str, int]) -> dict[str, int]:
        """What was counted since ``since_snapshot`` (a :meth:`snapshot`), same shape."""
        now = self.snapshot()
        out = {"total": now["total"] - since_snapshot.get("total", 0)}
        for key, value in now.items():
            if key != "total" and value - since_snapshot.get(key, 0):
                out[key] = value - since_snapshot.get(key, 0)
        return out

    def __repr__(self) -> str:
        return f"RequestCounter({self.snapshot()})"
