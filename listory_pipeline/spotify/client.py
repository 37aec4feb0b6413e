"""The Spotify Web API client (httpx), shaped like tekore: a swappable transport, retry as
a wrapper around every request, explicit timeouts and errors by cause (see ``errors``).

Use::

    app = SpotifyApp(client_id, client_secret)
    with SpotifyClient(app) as client:
        user = client.user_session(user_id, refresh_token, on_new_refresh_token=save)
        raw = user.recently_played()            # dict, land it verbatim
        artists = user.artists(artist_ids)      # CatalogResult
        print(user.counter.snapshot())          # requests this session spent

Retry wrapper (``SpotifyClient._send``, used by API *and* token requests; every HTTP
attempt is counted in ``client.counter`` and in the session's own counter):

- Before each attempt the shared :class:`RateGate` is waited on; if it stays closed longer
  than ``max_inline_wait_seconds`` a :class:`RateLimitedError` is raised with no request.
- 429: ``Retry-After`` (seconds, default 1) closes the gate for the whole client (every
  session, every thread); if it is longer than ``max_inline_wait_seconds`` (e.g.
  ``QUOTA_EXCEEDED`` for hours) :class:`RateLimitedError` is raised at once, without
  sleeping; else the request waits and retries. At most ``max_attempts`` 429s per request.
- 5xx, timeouts, connection errors: exponential backoff with full jitter
  (``uniform(0, min(backoff_max, backoff_base * 2**(n-1)))``), at most ``max_attempts``
  attempts, then :class:`SpotifyUnavailableError`.
- 401 on an API call: the access token is dropped, refreshed once and the call retried
  once; a second 401 raises :class:`AuthError`.

Sessions: ``client.user_session(user_id, refresh_token, on_new_refresh_token=None)`` and
``client.app_session()`` (client credentials). Access tokens are kept in the token cache
under ``user:<client_id>:<user_id>`` / ``app:<client_id>`` and reused until 60 s before
they expire, so a second crawl within the hour asks for no new token.

Catalog (``tracks`` / ``albums`` / ``artists`` on both sessions) returns a
:class:`CatalogResult`:

- ``items``: the objects found (list of dicts; the result also iterates / ``len()``s like
  that list), ``missing_ids``: ids Spotify does not know (``null`` in a bulk answer, 404 or
  400 on a single item), ``deferred_ids``: ids not attempted because ``max_requests`` ran
  out (retry them later), ``requests``: logical requests spent (one per bulk chunk or per
  single item; retries of one request and token requests are not counted against
  ``max_requests``, they are in the counters).
- Ids are deduplicated (order kept) and fetched in bulk chunks (tracks 50, albums 20,
  artists 50: ``GET /artists?ids=a,b,c``). A bulk answer of 403 or 404 (development-mode
  apps since 2026) makes the client fall back to ``/artists/{id}``… with at most
  ``single_item_concurrency`` requests in flight, and remember the refusal for the rest of
  the process (``client.bulk_allowed(kind)``, ``client.bulk_refused_kinds``;
  ``client.remember_bulk_refused(kind)`` seeds it from persisted state). A 400 on a bulk
  chunk (a malformed id) falls back to single items for that chunk only.
- An artist without ``genres`` is returned as is (no genre, not an error).
- :class:`RateLimitedError` propagates out of catalog work: the caller defers enrichment.
"""

from __future__ import annotations

import logging
import random
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote

import httpx

from listory_pipeline.spotify.auth import AccessToken, Credentials, InMemoryTokenCache, SpotifyApp, TokenCache
from listory_pipeline.spotify.counters import RequestCounter
from listory_pipeline.spotify.errors import (
    AuthError,
    BadPayloadError,
    BulkRefusedError,
    RateLimitedError,
    SpotifyHTTPError,
    SpotifyUnavailableError,
    redact,
)
from listory_pipeline.spotify.rate_gate import RateGate, utc_now
from listory_pipeline.spotify.tls import shared_tls_context

__all__ = [
    "BULK_CHUNK_SIZES",
    "CatalogResult",
    "AppSession",
    "SpotifyClient",
    "UserSession",
]

log = logging.getLogger(__name__)

RECENTLY_PLAYED_LIMIT = 50
DEFAULT_RETRY_AFTER_SECONDS = 1.0


@dataclass(frozen=True)
class _Kind:
    name: str  # "artists": URL path and key of the bulk answer
    chunk_size: int
    single_endpoint: str  # counter names
    bulk_endpoint: str


_KINDS: dict[str, _Kind] = {
    "tracks": _Kind("tracks", 50, "track", "tracks_bulk"),
    "albums": _Kind("albums", 20, "album", "albums_bulk"),
    "artists": _Kind("artists", 50, "artist", "artists_bulk"),
}
BULK_CHUNK_SIZES = {k: v.chunk_size for k, v in _KINDS.items()}


@dataclass
class CatalogResult:
    """What a catalog call fetched. Iterates and ``len()``s like ``items``."""

    items: list[dict[str, Any]] = field(default_factory=list)
    missing_ids: list[str] = field(default_factory=list)
    deferred_ids: list[str] = field(default_factory=list)
    requests: int = 0

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self.items[index]


class _BulkBadRequest(Exception):
    """A bulk chunk answered 400 (e.g. one malformed id): fetch that chunk item by item."""


class SpotifyClient:
    """One app's connection to Spotify: an ``httpx.Client``, the retry wrapper, the shared
    rate gate, the token cache, request counters and the bulk-refusal memory."""

    def __init__(
        self,
        app: SpotifyApp,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 10.0,
        max_attempts: int = 4,
        backoff_base_seconds: float = 0.5,
        backoff_max_seconds: float = 8.0,
        max_inline_wait_seconds: float = 60.0,
        single_item_concurrency: int = 4,
        token_cache: TokenCache | None = None,
        counter: RequestCounter | None = None,
        rate_gate: RateGate | None = None,
        sleep: Callable[[float], None] = time.sleep,
        now: Callable[[], datetime] = utc_now,
        rng: random.Random | None = None,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if single_item_concurrency < 1:
            raise ValueError("single_item_concurrency must be at least 1")
        self.app = app
        self.max_attempts = max_attempts
        self.backoff_base_seconds = backoff_base_seconds
        self.backoff_max_seconds = backoff_max_seconds
        self.max_inline_wait_seconds = max_inline_wait_seconds
        self.single_item_concurrency = single_item_concurrency
        self.token_cache: TokenCache = token_cache if token_cache is not None else InMemoryTokenCache()
        self.counter = counter if counter is not None else RequestCounter()
        self.rate_gate = rate_gate if rate_gate is not None else RateGate(sleep=sleep, now=now)
        self._sleep = sleep
        self._now = now
        self._rng = rng if rng is not None else random.Random()
        self._rng_lock = threading.Lock()
        self._http = httpx.Client(
            transport=transport,
            verify=shared_tls_context(),
            timeout=httpx.Timeout(timeout),
            headers={"User-Agent": "listory-pipeline"},
        )
        self.credentials = Credentials(app, self._send, now)
        self._state_lock = threading.Lock()
        self._bulk_allowed: dict[str, bool] = {}
        self._token_locks: dict[str, threading.Lock] = {}

    # -- lifecycle ---------------------------------------------------------------------

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> SpotifyClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SpotifyClient(client_id={self.app.client_id!r}, api_url={self.app.api_url!r})"

    # -- sessions and tokens -----------------------------------------------------------

    def user_cache_key(self, user_id: str) -> str:
        return f"user:{self.app.client_id}:{user_id}"

    def app_cache_key(self) -> str:
        return f"app:{self.app.client_id}"

    def user_session(
        self,
        user_id: str,
        refresh_token: str,
        on_new_refresh_token: Callable[[str, str], None] | None = None,
    ) -> UserSession:
        return UserSession(self, user_id, refresh_token, on_new_refresh_token)

    def app_session(self) -> AppSession:
        return AppSession(self)

    def exchange_code(self, code: str, redirect_uri: str, code_verifier: str) -> AccessToken:
        """Authorization-code grant with PKCE (registration). Returns access + refresh token."""
        return self.credentials.exchange_code(code, redirect_uri, code_verifier)

    def current_user(self, token: AccessToken) -> dict[str, Any]:
        """``GET /me`` with a token in hand (e.g. right after :meth:`exchange_code`, before
        the user id is known). No cache, no refresh."""
        resp = self._send(
            "GET", self._api_url("/me"), endpoint="me", headers=_bearer(token)
        )
        if resp.status_code == 401:
            raise AuthError("Spotify answered 401 on me: the access token is not valid", endpoint="me", status=401)
        return self._json_object(resp, "me")

    def _token_lock(self, key: str) -> threading.Lock:
        with self._state_lock:
            return self._token_locks.setdefault(key, threading.Lock())

    # -- bulk refusal memory -----------------------------------------------------------

    def bulk_allowed(self, kind: str) -> bool | None:
        """True once a bulk call of ``kind`` worked, False once refused, None if untried."""
        _kind(kind)
        with self._state_lock:
            return self._bulk_allowed.get(kind)

    @property
    def bulk_refused_kinds(self) -> frozenset[str]:
        with self._state_lock:
            return frozenset(k for k, ok in self._bulk_allowed.items() if not ok)

    def remember_bulk_refused(self, kind: str) -> None:
        _kind(kind)
        with self._state_lock:
            if self._bulk_allowed.get(kind) is not False:
                log.warning("Spotify refuses the bulk %s endpoint for this app: using single items", kind)
            self._bulk_allowed[kind] = False

    def _remember_bulk_allowed(self, kind: str) -> None:
        with self._state_lock:
            self._bulk_allowed.setdefault(kind, True)

    # -- the retry wrapper -------------------------------------------------------------

    def _record(self, endpoint: str, outcome: str, counter: RequestCounter | None) -> None:
        self.counter.record(endpoint, outcome)
        if counter is not None and counter is not self.counter:
            counter.record(endpoint, outcome)

    def _backoff(self, failure_number: int) -> float:
        cap = min(self.backoff_max_seconds, self.backoff_base_seconds * 2 ** (failure_number - 1))
        with self._rng_lock:
            return self._rng.uniform(0.0, cap)

    def _send(
        self,
        method: str,
        url: str,
        *,
        endpoint: str,
        headers: dict[str, str] | None = None,
        params: dict[str, object] | None = None,
        data: dict[str, str] | None = None,
        counter: RequestCounter | None = None,
    ) -> httpx.Response:
        """One logical request with bounded retries. Returns any non-429, non-5xx answer."""
        failures = 0
        rate_limited = 0
        while True:
            self.rate_gate.wait(self.max_inline_wait_seconds, endpoint=endpoint)
            cause: str | None = None
            try:
                resp = self._http.request(method, url, headers=headers, params=params, data=data)
            except httpx.TimeoutException as exc:
                outcome, cause = "timeout", f"timeout ({type(exc).__name__})"
            except httpx.TransportError as exc:
                outcome, cause = "connection_error", f"connection error ({_describe(exc)})"
            else:
                outcome = "ok" if resp.is_success else str(resp.status_code)
            self._record(endpoint, outcome, counter)

            if cause is None:
                if resp.status_code == 429:
                    rate_limited += 1
                    delay = _retry_after_seconds(resp, self._now())
                    reason = _rate_limit_reason(resp)
                    self.rate_gate.block_for(delay, reason)
                    log.warning(
                        "Spotify 429 on %s (reason %s): retry after %.1f s", endpoint, reason, delay
                    )
                    if delay > self.max_inline_wait_seconds or rate_limited >= self.max_attempts:
                        raise RateLimitedError(
                            retry_at=self._now() + timedelta(seconds=delay),
                            retry_after_seconds=delay,
                            reason=reason,
                            endpoint=endpoint,
                        )
                    continue  # the gate makes this (and every other) request wait
                if resp.status_code < 500:
                    return resp
                cause = f"HTTP {resp.status_code}"

            failures += 1
            if failures >= self.max_attempts:
                raise SpotifyUnavailableError(endpoint=endpoint, attempts=failures, last_cause=cause)
            delay = self._backoff(failures)
            log.info("Spotify %s failed (%s), attempt %d: retrying in %.2f s", endpoint, cause, failures, delay)
            self._sleep(delay)

    # -- API calls ---------------------------------------------------------------------

    def _api_url(self, path: str) -> str:
        return self.app.api_url.rstrip("/") + path

    def _api_get(
        self, session: _Session, endpoint: str, path: str, params: dict[str, object] | None = None
    ) -> httpx.Response:
        """GET with the session's token; on 401 refresh once and retry once."""
        url = self._api_url(path)
        token = session._token()
        resp = self._send("GET", url, endpoint=endpoint, headers=_bearer(token), params=params, counter=session.counter)
        if resp.status_code == 401:
            log.info("Spotify 401 on %s: refreshing the access token once", endpoint)
            token = session._token(reject=token)
            resp = self._send(
                "GET", url, endpoint=endpoint, headers=_bearer(token), params=params, counter=session.counter
            )
            if resp.status_code == 401:
                raise AuthError(
                    f"Spotify answered 401 on {endpoint} even with a freshly refreshed access token",
                    endpoint=endpoint,
                    status=401,
                )
        return resp

    @staticmethod
    def _json(resp: httpx.Response, endpoint: str) -> Any:
        try:
            return resp.json()
        except ValueError:
            ctype = resp.headers.get("content-type", "?")
            raise BadPayloadError(
                endpoint=endpoint, problem=f"answer is not JSON (HTTP {resp.status_code}, content-type {ctype})"
            ) from None

    def _json_object(self, resp: httpx.Response, endpoint: str) -> dict[str, Any]:
        if resp.status_code != 200:
            _raise_for_status(resp, endpoint)
        body = self._json(resp, endpoint)
        if not isinstance(body, dict):
            raise BadPayloadError(endpoint=endpoint, problem=f"expected a JSON object, got {type(body).__name__}")
        return body

    # -- catalog -----------------------------------------------------------------------

    def _catalog(
        self, session: _Session, kind: str, ids: Iterable[str], max_requests: int | None
    ) -> CatalogResult:
        spec = _kind(kind)
        if isinstance(ids, str):
            raise TypeError(f"{kind}() takes an iterable of ids, not a single string")
        unique = list(dict.fromkeys(i for i in ids if i))
        position = {i: n for n, i in enumerate(unique)}
        result = CatalogResult()
        budget = [max_requests]  # None: unlimited

        def spend() -> bool:
            if budget[0] is None:
                return True
            if budget[0] <= 0:
                return False
            budget[0] -= 1
            return True

        singles: list[str] = []
        if self.bulk_allowed(kind) is not False:
            for start in range(0, len(unique), spec.chunk_size):
                chunk = unique[start : start + spec.chunk_size]
                if self.bulk_allowed(kind) is False:
                    singles.extend(chunk)
                    continue
                if not spend():
                    result.deferred_ids.extend(chunk)
                    continue
                result.requests += 1
                try:
                    objects = self._bulk(session, spec, chunk)
                except BulkRefusedError:
                    self.remember_bulk_refused(kind)
                    singles.extend(chunk)
                    continue
                except _BulkBadRequest:
                    singles.extend(chunk)
                    continue
                self._remember_bulk_allowed(kind)
                found: set[str] = set()
                for obj in objects:
                    if obj is None:
                        continue
                    result.items.append(obj)
                    found.add(obj.get("id"))
                    linked = obj.get("linked_from")
                    if isinstance(linked, dict):
                        found.add(linked.get("id"))
                result.missing_ids.extend(i for i in chunk if i not in found)
        else:
            singles = unique

        if singles:
            self._singles(session, spec, singles, result, spend)
        result.missing_ids.sort(key=position.__getitem__)
        result.deferred_ids.sort(key=position.__getitem__)
        return result

    def _bulk(self, session: _Session, spec: _Kind, chunk: list[str]) -> list[dict[str, Any] | None]:
        endpoint = spec.bulk_endpoint
        resp = self._api_get(session, endpoint, f"/{spec.name}", params={"ids": ",".join(chunk)})
        if resp.status_code in (403, 404):
            raise BulkRefusedError(kind=spec.name, status=resp.status_code)
        if resp.status_code == 400:
            raise _BulkBadRequest()
        body = self._json_object(resp, endpoint)
        objects = body.get(spec.name)
        if not isinstance(objects, list):
            raise BadPayloadError(endpoint=endpoint, problem=f"no {spec.name!r} list in the answer")
        for obj in objects:
            if obj is not None and not (isinstance(obj, dict) and isinstance(obj.get("id"), str)):
                raise BadPayloadError(endpoint=endpoint, problem=f"an entry of {spec.name!r} is not an object with an id")
        return objects

    def _single(self, session: _Session, spec: _Kind, item_id: str) -> dict[str, Any] | None:
        endpoint = spec.single_endpoint
        resp = self._api_get(session, endpoint, f"/{spec.name}/{quote(item_id, safe='')}")
        if resp.status_code in (400, 404):  # unknown or malformed id
            return None
        body = self._json_object(resp, endpoint)
        if not isinstance(body.get("id"), str):
            raise BadPayloadError(endpoint=endpoint, problem="the object has no id")
        return body

    def _singles(
        self,
        session: _Session,
        spec: _Kind,
        ids: list[str],
        result: CatalogResult,
        spend: Callable[[], bool],
    ) -> None:
        attempt: list[str] = []
        for item_id in ids:
            if spend():
                attempt.append(item_id)
            else:
                result.deferred_ids.append(item_id)
        if not attempt:
            return
        result.requests += len(attempt)
        workers = min(self.single_item_concurrency, len(attempt))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="spotify-catalog") as pool:
            futures = [pool.submit(self._single, session, spec, i) for i in attempt]
            try:
                for item_id, future in zip(attempt, futures):
                    obj = future.result()
                    if obj is None:
                        result.missing_ids.append(item_id)
                    else:
                        result.items.append(obj)
            except BaseException:
                for future in futures:
                    future.cancel()
                raise


class _Session:
    """What user and app sessions share: a token, a counter, the catalog methods."""

    def __init__(self, client: SpotifyClient, cache_key: str) -> None:
        self.client = client
        self.cache_key = cache_key
        self.counter = RequestCounter()  # this session's requests only (also in client.counter)

    def _fetch_token(self) -> AccessToken:
        raise NotImplementedError

    def _token(self, reject: AccessToken | None = None) -> AccessToken:
        """The cached token while fresh (and not ``reject``ed), else a new one."""
        client = self.client
        with client._token_lock(self.cache_key):
            cached = client.token_cache.get(self.cache_key)
            if (
                cached is not None
                and cached.is_fresh(client._now())
                and (reject is None or cached.value != reject.value)
            ):
                return cached
            token = self._fetch_token()
            client.token_cache.put(self.cache_key, token)
            return token

    def tracks(self, ids: Iterable[str], *, max_requests: int | None = None) -> CatalogResult:
        """Full track objects (bulk of 50, else one by one)."""
        return self.client._catalog(self, "tracks", ids, max_requests)

    def albums(self, ids: Iterable[str], *, max_requests: int | None = None) -> CatalogResult:
        """Full album objects (bulk of 20, else one by one)."""
        return self.client._catalog(self, "albums", ids, max_requests)

    def artists(self, ids: Iterable[str], *, max_requests: int | None = None) -> CatalogResult:
        """Full artist objects (bulk of 50, else one by one); ``genres`` may be absent."""
        return self.client._catalog(self, "artists", ids, max_requests)


class UserSession(_Session):
    """Calls on behalf of one user (refresh-token grant)."""

    def __init__(
        self,
        client: SpotifyClient,
        user_id: str,
        refresh_token: str,
        on_new_refresh_token: Callable[[str, str], None] | None = None,
    ) -> None:
        super().__init__(client, client.user_cache_key(user_id))
        self.user_id = user_id
        self._refresh_token = refresh_token
        self._on_new_refresh_token = on_new_refresh_token

    def __repr__(self) -> str:
        return f"UserSession(user_id={self.user_id!r}, client_id={self.client.app.client_id!r})"

    def _fetch_token(self) -> AccessToken:
        token = self.client.credentials.refresh_user_token(
            self.user_id, self._refresh_token, counter=self.counter
        )
        if token.refresh_token and token.refresh_token != self._refresh_token:
            if self._on_new_refresh_token is not None:
                self._on_new_refresh_token(self.user_id, token.refresh_token)
            self._refresh_token = token.refresh_token
        return token

    def recently_played(self) -> dict[str, Any]:
        """``GET /me/player/recently-played?limit=50``, always the newest 50, never a cursor
        (late and out-of-order plays exist). The raw JSON object, to be landed verbatim."""
        endpoint = "recently_played"
        resp = self.client._api_get(
            self, endpoint, "/me/player/recently-played", params={"limit": RECENTLY_PLAYED_LIMIT}
        )
        body = self.client._json_object(resp, endpoint)
        if not isinstance(body.get("items"), list):
            raise BadPayloadError(endpoint=endpoint, problem="no 'items' list in the answer")
        return body

    def me(self) -> dict[str, Any]:
        """``GET /me``: the user's profile (id, display_name, country…)."""
        resp = self.client._api_get(self, "me", "/me")
        return self.client._json_object(resp, "me")


class AppSession(_Session):
    """Catalog calls with the app's own token (client-credentials grant)."""

    def __init__(self, client: SpotifyClient) -> None:
        super().__init__(client, client.app_cache_key())

    def __repr__(self) -> str:
        return f"AppSession(client_id={self.client.app.client_id!r})"

    def _fetch_token(self) -> AccessToken:
        return self.client.credentials.request_client_token(counter=self.counter)


# -- helpers -------------------------------------------------------------------------------


def _kind(kind: str) -> _Kind:
    try:
        return _KINDS[kind]
    except KeyError:
        raise ValueError(f"unknown catalog kind {kind!r}; expected one of {sorted(_KINDS)}") from None


def _describe(exc: BaseException) -> str:
    """Type name and, for OS-level causes, the OS error text: never the exception message
    (it is free text that could carry anything)."""
    parts = [type(exc).__name__]
    cause = exc.__cause__ or exc.__context__
    while cause is not None and len(parts) < 4:
        if isinstance(cause, OSError) and cause.strerror:
            parts.append(redact(cause.strerror))
            break
        parts.append(type(cause).__name__)
        cause = cause.__cause__ or cause.__context__
    return ": ".join(parts)


def _bearer(token: AccessToken) -> dict[str, str]:
    return {"Authorization": f"Bearer {token.value}"}


def _retry_after_seconds(resp: httpx.Response, now: datetime) -> float:
    """``Retry-After`` as seconds (delta-seconds or an HTTP date); 1 s when absent/garbled."""
    raw = resp.headers.get("Retry-After")
    if raw is None:
        return DEFAULT_RETRY_AFTER_SECONDS
    try:
        return max(0.0, float(raw.strip()))
    except ValueError:
        pass
    try:
        return max(0.0, (parsedate_to_datetime(raw) - now).total_seconds())
    except (TypeError, ValueError):
        return DEFAULT_RETRY_AFTER_SECONDS


_REASON_RE = re.compile(r"\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b")


def _rate_limit_reason(resp: httpx.Response) -> str | None:
    """``QUOTA_EXCEEDED``-like reason of a 429: ``error.reason``, ``reason`` or a
    SHOUTING_CASE word in ``error.message``."""
    try:
        body = resp.json()
    except ValueError:
        return None
    if not isinstance(body, dict):
        return None
    err = body.get("error")
    if isinstance(err, dict):
        if isinstance(err.get("reason"), str) and err["reason"]:
            return redact(err["reason"])
        message = err.get("message")
        if isinstance(message, str):
            match = _REASON_RE.search(message)
            if match:
                return match.group(0)
    if isinstance(body.get("reason"), str) and body["reason"]:
        return redact(body["reason"])
    return None


def _raise_for_status(resp: httpx.Response, endpoint: str) -> None:
    if resp.status_code == 403 and endpoint in ("me", "recently_played"):
        raise AuthError(
            f"Spotify answered 403 on {endpoint}: the user is not on the app's user list "
            "(development mode) or did not grant the needed scope",
            endpoint=endpoint,
            status=403,
        )
    raise SpotifyHTTPError(endpoint=endpoint, status=resp.status_code)
