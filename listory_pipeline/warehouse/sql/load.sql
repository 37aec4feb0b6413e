-- Set-based load of landed pulls: each statement takes all rows of one table as
-- one JSON parameter ($rows), so the statement count does not grow with plays.

-- name: select_loaded_pull_ids
SELECT pull_id FROM meta.loaded_pulls WHERE user_id = $user_id AND fetched_at >= $since

-- name: select_cleanly_loaded_pulls
-- Originals that repeats name, loaded with every play stored (no note of plays dated after the fetch).
SELECT pull_id, play_count FROM meta.loaded_pulls
WHERE user_id = $user_id AND outcome = 'loaded' AND error IS NULL AND list_contains($pull_ids, pull_id)

-- name: select_watermark
SELECT coalesce(first_open_at, CAST(first_open_day AS TIMESTAMPTZ))
FROM meta.landing_watermarks WHERE user_id = $user_id

-- name: select_newest_played_at
SELECT max(played_at) FROM core.listens WHERE user_id = $user_id

-- name: upsert_users
INSERT INTO core.users (user_id, display_name, timezone, status, updated_at)
SELECT user_id, display_name, timezone, status, $now
FROM (SELECT unnest(from_json($rows::JSON,
    '[{"user_id":"VARCHAR","display_name":"VARCHAR","timezone":"VARCHAR","status":"VARCHAR"}]'),
    recursive := true))
ON CONFLICT (user_id) DO UPDATE SET
    display_name = excluded.display_name,
    timezone = excluded.timezone,
    status = excluded.status,
    updated_at = excluded.updated_at
WHERE core.users.display_name IS DISTINCT FROM excluded.display_name
   OR core.users.timezone IS DISTINCT FROM excluded.timezone
   OR core.users.status IS DISTINCT FROM excluded.status

-- name: upsert_albums
INSERT INTO core.albums (album_id, name, album_type, release_date, release_date_precision,
                         total_tracks, image_url, uri, first_seen_at, updated_at)
SELECT album_id, name, album_type, release_date, release_date_precision, total_tracks, image_url, uri, $now, $now
FROM (SELECT unnest(from_json($rows::JSON,
    '[{"album_id":"VARCHAR","name":"VARCHAR","album_type":"VARCHAR","release_date":"VARCHAR",
       "release_date_precision":"VARCHAR","total_tracks":"INTEGER","image_url":"VARCHAR","uri":"VARCHAR"}]'),
    recursive := true))
ON CONFLICT (album_id) DO UPDATE SET
    name = excluded.name,
    album_type = coalesce(excluded.album_type, core.albums.album_type),
    release_date = coalesce(excluded.release_date, core.albums.release_date),
    release_date_precision = coalesce(excluded.release_date_precision, core.albums.release_date_precision),
    total_tracks = coalesce(excluded.total_tracks, core.albums.total_tracks),
    image_url = coalesce(excluded.image_url, core.albums.image_url),
    uri = coalesce(excluded.uri, core.albums.uri),
    updated_at = excluded.updated_at
WHERE core.albums.name IS DISTINCT FROM excluded.name
   OR core.albums.album_type IS DISTINCT FROM coalesce(excluded.album_type, core.albums.album_type)
   OR core.albums.release_date IS DISTINCT FROM coalesce(excluded.release_date, core.albums.release_date)
   OR core.albums.total_tracks IS DISTINCT FROM coalesce(excluded.total_tracks, core.albums.total_tracks)
   OR core.albums.image_url IS DISTINCT FROM coalesce(excluded.image_url, core.albums.image_url)

-- name: upsert_artists
INSERT INTO core.artists (artist_id, name, uri, first_seen_at, updated_at)
SELECT artist_id, name, uri, $now, $now
FROM (SELECT unnest(from_json($rows::JSON,
    '[{"artist_id":"VARCHAR","name":"VARCHAR","uri":"VARCHAR"}]'), recursive := true))
ON CONFLICT (artist_id) DO UPDATE SET
    name = excluded.name,
    uri = coalesce(excluded.uri, core.artists.uri),
    updated_at = excluded.updated_at
WHERE core.artists.name IS DISTINCT FROM excluded.name

-- name: upsert_tracks
INSERT INTO core.tracks (track_id, name, duration_ms, album_id, disc_number, track_number, explicit,
                         popularity, isrc, uri, first_seen_at, updated_at)
SELECT track_id, name, duration_ms, album_id, disc_number, track_number, explicit, popularity, isrc, uri, $now, $now
FROM (SELECT unnest(from_json($rows::JSON,
    '[{"track_id":"VARCHAR","name":"VARCHAR","duration_ms":"INTEGER","album_id":"VARCHAR",
       "disc_number":"INTEGER","track_number":"INTEGER","explicit":"BOOLEAN","popularity":"INTEGER",
       "isrc":"VARCHAR","uri":"VARCHAR"}]'), recursive := true))
ON CONFLICT (track_id) DO UPDATE SET
    name = excluded.name,
    duration_ms = excluded.duration_ms,
    album_id = excluded.album_id,
    disc_number = coalesce(excluded.disc_number, core.tracks.disc_number),
    track_number = coalesce(excluded.track_number, core.tracks.track_number),
    explicit = coalesce(excluded.explicit, core.tracks.explicit),
    popularity = coalesce(excluded.popularity, core.tracks.popularity),
    isrc = coalesce(excluded.isrc, core.tracks.isrc),
    uri = coalesce(excluded.uri, core.tracks.uri),
    catalog_status = 'complete',
    updated_at = excluded.updated_at
WHERE core.tracks.name IS DISTINCT FROM excluded.name
   OR core.tracks.duration_ms IS DISTINCT FROM excluded.duration_ms
   OR core.tracks.album_id IS DISTINCT FROM excluded.album_id
   OR core.tracks.popularity IS DISTINCT FROM coalesce(excluded.popularity, core.tracks.popularity)
   OR core.tracks.catalog_status IS DISTINCT FROM 'complete'

-- name: insert_track_artists
INSERT INTO core.track_artists (track_id, artist_id, position)
SELECT track_id, artist_id, position
FROM (SELECT unnest(from_json($rows::JSON,
    '[{"track_id":"VARCHAR","artist_id":"VARCHAR","position":"INTEGER"}]'), recursive := true))
ON CONFLICT DO NOTHING

-- name: insert_album_artists
INSERT INTO core.album_artists (album_id, artist_id, position)
SELECT album_id, artist_id, position
FROM (SELECT unnest(from_json($rows::JSON,
    '[{"album_id":"VARCHAR","artist_id":"VARCHAR","position":"INTEGER"}]'), recursive := true))
ON CONFLICT DO NOTHING

-- name: insert_listens
-- A play imported from the export already (history/sql/history_load.sql explains the tolerance)
-- is not stored a second time.
INSERT INTO core.listens (user_id, played_at, track_id, source, ms_played, context_uri, pull_id, loaded_at,
                          played_at_precision)
SELECT pulled.user_id, pulled.played_at, pulled.track_id, 'recently_played', NULL, pulled.context_uri,
       pulled.pull_id, $now, 'millisecond'
FROM (
    SELECT user_id, played_at::TIMESTAMPTZ AS played_at, track_id, context_uri, pull_id
    FROM (SELECT unnest(from_json($rows::JSON,
        '[{"user_id":"VARCHAR","played_at":"VARCHAR","track_id":"VARCHAR","context_uri":"VARCHAR","pull_id":"VARCHAR"}]'),
        recursive := true))
) AS pulled
WHERE NOT EXISTS (
    SELECT 1
    FROM core.listens AS imported
    -- the pull's own time span (+ the widest tolerance), as constants: DuckDB skips every row
    -- group outside it by its min/max statistics instead of scanning the user's whole history
    WHERE imported.played_at BETWEEN $window_from AND $window_to
      AND imported.user_id = pulled.user_id
      AND imported.track_id = pulled.track_id
      AND imported.source = 'extended_history'
      AND imported.played_at BETWEEN pulled.played_at - INTERVAL 62 SECOND AND pulled.played_at + INTERVAL 30 SECOND
      AND CASE WHEN imported.played_at_precision = 'minute' THEN
              pulled.played_at >= imported.played_at - INTERVAL 2 SECOND
              AND pulled.played_at < imported.played_at + INTERVAL 62 SECOND
          ELSE abs(epoch_ms(pulled.played_at) - epoch_ms(imported.played_at))
              <= least(30000, greatest(1000, coalesce(imported.ms_played, 0) // 2))
          END
)
ON CONFLICT DO NOTHING

-- name: insert_gap
-- A full pull entirely newer than every stored listen: plays in between may be lost, unless an
-- export import covers the stretch later (history/sql/history_load.sql, fill_gaps).
INSERT INTO meta.listen_gaps (user_id, gap_from, gap_to, detected_at, pull_id)
SELECT user_id, gap_from::TIMESTAMPTZ, gap_to::TIMESTAMPTZ, $now, pull_id
FROM (SELECT unnest(from_json($rows::JSON,
    '[{"user_id":"VARCHAR","gap_from":"VARCHAR","gap_to":"VARCHAR","pull_id":"VARCHAR"}]'), recursive := true))
ON CONFLICT DO NOTHING

-- name: select_gap_counts
SELECT count(*) FILTER (WHERE filled_by_import IS NULL), count(*) FILTER (WHERE filled_by_import IS NOT NULL)
FROM meta.listen_gaps WHERE user_id = $user_id

-- name: insert_loaded_pulls
INSERT INTO meta.loaded_pulls (pull_id, user_id, fetched_at, loaded_at, play_count, outcome, error)
SELECT pull_id, user_id, fetched_at::TIMESTAMPTZ, $now, play_count, outcome, error
FROM (SELECT unnest(from_json($rows::JSON,
    '[{"pull_id":"VARCHAR","user_id":"VARCHAR","fetched_at":"VARCHAR","play_count":"INTEGER",
       "outcome":"VARCHAR","error":"VARCHAR"}]'), recursive := true))
ON CONFLICT DO NOTHING

-- name: upsert_watermark
INSERT INTO meta.landing_watermarks (user_id, first_open_day, first_open_at)
VALUES ($user_id, CAST($first_open_at AS DATE), $first_open_at)
ON CONFLICT (user_id) DO UPDATE SET
    first_open_day = excluded.first_open_day,
    first_open_at = excluded.first_open_at

-- name: warm_up
-- What a load's statements first need from DuckDB (its JSON functions, time zones), asked once
-- of an in-memory database: see connection.warm_up_duckdb.
SELECT from_json('[{"a":"x"}]', '[{"a":"VARCHAR"}]'), now()::TIMESTAMPTZ, '2026-01-01T00:00:00Z'::TIMESTAMPTZ
