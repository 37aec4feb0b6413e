"""Access tokens cached across runs, encrypted at rest.

Every crawl is its own process; without a shared cache each one would ask
Spotify's accounts service for a token, doubling the requests of a crawl. Tokens
live an hour, so the cache sits beside the registry (its own SQLite file,
`token-cache.sqlite`, encrypted with the registry's key) and a crawl within the hour
makes only its API call.
"""

from __future__ import annotations

import sqlite3
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Iterator

from listory_pipeline.spotify.auth import AccessToken
from listory_pipeline.sqlfiles import sql_file
from listory_pipeline.users.crypto import SecretBox, SecretKeyError

_SQL = sql_file(__file__, "registry.sql")


class EncryptedTokenCache:
    """A `TokenCache` for the Spotify client; refresh tokens are not kept here (the registry has them)."""

    def __init__(self, path: Path, secret_box: SecretBox) -> None:
        self.path = path
        self._box = secret_box
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as conn:
            conn.execute(_SQL["create_access_tokens"])

    def __repr__(self) -> str:
        return f"EncryptedTokenCache({self.path})"

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA busy_timeout=30000")
            yield conn
        finally:
            conn.close()

    def get(self, key: str) -> AccessToken | None:
        with self._connect() as conn:
            row = conn.execute(_SQL["select_access_token"], {"cache_key": key}).fetchone()
        if row is None:
            return None
        try:
            value = self._box.decrypt(row[0])
        except SecretKeyError:
            # A token is cheap to replace; a changed key must not break crawling.
            return None
        return AccessToken(value=value, expires_at=datetime.fromisoformat(row[1]))

    def put(self, key: str, token: AccessToken) -> None:
        with self._connect() as conn:
            conn.execute(
                _SQL["upsert_access_token"],
                {
                    "cache_key": key,
                    "token_enc": self._box.encrypt(token.value),
                    "expires_at": token.expires_at.isoformat(),
                },
            )

    def delete(self, key: str) -> None:
        with self._connect() as conn:
            conn.execute(_SQL["delete_access_token"], {"cache_key": key})

    def delete_user(self, user_id: str) -> int:
        """Forget every cached access token of one user, whichever app it was for."""
        with self._connect() as conn:
            return conn.execute(_SQL["delete_user_access_tokens"], {"suffix": f":{user_id}"}).rowcount
