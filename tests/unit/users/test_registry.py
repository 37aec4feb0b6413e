"""The user registry: encryption at rest, the key file, schema versions, per-user apps, token expiry."""

from __future__ import annotations

import sqlite3
import stat
from datetime import datetime, timedelta, timezone

import pytest
from cryptography.fernet import Fernet

from listory_pipeline.users.crypto import SecretBox, SecretKeyError, load_or_create_key
from listory_pipeline.users.registry import (
    RegisteredUser,
    RegistrySchemaError,
    UnknownUserError,
    UserRegistry,
    apply_registry_migrations,
    registry_migrations,
    token_expiry_status,
)

TOKEN = "AQD-refresh-token-that-must-never-be-stored-in-clear-1234567890"
APP_SECRET = "app-client-secret-never-in-clear-0987654321"
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def box() -> SecretBox:
    return SecretBox(Fernet.generate_key())


@pytest.fixture
def registry(tmp_path, box) -> UserRegistry:
    return UserRegistry(tmp_path / "registry.sqlite", box)


def _all_registry_bytes(registry: UserRegistry) -> bytes:
    """The database file plus its WAL, where fresh writes sit before a checkpoint."""
    return b"".join(p.read_bytes() for p in registry.path.parent.glob(registry.path.name + "*"))


def test_refresh_token_and_app_secret_are_encrypted_at_rest(registry):
    registry.register("alice", TOKEN, display_name="Alice", app_client_id="alice-app", app_client_secret=APP_SECRET)
    registry.save_refresh_token("alice", TOKEN + "-rotated")
    stored = _all_registry_bytes(registry)
    assert stored  # the file exists and has content
    assert TOKEN.encode() not in stored
    assert APP_SECRET.encode() not in stored
    assert b"alice-app" in stored  # the client id is not a secret
    assert registry.refresh_token("alice") == TOKEN + "-rotated"
    assert registry.user_app("alice") == ("alice-app", APP_SECRET)


def test_registered_user_never_carries_secrets(registry):
    user = registry.register("alice", TOKEN, app_client_id="alice-app", app_client_secret=APP_SECRET)
    text = repr(user) + str(user.__dict__)
    assert TOKEN not in text and APP_SECRET not in text
    assert "refresh_token_enc" not in RegisteredUser.__dataclass_fields__


def test_key_file_is_created_with_mode_0600_and_reused(tmp_path):
    key_file = tmp_path / "home" / "secret.key"
    key = load_or_create_key(key_file)
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert load_or_create_key(key_file) == key
    SecretBox(key)  # a valid Fernet key


def test_key_from_environment_wins_and_no_file_is_written(tmp_path):
    env_key = Fernet.generate_key().decode()
    assert load_or_create_key(tmp_path / "secret.key", env_key) == env_key.encode()
    assert not (tmp_path / "secret.key").exists()


def test_key_file_readable_by_others_is_refused(tmp_path):
    key_file = tmp_path / "secret.key"
    load_or_create_key(key_file)
    key_file.chmod(0o644)
    with pytest.raises(SecretKeyError, match="chmod 600"):
        load_or_create_key(key_file)


def test_wrong_key_gives_a_clear_error(tmp_path, box):
    path = tmp_path / "registry.sqlite"
    UserRegistry(path, box).register("alice", TOKEN, app_client_id="app", app_client_secret=APP_SECRET)
    other = UserRegistry(path, SecretBox(Fernet.generate_key()))
    assert other.get("alice").status == "active"  # non-secret columns stay readable
    with pytest.raises(SecretKeyError, match="cannot be decrypted with the current key") as excinfo:
        other.refresh_token("alice")
    assert TOKEN not in str(excinfo.value)
    with pytest.raises(SecretKeyError):
        other.user_app("alice")


def test_malformed_key_is_a_clear_error():
    with pytest.raises(SecretKeyError, match="not a valid Fernet key"):
        SecretBox(b"not-a-key")


def test_registry_uses_wal_and_records_its_schema_version(registry):
    conn = sqlite3.connect(registry.path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA user_version").fetchone()[0] == registry_migrations()[-1][0]
    finally:
        conn.close()
    assert registry.schema_version == registry_migrations()[-1][0]


def test_unversioned_registry_from_before_migrations_is_adopted(tmp_path, box):
    path = tmp_path / "registry.sqlite"
    conn = sqlite3.connect(path)
    conn.execute(registry_migrations()[0][1])  # the table as the first release created it
    conn.execute(
        "INSERT INTO users (user_id, timezone, status, created_at, updated_at) "
        "VALUES ('old', 'UTC', 'active', '2026-01-01T00:00:00+00:00', '2026-01-01T00:00:00+00:00')"
    )
    conn.commit()
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 0
    conn.close()
    registry = UserRegistry(path, box)
    assert [u.user_id for u in registry.list()] == ["old"]
    assert registry.schema_version == registry_migrations()[-1][0]


def test_migrations_run_once_in_order_and_a_newer_file_is_refused(tmp_path):
    conn = sqlite3.connect(tmp_path / "r.sqlite", isolation_level=None)
    migrations = [
        *registry_migrations(),
        (len(registry_migrations()) + 1, "ALTER TABLE users ADD COLUMN country TEXT"),
    ]
    assert apply_registry_migrations(conn, migrations) == len(migrations)
    # Applying again is a no-op (ADD COLUMN twice would fail).
    assert apply_registry_migrations(conn, migrations) == len(migrations)
    columns = [row[1] for row in conn.execute("PRAGMA table_info(users)")]
    assert columns[-1] == "country"
    with pytest.raises(RegistrySchemaError, match="newer than this listory-pipeline"):
        apply_registry_migrations(conn, registry_migrations())
    conn.close()


def test_a_failing_migration_leaves_the_version_unchanged(tmp_path):
    conn = sqlite3.connect(tmp_path / "r.sqlite", isolation_level=None)
    base = registry_migrations()
    apply_registry_migrations(conn, base)
    with pytest.raises(sqlite3.OperationalError):
        apply_registry_migrations(conn, [*base, (len(base) + 1, "ALTER TABLE no_such_table ADD COLUMN x TEXT")])
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(base)
    conn.close()


def test_register_records_issue_time_and_login_again_reactivates(registry):
    first = registry.register("alice", TOKEN, display_name="Alice", timezone_name="Europe/Berlin", now=NOW - timedelta(days=100))
    assert first.status == "active"
    assert first.refresh_token_issued_at == (NOW - timedelta(days=100)).isoformat()
    registry.set_status("alice", "revoked", reason="invalid_grant")
    again = registry.register("alice", TOKEN + "-new", timezone_name="UTC", now=NOW)
    assert again.status == "active" and again.status_reason is None
    assert again.refresh_token_issued_at == NOW.isoformat()
    assert again.timezone == "Europe/Berlin"  # a known user keeps their time zone
    assert again.display_name == "Alice"
    assert again.created_at == first.created_at
    assert registry.refresh_token("alice") == TOKEN + "-new"


def test_per_user_app(registry):
    user = registry.register("bob", TOKEN)
    assert not user.has_own_app and registry.user_app("bob") is None
    user = registry.set_user_app("bob", "bobs-client-id", APP_SECRET)
    assert user.has_own_app and user.app_client_id == "bobs-client-id"
    assert registry.user_app("bob") == ("bobs-client-id", APP_SECRET)
    registry.set_user_app("bob", "public-pkce-client")  # no secret: a public client
    assert registry.user_app("bob") == ("public-pkce-client", None)
    registry.set_user_app("bob", None)
    assert registry.user_app("bob") is None
    # A token follows the app that issued it: registering with one records that app ...
    registry.register("bob", TOKEN, app_client_id="bobs-client-id", app_client_secret=APP_SECRET)
    assert registry.user_app("bob") == ("bobs-client-id", APP_SECRET)
    # ... and a token from the instance's app clears it.
    registry.register("bob", TOKEN)
    assert registry.user_app("bob") is None
    with pytest.raises(ValueError, match="needs its client id"):
        registry.set_user_app("bob", None, APP_SECRET)
    with pytest.raises(UnknownUserError):
        registry.set_user_app("nobody", "x")
    with pytest.raises(UnknownUserError):
        registry.user_app("nobody")


def test_status_timezone_and_remove(registry):
    registry.register("carol", TOKEN)
    assert registry.set_status("carol", "disabled", reason="on holiday").status_reason == "on holiday"
    with pytest.raises(ValueError, match="status must be one of"):
        registry.set_status("carol", "sleeping")
    assert registry.set_timezone("carol", "America/New_York").timezone == "America/New_York"
    with pytest.raises(ValueError, match="IANA"):
        registry.set_timezone("carol", "Mars/Olympus")
    registry.remove("carol")
    assert registry.find("carol") is None
    with pytest.raises(UnknownUserError):
        registry.remove("carol")


@pytest.mark.parametrize(
    ("issued_days_ago", "status", "days_left", "text"),
    [
        (0, "ok", 182, "ok"),
        (100, "ok", 82, "ok"),
        (167, "ok", 15, "ok"),
        (168, "expiring", 14, "expiring in 14 days"),
        (181, "expiring", 1, "expiring in 1 day"),
        (182, "expired", 0, "expired today"),
        (190, "expired", -8, "expired 8 days ago"),
    ],
)
def test_token_expiry_status(issued_days_ago, status, days_left, text):
    user = _user(issued_at=(NOW - timedelta(days=issued_days_ago)).isoformat())
    expiry = token_expiry_status(user, NOW)
    assert (expiry.status, expiry.days_left, expiry.describe()) == (status, days_left, text)
    assert expiry.expires_at == NOW - timedelta(days=issued_days_ago) + timedelta(days=182)


def test_token_expiry_with_custom_lifetime_and_unknown_issue_time():
    user = _user(issued_at=(NOW - timedelta(days=20, hours=1)).isoformat())
    assert token_expiry_status(user, NOW, lifetime_days=30, warn_days=7).status == "ok"
    assert token_expiry_status(user, NOW, lifetime_days=30, warn_days=10).status == "expiring"
    assert token_expiry_status(_user(issued_at=None), NOW).status == "unknown"


def _user(issued_at: str | None) -> RegisteredUser:
    return RegisteredUser(
        user_id="u",
        display_name=None,
        timezone="UTC",
        status="active",
        status_reason=None,
        refresh_token_issued_at=issued_at,
        app_client_id=None,
        created_at=NOW.isoformat(),
        updated_at=NOW.isoformat(),
    )


def test_a_new_registry_file_is_private(registry):
    registry.register("alice", TOKEN)
    for path in registry.path.parent.glob(registry.path.name + "*"):
        assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, path
