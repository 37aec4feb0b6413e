-- name: create_migrations_table
CREATE TABLE IF NOT EXISTS meta.schema_migrations (
    version INTEGER PRIMARY KEY,
    applied_at TIMESTAMPTZ NOT NULL
)

-- name: current_version
SELECT coalesce(max(version), 0) FROM meta.schema_migrations

-- name: record_migration
INSERT INTO meta.schema_migrations VALUES ($version, current_timestamp)
