"""Stateless, signed tokens.

Each Dagster run process may start its own in-process simulator; a token
cached by one must still work in the next. So tokens carry their own claims
and an HMAC-SHA256 signature under a key derived from the seed and the default
app's client secret, and any Simulator with the same config can verify them.
Claims name the app (`cid`) a token belongs to, so one key serves every app. The only
instance state is revocation (a minimum refresh-token generation per user)
and spent authorization codes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

ACCESS_PREFIX = "BQ"  # Spotify access tokens start with BQ, refresh tokens with AQ
REFRESH_PREFIX = "AQ"
CODE_PREFIX = "AC"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class TokenSigner:
    def __init__(self, seed: int, client_secret: str) -> None:
        self._key = hashlib.sha256(f"listory-simulator:{seed}:{client_secret}".encode()).digest()

    def _sign(self, prefix: str, claims: dict[str, Any]) -> str:
        body = prefix + _b64(json.dumps(claims, separators=(",", ":"), sort_keys=True).encode())
        sig = hmac.new(self._key, body.encode(), hashlib.sha256).digest()
        return f"{body}.{_b64(sig)}"

    def _open(self, prefix: str, token: str) -> dict[str, Any] | None:
        """Claims of a token this key signed with this prefix, else None (never raises)."""
        if not token or not token.startswith(prefix) or "." not in token:
            return None
        body, _, sig = token.rpartition(".")
        expected = hmac.new(self._key, body.encode(), hashlib.sha256).digest()
        try:
            if not hmac.compare_digest(expected, _unb64(sig)):
                return None
            claims = json.loads(_unb64(body[len(prefix):]))
        except (ValueError, TypeError):
            return None
        return claims if isinstance(claims, dict) else None

    def access_token(self, user_id: str | None, generation: int, expires_at: int, client_id: str) -> str:
        """`expires_at` is in epoch seconds of the simulator clock."""
        return self._sign(ACCESS_PREFIX, {"sub": user_id, "gen": generation, "exp": expires_at, "cid": client_id})

    def open_access_token(self, token: str) -> dict[str, Any] | None:
        return self._open(ACCESS_PREFIX, token)

    def refresh_token(self, user_id: str, generation: int, nonce: str = "", client_id: str | None = None) -> str:
        """Same inputs, same token: `refresh_token_for` is reproducible across processes.

        `client_id` binds the token to an app; None (the default app) adds no claim,
        so default-app tokens are the same as before apps could be registered.
        """
        claims: dict[str, Any] = {"sub": user_id, "gen": generation}
        if nonce:
            claims["n"] = nonce
        if client_id is not None:
            claims["cid"] = client_id
        return self._sign(REFRESH_PREFIX, claims)

    def open_refresh_token(self, token: str) -> dict[str, Any] | None:
        return self._open(REFRESH_PREFIX, token)

    def authorization_code(self, claims: dict[str, Any]) -> str:
        return self._sign(CODE_PREFIX, claims)

    def open_authorization_code(self, code: str) -> dict[str, Any] | None:
        return self._open(CODE_PREFIX, code)
