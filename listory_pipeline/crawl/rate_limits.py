"""Rate-limit pauses shared by every process of the deployment.

A 429 with a long Retry-After (since mid-2026 `QUOTA_EXCEEDED`, hours) counts
against the whole Spotify app, so every crawl of that app must wait, not only
the run that saw it. The run that meets it records the pause here; the crawl
sensor skips the app's users until it has passed, and a crawl that starts anyway
fails at once without spending a request. A small JSON file in LISTORY_HOME,
replaced atomically: readable by sensors without opening the warehouse.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from listory_pipeline.spotify.rate_gate import RateGate


@dataclass(frozen=True)
class Pause:
    app_key: str
    until: datetime
    reason: str


class PauseStore:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def _read(self) -> dict[str, dict]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError):
            # A damaged file must not stop crawling for good; the next 429 writes it anew.
            return {}
        return data if isinstance(data, dict) else {}

    def record(self, app_key: str, until: datetime, reason: str) -> Pause:
        """Keep the later of the stored and the new end: a pause is never shortened."""
        data = self._read()
        current = data.get(app_key)
        if current and datetime.fromisoformat(current["until"]) >= until:
            return Pause(app_key, datetime.fromisoformat(current["until"]), current["reason"])
        data[app_key] = {"until": until.astimezone(timezone.utc).isoformat(), "reason": reason}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=self.path.parent, prefix=".pauses-")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle)
        os.replace(temp, self.path)
        return Pause(app_key, until, reason)

    def active(self, now: datetime | None = None) -> dict[str, Pause]:
        now = now or datetime.now(timezone.utc)
        pauses = {}
        for app_key, entry in self._read().items():
            try:
                until = datetime.fromisoformat(entry["until"])
            except (KeyError, TypeError, ValueError):
                continue
            if until > now:
                pauses[app_key] = Pause(app_key, until, str(entry.get("reason", "rate limited")))
        return pauses

    def pause_for(self, app_key: str, now: datetime | None = None) -> Pause | None:
        return self.active(now).get(app_key)


class SharedRateGate(RateGate):
    """The client's rate gate, shared by every process of one Spotify app through a PauseStore.

    A 429 seen by one run closes the gate for all runs of the app (and the sensor
    skips the app's users meanwhile); before each request a run looks at the
    store, so it waits, or fails at once without asking Spotify when the pause
    is longer than it may wait inline.
    """

    def __init__(self, store: PauseStore, app_key: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self._store = store
        self._app_key = app_key

    def block_until(self, until: datetime, reason: str | None = None) -> datetime:
        until = super().block_until(until, reason)
        self._store.record(self._app_key, until, reason or "rate limited (429)")
        return until

    def _refresh(self) -> None:
        pause = self._store.pause_for(self._app_key, self._now())
        if pause is not None:
            RateGate.block_until(self, pause.until, pause.reason)
