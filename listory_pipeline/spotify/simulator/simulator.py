"""The in-process simulated Spotify: world, clock, faults, revocations and request counts.

Everything an HTTP handler or a test needs to ask goes through `Simulator`;
the HTTP layer (`server.py`) only parses requests and renders answers.
"""

from __future__ import annotations

import copy
import random
import secrets
import threading
from collections import Counter
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from listory_pipeline.spotify.simulator.catalog import Catalog, build_catalog
from listory_pipeline.spotify.simulator.clock import SimClock
from listory_pipeline.spotify.simulator.config import FaultConfig, SimulatorConfig
from listory_pipeline.spotify.simulator.listeners import Listener, Play, SimUser, from_ms, late_lag_ms, make_users, to_ms
from listory_pipeline.spotify.simulator.payloads import play_history_item
from listory_pipeline.spotify.simulator.tokens import TokenSigner

ACCESS_TOKEN_SECONDS = 3600
SCOPE = "user-read-recently-played user-read-private"
DEFAULT_API_URL = "http://simulator.invalid/v1"
# A late play surfaces before the play this many places after it ends, so at
# most 39 newer plays are visible when it appears: it is inside an answer of 50
# with room for 10 more plays before a poller could miss it.
LATE_CAP_SUCCESSOR = 40
_SERVER_ERROR_CYCLE = (500, 502, 503)


class Simulator:
    def __init__(self, config: SimulatorConfig | None = None) -> None:
        self.config = config or SimulatorConfig()
        cfg = self.config
        self.catalog: Catalog = build_catalog(cfg.seed, cfg.n_artists, cfg.n_albums, cfg.n_tracks)
        self._users = make_users(cfg.seed, cfg.n_users)
        self._listeners = {u.user_id: Listener(cfg.seed, u, self.catalog) for u in self._users}
        self.clock = SimClock()
        self.faults: FaultConfig = copy.deepcopy(cfg.faults)
        self.signer = TokenSigner(cfg.seed, cfg.client_secret)
        self._app_secrets = cfg.app_secrets()  # looked up on every API call: built once
        self._lock = threading.Lock()
        self._min_generation: dict[str, int] = {}
        self._spent_codes: set[str] = set()
        self._by_endpoint: Counter[str] = Counter()
        self._by_status: Counter[str] = Counter()
        self._token_by_client: dict[str, Counter[str]] = {}
        self._fault_rng = random.Random(f"faults:{cfg.seed}")
        self._server_errors_fired = 0

    # -- users and tokens -------------------------------------------------

    def users(self) -> list[SimUser]:
        return list(self._users)

    def user(self, user_id: str) -> SimUser | None:
        listener = self._listeners.get(user_id)
        return listener.user if listener else None

    def listener(self, user_id: str) -> Listener:
        try:
            return self._listeners[user_id]
        except KeyError:
            raise KeyError(f"no simulated user {user_id!r}") from None

    def generation(self, user_id: str) -> int:
        with self._lock:
            return self._min_generation.get(user_id, 0)

    # -- apps ---------------------------------------------------------------

    def app_secret(self, client_id: str | None) -> str | None:
        """The secret of a registered app, None for an unknown client id."""
        return self._app_secrets.get(client_id) if client_id else None

    def _app(self, client_id: str | None) -> str:
        """The client id a token is for: the default app when none is named; unknown apps raise."""
        client_id = client_id or self.config.client_id
        if self.app_secret(client_id) is None:
            raise KeyError(f"no simulated app {client_id!r}")
        return client_id

    def _binding(self, client_id: str) -> str | None:
        """The `cid` claim of a refresh token: none for the default app, so its tokens never change."""
        return None if client_id == self.config.client_id else client_id

    def refresh_token_for(self, user_id: str, client_id: str | None = None) -> str:
        """The user's reproducible refresh token for an app (default: the simulator's own app)."""
        self.listener(user_id)
        app = self._app(client_id)
        return self.signer.refresh_token(user_id, self.generation(user_id), client_id=self._binding(app))

    def new_refresh_token(self, user_id: str, client_id: str | None = None) -> str:
        """A distinct token of the current generation, as rotation or a fresh login gives."""
        app = self._app(client_id)
        return self.signer.refresh_token(
            user_id, self.generation(user_id), nonce=secrets.token_hex(6), client_id=self._binding(app)
        )

    def revoke(self, user_id: str) -> None:
        self.listener(user_id)
        with self._lock:
            self._min_generation[user_id] = self._min_generation.get(user_id, 0) + 1

    def user_for_refresh_token(self, token: str, client_id: str | None = None) -> str | None:
        """The user a refresh token of this app (default: the simulator's own) stands for, else None.

        A token obtained by another app is refused, as Spotify answers invalid_grant for it.
        """
        claims = self.signer.open_refresh_token(token)
        if not claims:
            return None
        if claims.get("cid", self.config.client_id) != (client_id or self.config.client_id):
            return None
        user_id = claims.get("sub")
        if user_id not in self._listeners or int(claims.get("gen", -1)) < self.generation(user_id):
            return None
        return user_id

    def access_token_for(self, user_id: str | None, client_id: str | None = None) -> str:
        """An access token of an app valid for an hour of simulator time (None = client credentials)."""
        expires_at = int(self.clock.now().timestamp()) + ACCESS_TOKEN_SECONDS
        generation = self.generation(user_id) if user_id else 0
        return self.signer.access_token(user_id, generation, expires_at, self._app(client_id))

    def check_access_token(self, token: str) -> tuple[bool, str | None, str]:
        """(valid, user id or None for an app token, error message when invalid)."""
        claims = self.signer.open_access_token(token)
        if not claims:
            return False, None, "Invalid access token"
        if self.app_secret(claims.get("cid")) is None:
            return False, None, "Invalid access token"
        if int(claims.get("exp", 0)) <= self.clock.now().timestamp():
            return False, None, "The access token expired"
        user_id = claims.get("sub")
        if user_id is not None:
            # Revoking access kills the user's live access tokens too, so a
            # client notices at its next call rather than up to an hour later.
            if user_id not in self._listeners or int(claims.get("gen", -1)) < self.generation(user_id):
                return False, None, "Invalid access token"
        return True, user_id, ""

    def spend_code(self, code: str) -> bool:
        """True the first time a code is redeemed in this instance, False after."""
        with self._lock:
            if code in self._spent_codes:
                return False
            self._spent_codes.add(code)
            return True

    # -- faults -----------------------------------------------------------

    def set_faults(self, **changes: Any) -> FaultConfig:
        with self._lock:
            self.faults.update(**changes)
        return self.faults

    def draw_fault(self, accounts: bool = False) -> tuple[float, int | None]:
        """(seconds to stall, error status or None) for one incoming request; consumes counters."""
        f = self.faults
        if accounts and not f.faults_apply_to_accounts:
            return 0.0, None
        with self._lock:
            delay = 0.0
            if f.slow_seconds > 0 and f.slow_next != 0:
                delay = f.slow_seconds
                if f.slow_next > 0:
                    f.slow_next -= 1
            if f.rate_limit_next > 0:
                f.rate_limit_next -= 1
                return delay, 429
            failing = False
            if f.server_error_next > 0:
                f.server_error_next -= 1
                failing = True
            elif f.server_error_rate > 0 and self._fault_rng.random() < f.server_error_rate:
                failing = True
            if failing:
                status = _SERVER_ERROR_CYCLE[self._server_errors_fired % len(_SERVER_ERROR_CYCLE)]
                self._server_errors_fired += 1
                return delay, status
            return delay, None

    # -- plays ------------------------------------------------------------

    def _visible_plays(self, listener: Listener, lo_ms: int, hi_ms: int, at_ms: int) -> list[Play]:
        """Plays with lo < played_at <= hi that are visible at `at`, oldest first.

        A late play's lag is capped just below the played_at of the 40th play
        after it: when it surfaces, at most 39 newer plays can be visible, so
        it is inside a recently-played answer of 50 (see LATE_CAP_SUCCESSOR).
        """
        fraction, max_late = self.faults.late_fraction, self.faults.max_late_seconds
        hi_ms = min(hi_ms, at_ms)
        if fraction <= 0 or max_late <= 0:
            return listener.timeline(lo_ms, hi_ms)
        timeline = listener.timeline(lo_ms, hi_ms + max_late * 1000)
        seed, user_id = self.config.seed, listener.user.user_id
        visible = []
        for i, play in enumerate(timeline):
            if play.played_at_ms > hi_ms:
                break
            visible_at = play.played_at_ms + late_lag_ms(seed, user_id, play.played_at_ms, fraction, max_late)
            if i + LATE_CAP_SUCCESSOR < len(timeline):
                visible_at = min(visible_at, timeline[i + LATE_CAP_SUCCESSOR].played_at_ms - 1)
            if visible_at <= at_ms:
                visible.append(play)
        return visible

    def visible_at(self, user_id: str, played_at: datetime) -> datetime | None:
        """When the play that ended at `played_at` becomes visible (None if no such play)."""
        listener = self.listener(user_id)
        ms = to_ms(played_at)
        horizon = ms + max(self.faults.max_late_seconds, 0) * 1000 + 1
        timeline = listener.timeline(ms - 1, horizon + 1)
        if not timeline or timeline[0].played_at_ms != ms:
            return None
        lag = late_lag_ms(self.config.seed, user_id, ms, self.faults.late_fraction, self.faults.max_late_seconds)
        visible = ms + lag
        if lag and len(timeline) > LATE_CAP_SUCCESSOR:
            visible = min(visible, timeline[LATE_CAP_SUCCESSOR].played_at_ms - 1)
        return from_ms(visible)

    def recent_plays(
        self, user_id: str, at: datetime | None = None, limit: int = 50,
        before_ms: int | None = None, after_ms: int | None = None,
    ) -> list[Play]:
        """The `limit` newest plays visible at `at`, newest first (sorted; faults reorder later)."""
        listener = self.listener(user_id)
        at_ms = to_ms(at or self.clock.now())
        hi = at_ms if before_ms is None else min(at_ms, before_ms - 1)
        days = 2
        while True:
            lo = hi - days * 86_400_000
            if after_ms is not None:
                lo = max(lo, after_ms)
            plays = self._visible_plays(listener, lo, hi, at_ms)
            exhausted = after_ms is not None and lo <= after_ms
            if len(plays) >= limit or exhausted or days >= 1024:
                break
            days *= 4
        return plays[::-1][:limit]

    def ground_truth(self, user_id: str, start: datetime, end: datetime) -> list[tuple[datetime, str]]:
        listener = self.listener(user_id)
        end_ms = to_ms(end)
        plays = self._visible_plays(listener, to_ms(start), end_ms, end_ms)
        tracks = self.catalog.tracks
        return [(from_ms(p.played_at_ms), tracks[p.track_index].id) for p in plays]

    def recently_played(
        self, user_id: str, now: datetime | None = None, limit: int = 50, *,
        before: int | None = None, after: int | None = None, api_url: str = DEFAULT_API_URL,
    ) -> dict[str, Any]:
        """The body /v1/me/player/recently-played answers at `now` (default: the clock)."""
        at = now or self.clock.now()
        plays = self.recent_plays(user_id, at, limit, before, after)
        if self.faults.out_of_order and len(plays) > 1:
            plays = _shuffle_neighbours(plays, random.Random(f"order:{self.config.seed}:{user_id}:{to_ms(at)}"))
        query = {"limit": limit}
        if before is not None:
            query["before"] = before
        if after is not None:
            query["after"] = after
        base = f"{api_url}/me/player/recently-played"
        body: dict[str, Any] = {
            "href": f"{base}?{urlencode(query)}",
            "items": [play_history_item(self.catalog, api_url, user_id, p) for p in plays],
            "limit": limit,
            "next": None,
            "cursors": None,
        }
        if plays:
            newest = max(p.played_at_ms for p in plays)
            oldest = min(p.played_at_ms for p in plays)
            body["cursors"] = {"after": str(newest), "before": str(oldest)}
            body["next"] = f"{base}?{urlencode({'before': oldest, 'limit': limit})}"
        return body

    # -- request statistics --------------------------------------------------

    def record(self, endpoint: str, status: int, client_id: str | None = None) -> None:
        """Count one answered request; `client_id`: the app a token request named, if any."""
        with self._lock:
            self._by_endpoint[endpoint] += 1
            self._by_status[str(status)] += 1
            if client_id is not None:
                self._token_by_client.setdefault(client_id, Counter())[str(status)] += 1

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {
                "by_endpoint": dict(self._by_endpoint),
                "by_status": dict(self._by_status),
                "total": sum(self._by_endpoint.values()),
            }

    def token_requests_by_client(self) -> dict[str, dict[str, int]]:
        """Token requests by the client id they named, then by status: which app asked, and how it went.

        Kept apart from `stats()` so its shape stays what existing callers compare against.
        """
        with self._lock:
            return {client_id: dict(counts) for client_id, counts in self._token_by_client.items()}

    def reset_stats(self) -> None:
        with self._lock:
            self._by_endpoint.clear()
            self._by_status.clear()
            self._token_by_client.clear()


def _shuffle_neighbours(plays: list[Play], rng: random.Random) -> list[Play]:
    """Swap some adjacent items, at least one pair, as Spotify's answers sometimes are."""
    out = list(plays)
    swapped = False
    i = 0
    while i < len(out) - 1:
        if rng.random() < 0.2:
            out[i], out[i + 1] = out[i + 1], out[i]
            swapped = True
            i += 2
        else:
            i += 1
    if not swapped:
        out[0], out[1] = out[1], out[0]
    return out
