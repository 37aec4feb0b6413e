"""The user registry: who is crawled, with which (encrypted) refresh token.

It lives in SQLite beside the warehouse, not inside it: sensors, runs and the CLI
read and write it concurrently, which SQLite's WAL mode handles, while the DuckDB
file admits one writer. Tokens are encrypted with the key in `users.crypto` and
never leave this module in plain text except to the Spotify client.
"""

from __future__ import annotations

import sqlite3
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from listory_pipeline.sqlfiles import sql_file
from listory_pipeline.users.crypto import SecretBox

USER_STATUSES = ("active", "revoked", "disabled")
_SQL = sql_file(__file__, "registry.sql")


class UnknownUserError(KeyError):
    def __str__(self) -> str:
        return f"no registered user {self.args[0]!r} (see `listory users list`)"


@dataclass(frozen=True)
class RegisteredUser:
    """The non-secret facts about a user: safe to log, show and mirror to DuckDB."""

    user_id: str
    display_name: str | None
    timezone: str
    status: str
    status_reason: str | None
    refresh_token_issued_at: str | None
    app_client_id: str | None
    created_at: str
    updated_at: str


def validate_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r}; use an IANA name such as Europe/Berlin") from exc
    return name


def _utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class UserRegistry:
    def __init__(self, path: Path, secret_box: SecretBox) -> None:
        self.path = path
        self._box = secret_box
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as conn:
            conn.execute(_SQL["create_users"])

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA busy_timeout=30000")
            conn.row_factory = sqlite3.Row
            yield conn
        finally:
            conn.close()

    def register(
        self,
        user_id: str,
        refresh_token: str,
        *,
        display_name: str | None = None,
        timezone_name: str = "UTC",
    ) -> RegisteredUser:
        """Add a user, or re-activate one who logged in again (a new token restores `active`)."""
        if not user_id or not user_id.strip():
            raise ValueError("a user id must not be empty")
        if not refresh_token or not refresh_token.strip():
            raise ValueError(f"the refresh token for {user_id!r} is empty")
        validate_timezone(timezone_name)
        with self._connect() as conn:
            conn.execute(
                _SQL["upsert_user"],
                {
                    "user_id": user_id,
                    "display_name": display_name,
                    "timezone": timezone_name,
                    "refresh_token_enc": self._box.encrypt(refresh_token.strip()),
                    "now": _utc_now(),
                },
            )
        return self.get(user_id)

    def list(self) -> list[RegisteredUser]:
        with self._connect() as conn:
            return [RegisteredUser(**dict(row)) for row in conn.execute(_SQL["select_users"])]

    def get(self, user_id: str) -> RegisteredUser:
        with self._connect() as conn:
            row = conn.execute(_SQL["select_user"], {"user_id": user_id}).fetchone()
        if row is None:
            raise UnknownUserError(user_id)
        return RegisteredUser(**dict(row))

    def refresh_token(self, user_id: str) -> str:
        with self._connect() as conn:
            row = conn.execute(_SQL["select_refresh_token"], {"user_id": user_id}).fetchone()
        if row is None:
            raise UnknownUserError(user_id)
        if row["refresh_token_enc"] is None:
            raise ValueError(f"user {user_id!r} has no refresh token; run `listory login` again")
        return self._box.decrypt(row["refresh_token_enc"])

    def save_refresh_token(self, user_id: str, refresh_token: str) -> None:
        """Spotify sometimes rotates refresh tokens; the new one must replace the old at once."""
        with self._connect() as conn:
            cursor = conn.execute(
                _SQL["update_refresh_token"],
                {"user_id": user_id, "refresh_token_enc": self._box.encrypt(refresh_token), "now": _utc_now()},
            )
        if cursor.rowcount == 0:
            raise UnknownUserError(user_id)

    def set_status(self, user_id: str, status: str, reason: str | None = None) -> RegisteredUser:
        if status not in USER_STATUSES:
            raise ValueError(f"status must be one of {', '.join(USER_STATUSES)}, got {status!r}")
        with self._connect() as conn:
            cursor = conn.execute(
                _SQL["update_status"],
                {"user_id": user_id, "status": status, "status_reason": reason, "now": _utc_now()},
            )
        if cursor.rowcount == 0:
            raise UnknownUserError(user_id)
        return self.get(user_id)

    def set_timezone(self, user_id: str, timezone_name: str) -> RegisteredUser:
        validate_timezone(timezone_name)
        with self._connect() as conn:
            cursor = conn.execute(
                _SQL["update_timezone"], {"user_id": user_id, "timezone": timezone_name, "now": _utc_now()}
            )
        if cursor.rowcount == 0:
            raise UnknownUserError(user_id)
        return self.get(user_id)

    def remove(self, user_id: str) -> None:
        with self._connect() as conn:
            cursor = conn.execute(_SQL["delete_user"], {"user_id": user_id})
        if cursor.rowcount == 0:
            raise UnknownUserError(user_id)
