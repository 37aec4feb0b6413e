"""A scripted fake of Spotify's accounts + Web API for httpx.MockTransport, and a fake clock."""

from __future__ import annotations

import json
import random
import threading
from collections import defaultdict, deque
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import httpx

from listory_pipeline.spotify.auth import SpotifyApp
from listory_pipeline.spotify.client import SpotifyClient

CLIENT_ID = "client-id-123"
CLIENT_SECRET = "sUpErSeCrEtClientSecret"
REFRESH_TOKEN = "rEfReShToKeN-original"
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)

APP = SpotifyApp(
    CLIENT_ID,
    CLIENT_SECRET,
    api_url="https://api.test/v1",
    accounts_url="https://accounts.test",
)


def fake_access_token(n: int) -> str:
    """Long like Spotify's (~200 characters); "SeCrEt" marks it for leak checks."""
    return f"access-{n}-SeCrEt" + "Qx9_" * 40


class FakeClock:
    """``now()`` starts at T0; ``sleep(s)`` records s and advances the clock by s."""

    def __init__(self, advance: bool = True) -> None:
        self.t = T0
        self.sleeps: list[float] = []
        self.advance = advance
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self.t

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            if self.advance:
                self.t += timedelta(seconds=seconds)

    def tick(self, seconds: float) -> None:
        with self._lock:
            self.t += timedelta(seconds=seconds)


class MaxRandom(random.Random):
    """Full jitter at its upper bound, to make backoff deterministic."""

    def uniform(self, a: float, b: float) -> float:
        return b


def artist(i: str, genres: list[str] | None = None, with_genres: bool = True) -> dict:
    obj = {"id": i, "name": f"Artist {i}", "type": "artist"}
    if with_genres:
        obj["genres"] = genres or []
    return obj


class FakeSpotify:
    """Routes requests by path. ``script[endpoint]`` is a queue of responses (or exceptions,
    or callables) served before the default behaviour. Records every request."""

    def __init__(self, catalog: dict[str, dict[str, dict]] | None = None) -> None:
        self.catalog = catalog or {"artists": {}, "albums": {}, "tracks": {}}
        self.bulk_status: dict[str, int] = {}  # kind -> status to answer the bulk form with
        self.script: dict[str, deque] = defaultdict(deque)
        self.requests: list[httpx.Request] = []
        self.token_counter = 0
        self.new_refresh_token: str | None = None
        self.expires_in = 3600
        self.valid_tokens: set[str] = set()
        self.reject_all_tokens = False
        self.recently_played_body: dict = {"items": [], "next": None, "cursors": None, "limit": 50}
        self.in_flight = 0
        self.max_in_flight = 0
        self.single_delay: Callable[[], None] | None = None
        self._lock = threading.Lock()

    # -- plumbing
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def client(self, clock: FakeClock | None = None, **kw) -> SpotifyClient:
        clock = clock or FakeClock()
        kw.setdefault("sleep", clock.sleep)
        kw.setdefault("now", clock.now)
        kw.setdefault("rng", MaxRandom())
        return SpotifyClient(kw.pop("app", APP), transport=self.transport(), **kw)

    def endpoint_of(self, request: httpx.Request) -> str:
        path = request.url.path
        if request.url.host == "accounts.test":
            return "token"
        path = path.removeprefix("/v1")
        if path == "/me":
            return "me"
        if path == "/me/player/recently-played":
            return "recently_played"
        parts = path.strip("/").split("/")
        if len(parts) == 1:
            return f"{parts[0]}_bulk"
        return parts[0][:-1]  # artists/x -> artist

    def of(self, endpoint: str) -> list[httpx.Request]:
        with self._lock:
            return [r for r in self.requests if self.endpoint_of(r) == endpoint]

    def handle(self, request: httpx.Request) -> httpx.Response:
        endpoint = self.endpoint_of(request)
        with self._lock:
            self.requests.append(request)
            scripted = self.script[endpoint].popleft() if self.script[endpoint] else None
        if scripted is not None:
            if isinstance(scripted, Exception):
                raise scripted
            if callable(scripted):
                return scripted(request)
            return scripted
        if endpoint == "token":
            return self.token(request)
        auth = request.headers.get("Authorization", "")
        if self.reject_all_tokens or auth.removeprefix("Bearer ") not in self.valid_tokens:
            return httpx.Response(401, json={"error": {"status": 401, "message": "The access token expired"}})
        if endpoint == "recently_played":
            return httpx.Response(200, json=self.recently_played_body)
        if endpoint == "me":
            return httpx.Response(200, json={"id": "alice", "display_name": "Alice"})
        kind = endpoint.split("_")[0] + ("" if endpoint.endswith("_bulk") else "s")
        if endpoint.endswith("_bulk"):
            status = self.bulk_status.get(kind, 200)
            if status != 200:
                return httpx.Response(status, json={"error": {"status": status, "message": "Forbidden"}})
            ids = request.url.params["ids"].split(",")
            return httpx.Response(200, json={kind: [self.catalog[kind].get(i) for i in ids]})
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.single_delay:
                self.single_delay()
            item_id = request.url.path.rsplit("/", 1)[1]
            obj = self.catalog[kind].get(item_id)
            if obj is None:
                return httpx.Response(404, json={"error": {"status": 404, "message": "Resource not found"}})
            return httpx.Response(200, json=obj)
        finally:
            with self._lock:
                self.in_flight -= 1

    def token(self, request: httpx.Request) -> httpx.Response:
        form = dict(httpx.QueryParams(request.content.decode()))
        with self._lock:
            self.token_counter += 1
            value = fake_access_token(self.token_counter)
            self.valid_tokens.add(value)
        body = {"access_token": value, "token_type": "Bearer", "expires_in": self.expires_in, "scope": ""}
        if form.get("grant_type") in ("refresh_token", "authorization_code") and (
            self.new_refresh_token or form.get("grant_type") == "authorization_code"
        ):
            body["refresh_token"] = self.new_refresh_token or "first-refresh-token"
        return httpx.Response(200, json=body)


def json_response(status: int, body: object, headers: dict | None = None) -> httpx.Response:
    return httpx.Response(status, content=json.dumps(body).encode(), headers={"content-type": "application/json", **(headers or {})})
