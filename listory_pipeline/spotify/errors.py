"""Errors of the Spotify client, one class per cause.

```
SpotifyError                    base: catch this to catch everything below
├── AuthRevokedError            refresh answered ``invalid_grant``: the user revoked access
├── AuthError                   any other auth failure (invalid_client, 401 after a refresh, 403 on /me)
├── RateLimitedError            429 whose wait is longer than the client may sleep inline
├── SpotifyUnavailableError     5xx / timeouts / connection errors after bounded retries
├── BadPayloadError             the answer is not JSON or not the expected shape
├── SpotifyHTTPError            any other unexpected HTTP status
└── BulkRefusedError            internal: a several-ids endpoint answered 403/404
```

Messages are built only from endpoint names, HTTP statuses, Spotify's error codes and
exception type names. They never contain access tokens, refresh tokens or the client
secret; text that comes from the network is passed through :func:`redact` first.
Every exception pickles (all attributes are keyword arguments with defaults).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime

__all__ = [
    "AuthError",
    "AuthRevokedError",
    "BadPayloadError",
    "BulkRefusedError",
    "RateLimitedError",
    "SpotifyError",
    "SpotifyHTTPError",
    "SpotifyUnavailableError",
    "redact",
]

_MAX_NETWORK_TEXT = 200
# Spotify's tokens and secrets are long runs of base64/url-safe characters; nothing a
# message needs looks like that, so such runs are masked even when not known as secrets.
_TOKEN_LIKE = re.compile(r"[A-Za-z0-9_\-.~+/=]{24,}")


def redact(text: object, secrets: Iterable[str | None] = ()) -> str:
    """``str(text)`` with every known secret and every token-like run (24+ characters of
    the base64/url-safe alphabet) replaced by ``***``, shortened to 200 characters."""
    out = str(text)
    for secret in secrets:
        if secret:
            out = out.replace(secret, "***")
    out = _TOKEN_LIKE.sub("***", out)
    if len(out) > _MAX_NETWORK_TEXT:
        out = out[:_MAX_NETWORK_TEXT] + "…"
    return out


class SpotifyError(Exception):
    """Base of every error the Spotify client raises."""

    def __init__(self, message: str = "", **attrs: object) -> None:
        super().__init__(message)
        self.message = message
        for name, value in attrs.items():
            setattr(self, name, value)

    def __reduce__(self):  # keeps attributes through pickling (multiprocessing, Dagster)
        state = {k: v for k, v in self.__dict__.items() if k != "message"}
        return (_rebuild, (type(self), self.message, state))


def _rebuild(cls: type[SpotifyError], message: str, state: dict) -> SpotifyError:
    err = cls.__new__(cls)
    SpotifyError.__init__(err, message, **state)
    return err


class AuthRevokedError(SpotifyError):
    """The refresh token was refused with ``invalid_grant``: stop crawling this user."""

    def __init__(self, message: str = "", *, user_id: str | None = None) -> None:
        if not message:
            message = (
                f"Spotify refused the refresh token of user {user_id!r} (invalid_grant): "
                "the user revoked access or the token expired; the user must log in again"
            )
        super().__init__(message, user_id=user_id)
        self.user_id = user_id


class AuthError(SpotifyError):
    """Any other authentication/authorisation failure (bad client credentials, 401 twice…)."""

    def __init__(
        self,
        message: str = "",
        *,
        endpoint: str | None = None,
        status: int | None = None,
        error_code: str | None = None,
    ) -> None:
        super().__init__(message, endpoint=endpoint, status=status, error_code=error_code)
        self.endpoint = endpoint
        self.status = status
        self.error_code = error_code


class RateLimitedError(SpotifyError):
    """Spotify asked us to wait longer than the client sleeps inline.

    ``retry_at`` is a UTC datetime; nothing should call Spotify before it (the client's
    shared rate gate refuses to, raising this error again without a request).
    """

    def __init__(
        self,
        message: str = "",
        *,
        retry_at: datetime | None = None,
        retry_after_seconds: float = 0.0,
        reason: str | None = None,
        endpoint: str | None = None,
    ) -> None:
        if not message:
            why = f" ({reason})" if reason else ""
            at = retry_at.isoformat() if retry_at else "?"
            message = (
                f"Spotify rate limit{why} on {endpoint or 'a request'}: "
                f"retry after {retry_after_seconds:.0f} s, at {at}"
            )
        super().__init__(
            message,
            retry_at=retry_at,
            retry_after_seconds=retry_after_seconds,
            reason=reason,
            endpoint=endpoint,
        )
        self.retry_at = retry_at
        self.retry_after_seconds = retry_after_seconds
        self.reason = reason
        self.endpoint = endpoint


class SpotifyUnavailableError(SpotifyError):
    """5xx answers, timeouts or connection errors on every one of ``attempts`` attempts."""

    def __init__(
        self,
        message: str = "",
        *,
        endpoint: str | None = None,
        attempts: int = 0,
        last_cause: str | None = None,
    ) -> None:
        if not message:
            message = (
                f"Spotify unavailable on {endpoint}: {attempts} attempt(s) failed, "
                f"last cause: {last_cause}"
            )
        super().__init__(message, endpoint=endpoint, attempts=attempts, last_cause=last_cause)
        self.endpoint = endpoint
        self.attempts = attempts
        self.last_cause = last_cause


class BadPayloadError(SpotifyError):
    """An answer that is not JSON, or JSON of the wrong shape."""

    def __init__(self, message: str = "", *, endpoint: str | None = None, problem: str = "") -> None:
        if not message:
            message = f"bad payload from Spotify endpoint {endpoint}: {problem}"
        super().__init__(message, endpoint=endpoint, problem=problem)
        self.endpoint = endpoint
        self.problem = problem


class SpotifyHTTPError(SpotifyError):
    """An HTTP status the client has no specific handling for (e.g. 400 on /me)."""

    def __init__(
        self, message: str = "", *, endpoint: str | None = None, status: int | None = None
    ) -> None:
        if not message:
            message = f"unexpected HTTP {status} from Spotify endpoint {endpoint}"
        super().__init__(message, endpoint=endpoint, status=status)
        self.endpoint = endpoint
        self.status = status


class BulkRefusedError(SpotifyError):
    """Internal: a several-ids endpoint answered 403/404 (development-mode apps since 2026)."""

    def __init__(self, message: str = "", *, kind: str | None = None, status: int | None = None) -> None:
        if not message:
            message = f"Spotify refused the bulk {kind} endpoint (HTTP {status})"
        super().__init__(message, kind=kind, status=status)
        self.kind = kind
        self.status = status
