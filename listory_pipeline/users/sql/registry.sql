-- Schema migrations: `migration_NNNN` statements, applied once each, in order, each in
-- its own IMMEDIATE transaction together with `PRAGMA user_version = NNNN`. Never edit
-- one that has shipped; add the next number (e.g. `ALTER TABLE users ADD COLUMN ...`).

-- name: migration_0001
-- The baseline. IF NOT EXISTS adopts registries written before versioning (user_version 0).
CREATE TABLE IF NOT EXISTS users (
    user_id TEXT PRIMARY KEY,
    display_name TEXT,
    timezone TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('active', 'revoked', 'disabled')),
    status_reason TEXT,
    refresh_token_enc BLOB,
    refresh_token_issued_at TEXT,
    app_client_id TEXT,
    app_client_secret_enc BLOB,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
)

-- name: upsert_user
-- A token belongs to the app that issued it, so the app columns always follow the token
-- (NULL: the instance's app). The time zone of a known user is kept.
INSERT INTO users (user_id, display_name, timezone, status, status_reason, refresh_token_enc,
                   refresh_token_issued_at, app_client_id, app_client_secret_enc, created_at, updated_at)
VALUES (:user_id, :display_name, :timezone, 'active', NULL, :refresh_token_enc, :now,
        :app_client_id, :app_client_secret_enc, :now, :now)
ON CONFLICT (user_id) DO UPDATE SET
    display_name = COALESCE(excluded.display_name, users.display_name),
    status = 'active',
    status_reason = NULL,
    refresh_token_enc = excluded.refresh_token_enc,
    refresh_token_issued_at = excluded.refresh_token_issued_at,
    app_client_id = excluded.app_client_id,
    app_client_secret_enc = excluded.app_client_secret_enc,
    updated_at = excluded.updated_at

-- name: select_users
SELECT user_id, display_name, timezone, status, status_reason, refresh_token_issued_at,
       app_client_id, created_at, updated_at
FROM users
ORDER BY user_id

-- name: select_user
SELECT user_id, display_name, timezone, status, status_reason, refresh_token_issued_at,
       app_client_id, created_at, updated_at
FROM users
WHERE user_id = :user_id

-- name: select_refresh_token
SELECT refresh_token_enc FROM users WHERE user_id = :user_id

-- name: update_refresh_token
UPDATE users
SET refresh_token_enc = :refresh_token_enc, refresh_token_issued_at = :now, updated_at = :now
WHERE user_id = :user_id

-- name: update_status
UPDATE users
SET status = :status, status_reason = :status_reason, updated_at = :now
WHERE user_id = :user_id

-- name: select_user_app
SELECT app_client_id, app_client_secret_enc FROM users WHERE user_id = :user_id

-- name: update_user_app
UPDATE users
SET app_client_id = :app_client_id, app_client_secret_enc = :app_client_secret_enc, updated_at = :now
WHERE user_id = :user_id

-- name: update_timezone
UPDATE users SET timezone = :timezone, updated_at = :now WHERE user_id = :user_id

-- name: delete_user
DELETE FROM users WHERE user_id = :user_id

-- name: create_access_tokens
CREATE TABLE IF NOT EXISTS access_tokens (
    cache_key TEXT PRIMARY KEY,
    token_enc BLOB NOT NULL,
    expires_at TEXT NOT NULL
)

-- name: select_access_token
SELECT token_enc, expires_at FROM access_tokens WHERE cache_key = :cache_key

-- name: upsert_access_token
INSERT INTO access_tokens (cache_key, token_enc, expires_at)
VALUES (:cache_key, :token_enc, :expires_at)
ON CONFLICT (cache_key) DO UPDATE SET token_enc = excluded.token_enc, expires_at = excluded.expires_at

-- name: delete_access_token
DELETE FROM access_tokens WHERE cache_key = :cache_key

-- name: delete_user_access_tokens
-- Keys are `user:<client_id>:<user_id>`: every app's cached token of one user.
DELETE FROM access_tokens
WHERE cache_key LIKE 'user:%' AND substr(cache_key, -length(:suffix)) = :suffix
