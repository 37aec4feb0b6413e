"""`listory login`: Authorization Code with PKCE through a one-shot loopback server.

The flow, as plain functions a test drives without a browser:

1. a PKCE verifier/challenge and a random `state`;
2. a one-shot HTTP server on `127.0.0.1:PORT` (Spotify rejects `localhost`) that
   waits for the redirect to `/callback`;
3. the authorize URL is printed and handed to `open_browser` (the CLI opens a real
   browser when there is one; tests follow the redirect with httpx);
4. the redirect must carry our `state` (else: an error page, nothing registered);
5. the code is exchanged (PKCE), `/me` names the user, and the registry gets the
   user with the refresh token (encrypted), `active` again if they were revoked.

The browser is answered only once the user is registered, so its page says what
happened. Tokens never appear in output or on the page.
"""

from __future__ import annotations

import hmac
import html
import os
import queue
import secrets
import sys
import threading
import time
import webbrowser
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from listory_pipeline.settings import Settings
from listory_pipeline.spotify.auth import DEFAULT_SCOPES, AccessToken, SpotifyApp, authorize_url, make_pkce_pair
from listory_pipeline.spotify.errors import SpotifyError
from listory_pipeline.users.registry import RegisteredUser, UserRegistry, validate_timezone

CALLBACK_PATH = "/callback"
DEFAULT_PORT = 8888
DEFAULT_TIMEOUT_SECONDS = 300.0
LOOPBACK_HOST = "127.0.0.1"
# How long the browser's request waits for the terminal side to finish (exchange, /me, registry).
_ANSWER_WAIT_SECONDS = 120.0


class LoginError(RuntimeError):
    """The login did not complete; the message says why and what to do. Nothing was registered."""


@dataclass(frozen=True)
class LoginResult:
    user: RegisteredUser
    previous_status: str | None  # None: a new user

    @property
    def is_new(self) -> bool:
        return self.previous_status is None

    def describe(self) -> str:
        user = self.user
        name = f" ({user.display_name})" if user.display_name else ""
        app = "their own Spotify app" if user.has_own_app else "this instance's Spotify app"
        if self.previous_status is None:
            what = "registered"
        elif self.previous_status == "active":
            what = "logged in again; new refresh token stored"
        else:
            what = f"re-activated (was {self.previous_status}); new refresh token stored"
        return f"{user.user_id}{name}: {what}; status {user.status}, time zone {user.timezone}, using {app}"


def redirect_uri_for(port: int) -> str:
    return f"http://{LOOPBACK_HOST}:{port}{CALLBACK_PATH}"


def with_user_app(app: SpotifyApp, client_id: str, client_secret: str | None) -> SpotifyApp:
    """The instance's Spotify endpoints with a user's own app credentials."""
    if not client_id or not client_id.strip():
        raise ValueError("the app client id must not be empty")
    return replace(app, client_id=client_id.strip(), client_secret=(client_secret or "").strip() or None)


def app_for_user(default_app: SpotifyApp, registry: UserRegistry, user_id: str) -> SpotifyApp:
    """The app a user's refresh token belongs to: their own when they brought one, else the default."""
    own = registry.user_app(user_id)
    return default_app if own is None else with_user_app(default_app, own[0], own[1])


# -- the browser side ------------------------------------------------------------------


def browser_available() -> bool:
    """A graphical browser can be opened here (not over plain SSH, not in a container)."""
    if os.environ.get("BROWSER"):
        return True
    if sys.platform not in ("darwin", "win32") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return False  # webbrowser would fall back to a console browser and take over the terminal
    try:
        webbrowser.get()
    except webbrowser.Error:
        return False
    return True


def open_system_browser(url: str) -> None:
    webbrowser.open(url, new=1)


# -- the loopback receiver -------------------------------------------------------------


@dataclass
class Callback:
    """One redirect to /callback: its query and the page the browser will get."""

    params: dict[str, str]
    _answered: threading.Event = field(default_factory=threading.Event, repr=False)
    _page: tuple[int, str] | None = field(default=None, repr=False)
    _delivered: threading.Event = field(default_factory=threading.Event, repr=False)

    def answer(self, status: int, page: str) -> None:
        if not self._answered.is_set():
            self._page = (status, page)
            self._answered.set()

    def wait_for_answer(self, timeout: float) -> tuple[int, str]:
        if self._answered.wait(timeout) and self._page is not None:
            return self._page
        return 504, _page("Login did not finish", "listory did not finish in time; see the terminal.")


def _page(title: str, message: str) -> str:
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>listory: {html.escape(title)}</title></head>"
        f"<body style='font-family: sans-serif; max-width: 40em; margin: 3em auto'>"
        f"<h1>{html.escape(title)}</h1><p>{html.escape(message)}</p></body></html>"
    )


class _Handler(BaseHTTPRequestHandler):
    server: "_ReceiverServer"

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        pass  # the query holds the authorization code: never log it

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        parts = urlsplit(self.path)
        if parts.path != CALLBACK_PATH:
            self._send(404, _page("Not found", "This server only waits for Spotify's redirect to /callback."))
            return
        params = {key: values[0] for key, values in parse_qs(parts.query, keep_blank_values=True).items()}
        callback = self.server.receiver.offer(params)
        if callback is REFUSED:
            self._send(
                400,
                _page(
                    "Not this login",
                    "This request carried a wrong or missing state, so it does not answer the pending login; "
                    "listory keeps waiting for Spotify's redirect.",
                ),
            )
            return
        if callback is None:
            self._send(409, _page("Already handled", "This login has already finished; see the terminal."))
            return
        try:
            self._send(*callback.wait_for_answer(_ANSWER_WAIT_SECONDS))
        finally:
            callback._delivered.set()

    def _send(self, status: int, page: str) -> None:
        body = page.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)


class _ReceiverServer(ThreadingHTTPServer):
    daemon_threads = True
    receiver: "LoopbackReceiver"


REFUSED = Callback({})  # what `offer` returns for a redirect that does not carry the login's state


class LoopbackReceiver:
    """A one-shot HTTP server on 127.0.0.1 that hands the first redirect to /callback to the flow.

    With `expected_state`, a request to /callback without that state is answered at once and
    does not count: any local program can reach the port, and must not abort a pending login.
    """

    def __init__(self, port: int = DEFAULT_PORT, expected_state: str | None = None) -> None:
        try:
            self._server = _ReceiverServer((LOOPBACK_HOST, port), _Handler)
        except OSError as exc:
            raise LoginError(
                f"cannot listen on {LOOPBACK_HOST}:{port} ({exc.strerror or exc}); choose another port with "
                f"--port and add {redirect_uri_for(port if port else 8889)} to the app's redirect URIs"
            ) from None
        self._server.receiver = self
        self._expected_state = expected_state
        self.refused = 0
        self._lock = threading.Lock()
        self._taken = False
        self._offered: Callback | None = None
        self._callbacks: queue.Queue[Callback] = queue.Queue()
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, name="listory-login", daemon=True
        )

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def redirect_uri(self) -> str:
        return redirect_uri_for(self.port)

    def offer(self, params: dict[str, str]) -> Callback | None:
        with self._lock:
            if self._expected_state is not None and not state_matches(params, self._expected_state):
                self.refused += 1
                return REFUSED
            if self._taken:
                return None
            self._taken = True
            callback = self._offered = Callback(params)
        self._callbacks.put(callback)
        return callback

    def wait(self, timeout: float) -> Callback:
        try:
            return self._callbacks.get(timeout=timeout)
        except queue.Empty:
            refused = (
                f" ({self.refused} request(s) with a wrong or missing `state` were refused)" if self.refused else ""
            )
            raise LoginError(
                f"no redirect reached {self.redirect_uri} within {timeout:.0f} s{refused}; nothing was registered. "
                "Run `listory login` again (and check the app's redirect URIs)."
            ) from None

    def __enter__(self) -> "LoopbackReceiver":
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        offered = self._offered
        if offered is not None and offered._answered.is_set():
            offered._delivered.wait(5.0)  # let the browser get its page before the process ends
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


# -- the flow --------------------------------------------------------------------------


def _open_in_background(open_browser: Callable[[str], None], url: str, echo: Callable[[str], None]) -> None:
    """The browser must not hold up the receiver: `webbrowser` may block, a test's fake browser does."""

    def run() -> None:
        try:
            open_browser(url)
        except Exception as exc:  # the printed URL still works
            echo(f"could not open a browser ({type(exc).__name__}); open the URL above yourself")

    threading.Thread(target=run, name="listory-login-browser", daemon=True).start()


def state_matches(params: dict[str, str], expected_state: str) -> bool:
    received = params.get("state")
    return received is not None and hmac.compare_digest(received.encode(), expected_state.encode())


def _check_callback(params: dict[str, str], expected_state: str) -> str:
    """The authorization code, once the redirect proved it answers our request."""
    if not state_matches(params, expected_state):
        raise LoginError(
            "the redirect carried a wrong or missing `state`, so it does not answer this login "
            "(a stale browser tab, or a forged request); nothing was registered. Run `listory login` again."
        )
    if params.get("error"):
        raise LoginError(f"Spotify did not grant access ({params['error']}); nothing was registered.")
    code = params.get("code")
    if not code:
        raise LoginError("the redirect carried no authorization code; nothing was registered.")
    return code


def complete_login(
    settings: Settings,
    app: SpotifyApp,
    registry: UserRegistry,
    *,
    code: str,
    redirect_uri: str,
    code_verifier: str,
    timezone_name: str | None,
    own_app: bool,
) -> LoginResult:
    """Exchange the code, learn who logged in, and register them."""
    from listory_pipeline import runtime

    with runtime.spotify_client(settings, app) as client:
        try:
            token = client.exchange_code(code, redirect_uri, code_verifier)
            if token.refresh_token is None:
                raise LoginError("Spotify returned no refresh token; nothing was registered.")
            profile = client.current_user(token)
        except SpotifyError as exc:
            raise LoginError(f"Spotify refused the login: {exc}; nothing was registered.") from None
        user_id = profile.get("id")
        if not isinstance(user_id, str) or not user_id:
            raise LoginError("Spotify's /me answer has no user id; nothing was registered.")
        display_name = profile.get("display_name") if isinstance(profile.get("display_name"), str) else None

        previous = registry.find(user_id)
        user = registry.register(
            user_id,
            token.refresh_token,
            display_name=display_name,
            timezone_name=timezone_name or settings.default_timezone,
            app_client_id=app.client_id if own_app else None,
            app_client_secret=app.client_secret if own_app else None,
        )
        if previous is not None and timezone_name and previous.timezone != timezone_name:
            user = registry.set_timezone(user_id, timezone_name)
        # The first crawl needs no refresh; this also replaces an access token cached before a revocation.
        client.token_cache.put(
            client.user_cache_key(user_id),
            AccessToken(value=token.value, expires_at=token.expires_at, scope=token.scope),
        )
    return LoginResult(user=user, previous_status=previous.status if previous else None)


def run_login(
    settings: Settings,
    app: SpotifyApp,
    port: int = DEFAULT_PORT,
    open_browser: Callable[[str], None] = open_system_browser,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
    *,
    timezone_name: str | None = None,
    own_app: bool = False,
    registry: UserRegistry | None = None,
    echo: Callable[[str], None] = print,
) -> LoginResult:
    """The whole login: returns the registered user, or raises `LoginError` with nothing registered.

    `port=0` picks a free port (tests). `own_app`: `app` carries the user's own client
    id/secret, to be stored with them.
    """
    from listory_pipeline import runtime

    if timezone_name is not None:
        validate_timezone(timezone_name)
    else:
        validate_timezone(settings.default_timezone)
    registry = registry or runtime.user_registry(settings)
    code_verifier, code_challenge = make_pkce_pair()
    state = secrets.token_urlsafe(32)
    with LoopbackReceiver(port, expected_state=state) as receiver:
        url = authorize_url(app, receiver.redirect_uri, state, code_challenge, DEFAULT_SCOPES)
        echo(f"Log in to Spotify by opening this URL:\n\n  {url}\n")
        echo(f"Waiting up to {timeout:.0f} s for the redirect to {receiver.redirect_uri} ...")
        _open_in_background(open_browser, url, echo)
        deadline = time.monotonic() + timeout
        callback = receiver.wait(max(0.0, deadline - time.monotonic()))
        try:
            code = _check_callback(callback.params, state)
            result = complete_login(
                settings,
                app,
                registry,
                code=code,
                redirect_uri=receiver.redirect_uri,
                code_verifier=code_verifier,
                timezone_name=timezone_name,
                own_app=own_app,
            )
        except LoginError as exc:
            callback.answer(400, _page("Login failed", str(exc)))
            raise
        except BaseException as exc:
            callback.answer(500, _page("Login failed", f"{type(exc).__name__}; see the terminal."))
            raise
        callback.answer(
            200, _page("Logged in", f"{result.describe()}. You can close this tab and return to the terminal.")
        )
        return result
