"""Spotify app credentials, access tokens, the token cache and the token grants.

- :class:`SpotifyApp` — client id/secret and base URLs (the secret never shows in a repr).
- :class:`AccessToken` — bearer value (hidden from repr), UTC expiry, refresh token if one
  was returned.
- :class:`TokenCache` protocol (``get``/``put``) and :class:`InMemoryTokenCache`.
- :func:`make_pkce_pair`, :func:`authorize_url` — the start of the Authorization Code
  with PKCE flow (redirect URIs must be ``http://127.0.0.1:PORT``, not ``localhost``).
- :class:`Credentials` — the three grants against ``{accounts_url}/api/token``:
  ``request_client_token()``, ``refresh_user_token(user_id, refresh_token)``,
  ``exchange_code(code, redirect_uri, code_verifier)``. It does no HTTP itself: it is
  given the client's ``send`` function so token requests get the same retry wrapper,
  rate gate and request counting as API calls. Client authentication is HTTP Basic
  when the app has a secret, else the ``client_id`` form field (public PKCE client).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol, runtime_checkable
from urllib.parse import urlencode, urlsplit

import httpx

from listory_pipeline.spotify.errors import (
    AuthError,
    AuthRevokedError,
    BadPayloadError,
    SpotifyHTTPError,
    redact,
)

if TYPE_CHECKING:
    from listory_pipeline.spotify.counters import RequestCounter

__all__ = [
    "DEFAULT_SCOPES",
    "EXPIRY_MARGIN_SECONDS",
    "AccessToken",
    "Credentials",
    "InMemoryTokenCache",
    "SpotifyApp",
    "TokenCache",
    "authorize_url",
    "make_pkce_pair",
]

EXPIRY_MARGIN_SECONDS = 60.0
DEFAULT_SCOPES = ("user-read-recently-played", "user-read-private")


@dataclass(frozen=True)
class SpotifyApp:
    """A Spotify app (developer dashboard entry). ``client_secret`` is None for a public
    PKCE client."""

    client_id: str
    client_secret: str | None = field(default=None, repr=False)
    api_url: str = "https://api.spotify.com/v1"
    accounts_url: str = "https://accounts.spotify.com"

    @property
    def token_url(self) -> str:
        return self.accounts_url.rstrip("/") + "/api/token"

    @property
    def authorize_endpoint(self) -> str:
        return self.accounts_url.rstrip("/") + "/authorize"


@dataclass(frozen=True)
class AccessToken:
    """A bearer token. ``refresh_token`` is what the token endpoint returned (None if it
    returned none: keep using the old one)."""

    value: str = field(repr=False)
    expires_at: datetime
    refresh_token: str | None = field(default=None, repr=False)
    scope: str | None = None
    token_type: str = "Bearer"

    def is_fresh(self, now: datetime, margin_seconds: float = EXPIRY_MARGIN_SECONDS) -> bool:
        """True while ``now`` is more than ``margin_seconds`` before expiry."""
        return now + timedelta(seconds=margin_seconds) < self.expires_at


@runtime_checkable
class TokenCache(Protocol):
    """Where access tokens live between sessions (keys ``user:<client_id>:<user_id>``,
    ``app:<client_id>``)."""

    def get(self, key: str) -> AccessToken | None: ...

    def put(self, key: str, token: AccessToken) -> None: ...


class InMemoryTokenCache:
    """A process-local, thread-safe :class:`TokenCache`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[str, AccessToken] = {}

    def get(self, key: str) -> AccessToken | None:
        with self._lock:
            return self._tokens.get(key)

    def put(self, key: str, token: AccessToken) -> None:
        with self._lock:
            self._tokens[key] = token

    def __repr__(self) -> str:
        with self._lock:
            return f"InMemoryTokenCache(keys={sorted(self._tokens)})"


def make_pkce_pair() -> tuple[str, str]:
    """``(code_verifier, code_challenge)`` with the S256 method (RFC 7636)."""
    verifier = secrets.token_urlsafe(64)  # 86 chars of [A-Za-z0-9_-]
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
    return verifier, challenge


def authorize_url(
    app: SpotifyApp,
    redirect_uri: str,
    state: str,
    code_challenge: str,
    scopes: Iterable[str] = DEFAULT_SCOPES,
) -> str:
    """The URL a user opens to grant access (Authorization Code with PKCE, S256)."""
    if urlsplit(redirect_uri).hostname == "localhost":
        raise ValueError(
            "Spotify no longer accepts 'localhost' redirect URIs: use http://127.0.0.1:PORT"
        )
    query = {
        "client_id": app.client_id,
        "response_type": "code",
        "redirect_uri": redirect_uri,
        "state": state,
        "code_challenge_method": "S256",
        "code_challenge": code_challenge,
        "scope": " ".join(scopes),
    }
    return app.authorize_endpoint + "?" + urlencode(query)


class Send(Protocol):
    def __call__(
        self,
        method: str,
        url: str,
        *,
        endpoint: str,
        headers: dict[str, str] | None = None,
        params: dict[str, object] | None = None,
        data: dict[str, str] | None = None,
        counter: RequestCounter | None = None,
    ) -> httpx.Response: ...


class Credentials:
    """The token grants of one app. ``send`` is the client's retrying request function."""

    def __init__(self, app: SpotifyApp, send: Send, now: Callable[[], datetime]) -> None:
        self.app = app
        self._send = send
        self._now = now

    def __repr__(self) -> str:
        return f"Credentials(client_id={self.app.client_id!r})"

    def _client_auth(self, form: dict[str, str]) -> dict[str, str]:
        if self.app.client_secret:
            raw = f"{self.app.client_id}:{self.app.client_secret}".encode()
            return {"Authorization": "Basic " + base64.b64encode(raw).decode("ascii")}
        form["client_id"] = self.app.client_id
        return {}

    def _request(
        self,
        form: dict[str, str],
        *,
        user_id: str | None,
        counter: RequestCounter | None,
        secrets_in_play: tuple[str | None, ...],
    ) -> AccessToken:
        headers = self._client_auth(form)
        resp = self._send(
            "POST", self.app.token_url, endpoint="token", headers=headers, data=form, counter=counter
        )
        hidden = (self.app.client_secret, *secrets_in_play)
        if resp.status_code == 200:
            return self._parse(resp, hidden)
        error_code, description = _oauth_error(resp, hidden)
        if resp.status_code == 400 and error_code == "invalid_grant" and form["grant_type"] == "refresh_token":
            raise AuthRevokedError(user_id=user_id)
        if resp.status_code in (400, 401, 403):
            raise AuthError(
                f"Spotify token endpoint refused the {form['grant_type']} grant "
                f"(HTTP {resp.status_code}, {error_code or 'no error code'}"
                f"{': ' + description if description else ''})",
                endpoint="token",
                status=resp.status_code,
                error_code=error_code,
            )
        raise SpotifyHTTPError(endpoint="token", status=resp.status_code)

    def _parse(self, resp: httpx.Response, hidden: tuple[str | None, ...]) -> AccessToken:
        try:
            body = resp.json()
        except ValueError:
            raise BadPayloadError(endpoint="token", problem="answer is not JSON") from None
        if not isinstance(body, dict):
            raise BadPayloadError(endpoint="token", problem="answer is not a JSON object")
        value, expires_in = body.get("access_token"), body.get("expires_in")
        if not isinstance(value, str) or not value:
            raise BadPayloadError(endpoint="token", problem="no access_token in the answer")
        if not isinstance(expires_in, (int, float)) or isinstance(expires_in, bool):
            raise BadPayloadError(endpoint="token", problem="no numeric expires_in in the answer")
        refresh = body.get("refresh_token")
        return AccessToken(
            value=value,
            expires_at=self._now() + timedelta(seconds=float(expires_in)),
            refresh_token=refresh if isinstance(refresh, str) and refresh else None,
            scope=body.get("scope") if isinstance(body.get("scope"), str) else None,
            token_type=str(body.get("token_type") or "Bearer"),
        )

    def request_client_token(self, *, counter: RequestCounter | None = None) -> AccessToken:
        """Client-credentials grant (catalog only, no user data). Needs a client secret."""
        if not self.app.client_secret:
            raise AuthError(
                "the client-credentials grant needs a client secret", endpoint="token"
            )
        return self._request(
            {"grant_type": "client_credentials"}, user_id=None, counter=counter, secrets_in_play=()
        )

    def refresh_user_token(
        self, user_id: str | None, refresh_token: str, *, counter: RequestCounter | None = None
    ) -> AccessToken:
        """Refresh-token grant. ``invalid_grant`` raises :class:`AuthRevokedError`."""
        return self._request(
            {"grant_type": "refresh_token", "refresh_token": refresh_token},
            user_id=user_id,
            counter=counter,
            secrets_in_play=(refresh_token,),
        )

    def exchange_code(
        self,
        code: str,
        redirect_uri: str,
        code_verifier: str,
        *,
        counter: RequestCounter | None = None,
    ) -> AccessToken:
        """Authorization-code grant with PKCE: the first access + refresh token of a user."""
        return self._request(
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": redirect_uri,
                "code_verifier": code_verifier,
            },
            user_id=None,
            counter=counter,
            secrets_in_play=(code, code_verifier),
        )


def _oauth_error(resp: httpx.Response, hidden: tuple[str | None, ...]) -> tuple[str | None, str | None]:
    """``(error, error_description)`` of an OAuth error answer, redacted."""
    try:
        body = resp.json()
    except ValueError:
        return None, None
    if not isinstance(body, dict):
        return None, None
    error = body.get("error")
    if isinstance(error, dict):  # Web-API style {"error": {"status":…, "message":…}}
        return None, redact(error.get("message", ""), hidden) or None
    code = redact(error, hidden) if isinstance(error, str) else None
    desc = body.get("error_description")
    return code, (redact(desc, hidden) if isinstance(desc, str) else None)
