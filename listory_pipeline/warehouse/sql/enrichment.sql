-- Artist genres are the one thing the recently-played payload lacks.

-- name: select_state
SELECT genres_unavailable_until, bulk_refused_kinds, bulk_checked_at
FROM meta.enrichment_state WHERE app_key = $app_key

-- name: select_artists_needing_genres
-- Never checked first (oldest first), then those Spotify gave no genres for when genres
-- are available again, then stale ones.
-- Stand-ins named by an import (is_placeholder) have no Spotify id to ask for.
SELECT artist_id, genres_checked_at IS NOT NULL AS rechecked
FROM core.artists
WHERE NOT coalesce(is_placeholder, false)
  AND (genres_checked_at IS NULL
       OR (genres_status = 'unavailable' AND $genres_available)
       OR genres_checked_at < $stale_before)
ORDER BY genres_checked_at NULLS FIRST, first_seen_at, artist_id
LIMIT $limit

-- name: update_artists
UPDATE core.artists AS a
SET name = coalesce(f.name, a.name),
    popularity = coalesce(f.popularity, a.popularity),
    followers = coalesce(f.followers, a.followers),
    image_url = coalesce(f.image_url, a.image_url),
    genres_status = f.genres_status,
    genres_checked_at = $now,
    updated_at = $now
FROM (SELECT unnest(from_json($rows::JSON,
    '[{"artist_id":"VARCHAR","name":"VARCHAR","popularity":"INTEGER","followers":"BIGINT",
       "image_url":"VARCHAR","genres_status":"VARCHAR"}]'), recursive := true)) AS f
WHERE a.artist_id = f.artist_id

-- name: delete_stale_genres
-- Genres an artist no longer has, for re-checked artists whose genre list was just fetched.
DELETE FROM core.artist_genres AS g
WHERE list_contains($checked_ids::VARCHAR[], g.artist_id)
  AND NOT list_contains($pairs::VARCHAR[], g.artist_id || chr(31) || g.genre)

-- name: insert_genres
INSERT INTO core.artist_genres (artist_id, genre)
SELECT artist_id, genre
FROM (SELECT unnest(from_json($rows::JSON, '[{"artist_id":"VARCHAR","genre":"VARCHAR"}]'), recursive := true))
ON CONFLICT DO NOTHING

-- name: upsert_state
INSERT INTO meta.enrichment_state (app_key, genres_unavailable_until, bulk_refused_kinds, bulk_checked_at, updated_at)
VALUES ($app_key, $genres_unavailable_until, $bulk_refused_kinds, $bulk_checked_at, $now)
ON CONFLICT (app_key) DO UPDATE SET
    genres_unavailable_until = excluded.genres_unavailable_until,
    bulk_refused_kinds = excluded.bulk_refused_kinds,
    bulk_checked_at = excluded.bulk_checked_at,
    updated_at = excluded.updated_at
