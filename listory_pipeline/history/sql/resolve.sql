-- Completing the catalog of imported tracks (history/resolve.py). The rows themselves go
-- through the crawl's own upserts (warehouse/sql/load.sql), so a resolved track is exactly
-- what a crawl of it would have stored.

-- name: select_pending_tracks
-- The user's imported tracks still known only by id and name: those with listens first (they
-- are in the reports), then those only skipped.
SELECT t.track_id
FROM core.tracks AS t
LEFT JOIN (
    SELECT DISTINCT track_id, true AS listened FROM core.listens WHERE user_id = $user_id
) AS heard ON heard.track_id = t.track_id
LEFT JOIN (
    SELECT DISTINCT track_id, true AS skipped FROM core.skipped_plays WHERE user_id = $user_id
) AS passed ON passed.track_id = t.track_id
WHERE t.catalog_status = 'pending'
  AND (heard.listened OR passed.skipped)
ORDER BY heard.listened IS NULL, t.first_seen_at, t.track_id
LIMIT $limit  -- NULL: all

-- name: count_pending_tracks
SELECT count(*)
FROM core.tracks AS t
WHERE t.catalog_status = 'pending'
  AND (t.track_id IN (SELECT track_id FROM core.listens WHERE user_id = $user_id)
       OR t.track_id IN (SELECT track_id FROM core.skipped_plays WHERE user_id = $user_id))

-- name: mark_not_found
-- Spotify does not know these ids (removed from the catalog): they stay, by name.
UPDATE core.tracks
SET catalog_status = 'not_found', resolve_attempted_at = $now, updated_at = $now
WHERE list_contains($track_ids::VARCHAR[], track_id) AND catalog_status = 'pending'

-- name: delete_resolved_provisional_credits
DELETE FROM core.provisional_credits AS pc
USING core.tracks AS t
WHERE t.track_id = pc.track_id AND t.catalog_status = 'complete'

-- name: delete_orphan_placeholder_albums
DELETE FROM core.albums
WHERE is_placeholder AND album_id NOT IN (SELECT album_id FROM core.tracks WHERE album_id IS NOT NULL)

-- name: delete_orphan_placeholder_artists
DELETE FROM core.artists
WHERE is_placeholder
  AND artist_id NOT IN (SELECT artist_id FROM core.provisional_credits)
  AND artist_id NOT IN (SELECT artist_id FROM core.track_artists)

-- name: select_bulk_state
SELECT bulk_refused_kinds, bulk_checked_at FROM meta.enrichment_state WHERE app_key = $app_key

-- name: remember_bulk_refusals
-- The catalog kinds this app was refused bulk requests for, kept beside the artist genres state.
INSERT INTO meta.enrichment_state (app_key, bulk_refused_kinds, bulk_checked_at, updated_at)
VALUES ($app_key, $bulk_refused_kinds, $now, $now)
ON CONFLICT (app_key) DO UPDATE SET
    bulk_refused_kinds = list_sort(list_distinct(list_concat(meta.enrichment_state.bulk_refused_kinds,
                                                             excluded.bulk_refused_kinds))),
    bulk_checked_at = excluded.bulk_checked_at,
    updated_at = excluded.updated_at
