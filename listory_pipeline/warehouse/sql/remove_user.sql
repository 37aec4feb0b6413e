-- Deleting one user's data on their explicit request (`listory users remove --delete-data`).
-- Run together in one transaction; each statement returns the number of rows it deleted.
-- Catalog rows (tracks, albums, artists, genres) are shared between users and stay.

-- name: delete_listens
DELETE FROM core.listens WHERE user_id = $user_id

-- name: delete_user
DELETE FROM core.users WHERE user_id = $user_id

-- name: delete_loaded_pulls
DELETE FROM meta.loaded_pulls WHERE user_id = $user_id

-- name: delete_landing_watermark
DELETE FROM meta.landing_watermarks WHERE user_id = $user_id

-- name: delete_skipped_plays
DELETE FROM core.skipped_plays WHERE user_id = $user_id

-- name: delete_history_imports
DELETE FROM meta.history_imports WHERE user_id = $user_id

-- name: delete_listen_gaps
DELETE FROM meta.listen_gaps WHERE user_id = $user_id
