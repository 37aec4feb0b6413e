"""The simulator over real HTTP: Spotify's routes, fault injection and `/_sim` controls.

Standard library only (ThreadingHTTPServer), so the simulator starts in any
process, including each Dagster run's, without extra dependencies.
"""

from __future__ import annotations

import json
import re
import threading
import time
import traceback
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from listory_pipeline.spotify.simulator import accounts
from listory_pipeline.spotify.simulator.catalog import is_valid_id
from listory_pipeline.spotify.simulator.config import SimulatorConfig
from listory_pipeline.spotify.simulator.payloads import (
    album_object,
    artist_object,
    error_body,
    format_played_at,
    private_user,
    track_object,
)
from listory_pipeline.spotify.simulator.simulator import Simulator

_API_ROUTES = (
    (re.compile(r"^/v1/me$"), "me"),
    (re.compile(r"^/v1/me/player/recently-played$"), "recently_played"),
    (re.compile(r"^/v1/tracks/([^/]+)$"), "track"),
    (re.compile(r"^/v1/tracks$"), "tracks_bulk"),
    (re.compile(r"^/v1/albums/([^/]+)$"), "album"),
    (re.compile(r"^/v1/albums$"), "albums_bulk"),
    (re.compile(r"^/v1/artists/([^/]+)$"), "artist"),
    (re.compile(r"^/v1/artists$"), "artists_bulk"),
)
_BULK_LIMITS = {"tracks_bulk": 50, "albums_bulk": 20, "artists_bulk": 50}
_USER_ENDPOINTS = {"me", "recently_played"}
_FAULT_MESSAGES = {
    429: "API rate limit exceeded",
    500: "Server error.",
    502: "Bad gateway.",
    503: "Service unavailable",
}


class _ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def parse_time(value: str) -> datetime:
    """ISO 8601, `Z` allowed; naive times are taken as UTC."""
    dt = datetime.fromisoformat(value)
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, so clients reuse connections
    # Headers and body go out in separate writes; without this, Nagle plus
    # delayed ACKs add ~40 ms to every keep-alive answer.
    disable_nagle_algorithm = True
    server: _SimHTTPServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass  # tests and the CLI stay quiet; request counts live in stats()

    @property
    def sim(self) -> Simulator:
        return self.server.simulator

    # -- plumbing ---------------------------------------------------------

    def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        if isinstance(body, (dict, list)) or body is None:
            payload = json.dumps(body).encode() if body is not None else b""
            content_type = "application/json; charset=utf-8"
        else:
            payload = str(body).encode()
            content_type = "text/plain; charset=utf-8"
        self.send_response(status)
        if payload:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _route(self, method: str) -> None:
        parts = urlsplit(self.path)
        path = parts.path.rstrip("/") or "/"
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        body = self._read_body()
        try:
            if path.startswith("/v1/") or path == "/v1":
                self._api(method, path, query)
            elif path == "/api/token":
                self._accounts_token(method, body)
            elif path == "/authorize":
                self._accounts_authorize(method, query)
            elif path.startswith("/_sim/"):
                self._admin(method, path, query, body)
            else:
                self._send(404, error_body(404, "Service not found"))
        except ConnectionError:
            pass  # the client gave up (e.g. its timeout fired during a slow answer)
        except Exception as exc:  # a simulator bug: answer loudly rather than drop the connection
            traceback.print_exc()
            self._send(500, error_body(500, f"simulator error: {exc!r}"))

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        self._route("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._route("POST")

    def do_PUT(self) -> None:  # noqa: N802
        self._route("PUT")

    def do_DELETE(self) -> None:  # noqa: N802
        self._route("DELETE")

    # -- faults -------------------------------------------------------------

    def _fault(self, endpoint: str, accounts_style: bool, client_id: str | None = None) -> bool:
        """Inject the configured misbehaviour; True when an error answer was sent."""
        delay, status = self.sim.draw_fault(accounts=accounts_style)
        if delay:
            time.sleep(delay)
        if status is None:
            return False
        headers: dict[str, str] = {}
        reason = None
        if status == 429:
            headers["Retry-After"] = str(self.sim.faults.retry_after_seconds)
            reason = "QUOTA_EXCEEDED" if self.sim.faults.quota_exceeded else None
        message = _FAULT_MESSAGES[status]
        if accounts_style:
            body: dict[str, Any] = {"error": "server_error" if status >= 500 else "too_many_requests",
                                    "error_description": message}
        else:
            body = error_body(status, message, reason)
        self.sim.record(endpoint, status, client_id)
        self._send(status, body, headers)
        return True

    # -- accounts ----------------------------------------------------------

    def _accounts_token(self, method: str, raw: bytes) -> None:
        form = dict(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True)) if method == "POST" else {}
        authorization = self.headers.get("Authorization")
        client_id = accounts.presented_client_id(form, authorization)  # counted per app, even when refused
        if self._fault("token", accounts_style=True, client_id=client_id):
            return
        if method != "POST":
            status, headers, body = 405, {"Allow": "POST"}, {"error": "invalid_request", "error_description": "POST only"}
        else:
            status, headers, body = accounts.token(self.sim, form, authorization)
        self.sim.record("token", status, client_id)
        self._send(status, body, headers)

    def _accounts_authorize(self, method: str, query: dict[str, str]) -> None:
        status, headers, body = accounts.authorize(self.sim, query)
        self.sim.record("authorize", status)
        self._send(status, body, headers)

    # -- Web API ------------------------------------------------------------

    def _api(self, method: str, path: str, query: dict[str, str]) -> None:
        endpoint, match = "unknown", None
        for pattern, name in _API_ROUTES:
            match = pattern.match(path)
            if match:
                endpoint = name
                break
        if self._fault(endpoint, accounts_style=False):
            return
        try:
            if match is None:
                raise _ApiError(404, "Service not found")
            if method != "GET":
                raise _ApiError(405, "Method not allowed")
            user_id = self._authenticate()
            if endpoint in _USER_ENDPOINTS and user_id is None:
                raise _ApiError(403, "This request requires user authentication.")
            body = self._api_body(endpoint, match, query, user_id)
            status = 200
        except _ApiError as exc:
            status, body = exc.status, error_body(exc.status, exc.message)
        self.sim.record(endpoint, status)
        self._send(status, body)

    def _authenticate(self) -> str | None:
        header = self.headers.get("Authorization") or ""
        scheme, _, token = header.partition(" ")
        if not header:
            raise _ApiError(401, "No token provided")
        if scheme.lower() != "bearer" or not token.strip():
            raise _ApiError(400, "Only valid bearer authentication supported")
        valid, user_id, message = self.sim.check_access_token(token.strip())
        if not valid:
            raise _ApiError(401, message)
        return user_id

    def _api_body(self, endpoint: str, match: re.Match[str], query: dict[str, str], user_id: str | None) -> Any:
        sim, api_url = self.sim, self.server.links_url
        catalog = sim.catalog
        if endpoint == "me":
            return private_user(sim.config.seed, api_url, sim.user(user_id))
        if endpoint == "recently_played":
            limit = _int_param(query, "limit", 20, 1, 50)
            before = _int_param(query, "before", None, 0, None)
            after = _int_param(query, "after", None, 0, None)
            if before is not None and after is not None:
                raise _ApiError(400, "Only one of before or after may be specified")
            return sim.recently_played(user_id, limit=limit, before=before, after=after, api_url=api_url)

        include_genres = not sim.faults.genres_missing
        render = {
            "track": (catalog.track, lambda e: track_object(catalog, api_url, e)),
            "album": (catalog.album, lambda e: album_object(catalog, api_url, e)),
            "artist": (catalog.artist, lambda e: artist_object(catalog, api_url, e, include_genres=include_genres)),
        }
        if endpoint in render:
            entity_id = match.group(1)
            if not is_valid_id(entity_id):
                raise _ApiError(400, "Invalid base62 id")
            lookup, to_json = render[endpoint]
            entity = lookup(entity_id)
            if entity is None:
                raise _ApiError(404, "Resource not found")
            return to_json(entity)

        kind = endpoint.removesuffix("s_bulk")
        if sim.faults.bulk_refused:
            raise _ApiError(403, "Forbidden: this endpoint is not available to apps in development mode")
        raw_ids = query.get("ids", "")
        ids = [i for i in raw_ids.split(",") if i] if raw_ids else []
        if not ids:
            raise _ApiError(400, "invalid request: ids parameter is required")
        if len(ids) > _BULK_LIMITS[endpoint]:
            raise _ApiError(400, "Too many ids requested")
        if not all(is_valid_id(i) for i in ids):
            raise _ApiError(400, "Invalid base62 id")
        lookup, to_json = render[kind]
        return {f"{kind}s": [to_json(e) if (e := lookup(i)) is not None else None for i in ids]}

    # -- /_sim controls -------------------------------------------------------

    def _admin(self, method: str, path: str, query: dict[str, str], raw: bytes) -> None:
        sim = self.sim
        try:
            payload = json.loads(raw) if raw else {}
            if not isinstance(payload, dict):
                raise ValueError("JSON object expected")
            key = (method, path)
            if key == ("GET", "/_sim/users"):
                # ?client_id= gives refresh tokens of another registered app (a user's own app).
                client_id = query.get("client_id") or None
                body: Any = [
                    {"user_id": u.user_id, "display_name": u.display_name, "timezone": u.timezone,
                     "country": u.country, "refresh_token": sim.refresh_token_for(u.user_id, client_id)}
                    for u in sim.users()
                ]
            elif path == "/_sim/clock" and method in ("GET", "POST"):
                if method == "POST":
                    if "now" in payload:
                        sim.clock.set(parse_time(str(payload["now"])))
                    elif "advance_seconds" in payload:
                        sim.clock.advance(float(payload["advance_seconds"]))
                    elif payload.get("wall"):
                        sim.clock.use_wall_clock()
                    else:
                        raise ValueError("give now, advance_seconds or wall")
                body = {"now": sim.clock.now().isoformat().replace("+00:00", "Z"), "fixed": sim.clock.is_fixed}
            elif path == "/_sim/faults" and method in ("GET", "POST"):
                if method == "POST":
                    sim.set_faults(**payload)
                body = sim.faults.as_dict()
            elif key == ("POST", "/_sim/revoke"):
                sim.revoke(str(payload.get("user_id")))
                body = {"revoked": payload.get("user_id")}
            elif key == ("GET", "/_sim/plays"):
                plays = sim.ground_truth(query["user_id"], parse_time(query["start"]), parse_time(query["end"]))
                body = [{"played_at": format_played_at(int(round(p.timestamp() * 1000))), "track_id": t}
                        for p, t in plays]
            elif key == ("GET", "/_sim/stats"):
                body = sim.stats()
            elif key == ("GET", "/_sim/stats/token-clients"):
                body = sim.token_requests_by_client()
            elif key == ("POST", "/_sim/stats/reset"):
                sim.reset_stats()
                body = sim.stats()
            else:
                self._send(404, {"error": f"no simulator control {method} {path}"})
                return
        except (KeyError, ValueError, TypeError) as exc:
            self._send(400, {"error": str(exc)})
            return
        self._send(200, body)


def _int_param(query: dict[str, str], name: str, default: int | None, low: int, high: int | None) -> int | None:
    if name not in query:
        return default
    try:
        value = int(query[name])
    except ValueError:
        raise _ApiError(400, f"Invalid {name}") from None
    if value < low or (high is not None and value > high):
        raise _ApiError(400, f"Invalid {name}")
    return value


class _SimHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], simulator: Simulator, links_url: str | None = None) -> None:
        super().__init__(address, _Handler)
        self.simulator = simulator
        host, port = self.server_address[:2]
        self.base_url = f"http://{address[0]}:{port}"
        self.api_url = f"{self.base_url}/v1"
        self.links_url = links_url or self.api_url


class SimulatorServer:
    """A simulator answering on a real port from a daemon thread; a context manager."""

    def __init__(
        self, simulator: Simulator | None = None, host: str = "127.0.0.1", port: int = 0, *, links_url: str | None = None
    ) -> None:
        """links_url: the API address the answers' links (`href`, `next`) name; by default where it listens.

        Spotify's links always name api.spotify.com. A simulator started on a new port for every
        run names a fixed address instead (the embedded one, runtime.py), so the same plays give
        the same answer byte for byte, as they would from Spotify.
        """
        self.simulator = simulator or Simulator()
        self._address = (host, port)
        self._links_url = links_url
        self._httpd: _SimHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def _bind(self) -> _SimHTTPServer:
        if self._httpd is None:
            self._httpd = _SimHTTPServer(self._address, self.simulator, self._links_url)
        return self._httpd

    def start(self) -> SimulatorServer:
        httpd = self._bind()
        if self._thread is None:
            self._thread = threading.Thread(
                target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                name=f"spotify-simulator-{httpd.server_address[1]}", daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is None:
            return
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
        self._httpd.server_close()
        self._httpd, self._thread = None, None

    def __enter__(self) -> SimulatorServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        return self._bind().base_url

    @property
    def api_url(self) -> str:
        return self._bind().api_url

    @property
    def accounts_url(self) -> str:
        return self.base_url

    def serve_forever(self) -> None:
        """Serve on the calling thread until interrupted (for the CLI)."""
        httpd = self._bind()
        try:
            httpd.serve_forever(poll_interval=0.2)
        finally:
            httpd.server_close()
            self._httpd = None


def run_forever(host: str = "127.0.0.1", port: int = 8765, config: SimulatorConfig | None = None) -> None:
    """Blocking entry point of `listory simulator`."""
    server = SimulatorServer(Simulator(config or SimulatorConfig()), host=host, port=port)
    print(f"Spotify simulator listening on {server.base_url}", flush=True)
    print(f"  api: {server.api_url}   token: {server.accounts_url}/api/token", flush=True)
    for user in server.simulator.users():
        print(f"  user {user.user_id} ({user.timezone})", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
