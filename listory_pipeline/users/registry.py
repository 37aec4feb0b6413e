"""The user registry: who is crawled, with which (encrypted) refresh token and app.

It lives in SQLite beside the warehouse, not inside it: sensors, runs and the CLI
read and write it concurrently, which SQLite's WAL mode handles, while the DuckDB
file admits one writer. Every write is one statement (or one IMMEDIATE
transaction), so concurrent writers queue on the busy timeout instead of failing
with "database is locked" or losing each other's updates.

Tokens and per-user app secrets are encrypted with the key in `users.crypto` and
never leave this module in plain text except to the Spotify client.

The schema is versioned with `PRAGMA user_version`: `migration_NNNN` statements in
`sql/registry.sql` run once each, in order, when a registry is opened.
"""

from __future__ import annotations

import re
import sqlite3
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from listory_pipeline.sqlfiles import sql_file
from listory_pipeline.users.crypto import SecretBox

USER_STATUSES = ("active", "revoked", "disabled")
_SQL = sql_file(__file__, "registry.sql")
_MIGRATION_NAME = re.compile(r"^migration_(\d{4})$")
_BUSY_TIMEOUT_SECONDS = 30.0

# Spotify's 2026 rules: a refresh token lives about six months from when it was issued.
REFRESH_TOKEN_LIFETIME_DAYS = 182
REFRESH_TOKEN_WARN_DAYS = 14


class RegistrySchemaError(RuntimeError):
    """The registry file was written by a newer listory-pipeline than this one."""


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

    @property
    def has_own_app(self) -> bool:
        """True when the user brought their own Spotify app (else the instance's app is used)."""
        return self.app_client_id is not None


TokenStatus = Literal["ok", "expiring", "expired", "unknown"]


@dataclass(frozen=True)
class TokenExpiry:
    """How long a user's refresh token has left; `days_left` is negative once expired."""

    status: TokenStatus
    days_left: int | None
    expires_at: datetime | None

    def describe(self) -> str:
        if self.status == "unknown" or self.days_left is None:
            return "unknown"
        if self.status == "expired":
            ago = -self.days_left
            return "expired today" if ago == 0 else f"expired {ago} day{'s' if ago != 1 else ''} ago"
        if self.status == "expiring":
            return f"expiring in {self.days_left} day{'s' if self.days_left != 1 else ''}"
        return "ok"


def token_expiry_status(
    user: RegisteredUser,
    now: datetime | None = None,
    lifetime_days: int = REFRESH_TOKEN_LIFETIME_DAYS,
    warn_days: int = REFRESH_TOKEN_WARN_DAYS,
) -> TokenExpiry:
    """"ok", "expiring" (within `warn_days`) or "expired", from when the refresh token was issued.

    A pure function of the registry row, so the CLI, sensors and the UI agree on who must
    `listory login` again before crawling them silently stops.
    """
    if not user.refresh_token_issued_at:
        return TokenExpiry("unknown", None, None)
    issued = datetime.fromisoformat(user.refresh_token_issued_at)
    if issued.tzinfo is None:
        issued = issued.replace(tzinfo=timezone.utc)
    now = now or datetime.now(timezone.utc)
    expires_at = issued + timedelta(days=lifetime_days)
    remaining = expires_at - now
    if remaining <= timedelta(0):
        # Whole days since it expired: "expired today" for the first 24 hours.
        return TokenExpiry("expired", -((-remaining) // timedelta(days=1)), expires_at)
    days_left = -(-remaining // timedelta(days=1))  # started days: 6.5 days left -> "in 7 days"
    if remaining <= timedelta(days=warn_days):
        return TokenExpiry("expiring", days_left, expires_at)
    return TokenExpiry("ok", days_left, expires_at)


def validate_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r}; use an IANA name such as Europe/Berlin") from exc
    return name


def _utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def registry_migrations() -> list[tuple[int, str]]:
    """`(version, statement)` of every `migration_NNNN` in registry.sql, numbered 1, 2, 3, ..."""
    found = sorted(
        (int(match.group(1)), statement)
        for name, statement in _SQL.items()
        if (match := _MIGRATION_NAME.match(name))
    )
    numbers = [number for number, _ in found]
    if numbers != list(range(1, len(numbers) + 1)):
        raise RuntimeError(f"registry migrations must be numbered 1, 2, 3, ... without gaps; found {numbers}")
    return found


def apply_registry_migrations(conn: sqlite3.Connection, migrations: list[tuple[int, str]]) -> int:
    """Bring the file to the newest schema version; safe when several processes open it at once.

    Each step takes the write lock (BEGIN IMMEDIATE) and re-reads `user_version` under it,
    so a migration another process just applied is never applied twice.
    """
    newest = migrations[-1][0] if migrations else 0
    for number, statement in migrations:
        if conn.execute("PRAGMA user_version").fetchone()[0] >= number:
            continue
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version < number:
                conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {int(number)}")  # PRAGMA takes no parameters
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > newest:
        raise RegistrySchemaError(
            f"the user registry is at schema version {version}, newer than this listory-pipeline "
            f"knows ({newest}); upgrade listory-pipeline"
        )
    return version


def _enable_wal(conn: sqlite3.Connection) -> None:
    """WAL is a property of the file: set once, it stays. Switching needs a moment alone with
    the file, which SQLite does not wait for, so retry within the busy timeout."""
    deadline = time.monotonic() + _BUSY_TIMEOUT_SECONDS
    while True:
        try:
            mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)
            continue
        if mode.lower() == "wal":
            return
        raise RuntimeError(f"the user registry cannot use WAL journaling (journal_mode={mode})")


class UserRegistry:
    def __init__(self, path: Path, secret_box: SecretBox) -> None:
        self.path = path
        self._box = secret_box
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            # Only the owner reads it (its WAL and shm files inherit the mode); tokens are encrypted anyway.
            path.touch(mode=0o600, exist_ok=True)
        with self._connect() as conn:
            if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                _enable_wal(conn)
            self.schema_version = apply_registry_migrations(conn, registry_migrations())

    def __repr__(self) -> str:
        return f"UserRegistry({self.path})"

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        # isolation_level=None: every statement commits on its own unless we BEGIN explicitly.
        conn = sqlite3.connect(self.path, timeout=_BUSY_TIMEOUT_SECONDS, isolation_level=None)
        try:
            conn.execute(f"PRAGMA busy_timeout={int(_BUSY_TIMEOUT_SECONDS * 1000)}")
            conn.row_factory = sqlite3.Row
            yield conn
        finally:
            conn.close()

    def _encrypt_optional(self, secret: str | None) -> bytes | None:
        return self._box.encrypt(secret.strip()) if secret and secret.strip() else None

    def register(
        self,
        user_id: str,
        refresh_token: str,
        *,
        display_name: str | None = None,
        timezone_name: str = "UTC",
        app_client_id: str | None = None,
        app_client_secret: str | None = None,
        now: datetime | None = None,
    ) -> RegisteredUser:
        """Add a user, or re-activate one who logged in again (a new token restores `active`).

        `app_client_id`/`app_client_secret`: the user's own Spotify app, which issued this
        token; None means the instance's app (and clears an own app recorded before, since
        the new token was not issued to it). The time zone applies to a new user; a known
        user keeps theirs (change it with `set_timezone`). The token's issue time is recorded
        for the six-month expiry warning.
        """
        if not user_id or not user_id.strip():
            raise ValueError("a user id must not be empty")
        if not refresh_token or not refresh_token.strip():
            raise ValueError(f"the refresh token for {user_id!r} is empty")
        if app_client_secret and not app_client_id:
            raise ValueError("an app client secret needs its client id")
        validate_timezone(timezone_name)
        with self._connect() as conn:
            conn.execute(
                _SQL["upsert_user"],
                {
                    "user_id": user_id,
                    "display_name": display_name,
                    "timezone": timezone_name,
                    "refresh_token_enc": self._box.encrypt(refresh_token.strip()),
                    "app_client_id": (app_client_id or "").strip() or None,
                    "app_client_secret_enc": self._encrypt_optional(app_client_secret),
                    "now": (now or datetime.now(timezone.utc)).isoformat(timespec="seconds"),
                },
            )
        return self.get(user_id)

    def find(self, user_id: str) -> RegisteredUser | None:
        try:
            return self.get(user_id)
        except UnknownUserError:
            return None

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

    def set_user_app(self, user_id: str, client_id: str | None, client_secret: str | None = None) -> RegisteredUser:
        """Record the user's own Spotify app (secret encrypted); `client_id=None` goes back to
        the instance's app. The refresh token must come from the same app: log in again after
        changing it."""
        if client_secret and not client_id:
            raise ValueError("an app client secret needs its client id")
        with self._connect() as conn:
            cursor = conn.execute(
                _SQL["update_user_app"],
                {
                    "user_id": user_id,
                    "app_client_id": (client_id or "").strip() or None,
                    "app_client_secret_enc": self._encrypt_optional(client_secret),
                    "now": _utc_now(),
                },
            )
        if cursor.rowcount == 0:
            raise UnknownUserError(user_id)
        return self.get(user_id)

    def user_app(self, user_id: str) -> tuple[str, str | None] | None:
        """`(client_id, client_secret)` of the user's own app (secret None: a public PKCE
        client), or None when the user is crawled with the instance's app."""
        with self._connect() as conn:
            row = conn.execute(_SQL["select_user_app"], {"user_id": user_id}).fetchone()
        if row is None:
            raise UnknownUserError(user_id)
        if row["app_client_id"] is None:
            return None
        secret = row["app_client_secret_enc"]
        return row["app_client_id"], (self._box.decrypt(secret) if secret is not None else None)

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
