-- Loading one landed import into core.*: a fixed number of set-based statements, however many
-- entries the export has, all in one transaction (history/loader.py).
--
-- The same play reaching us twice is stored once. Both sources mark the END of the play:
-- recently-played in milliseconds, the Extended Streaming History in whole seconds, Account
-- data in whole minutes (the extended ts rounded down). Two entries are the same play when they
-- are of the same track and their ends are within the tolerance:
--   second vs second-or-better: |difference| <= least(30 s, greatest(1 s, ms_played / 2))
--     1 s is the export's precision; 30 s allows for the two systems' clocks (other trackers
--     use +-30 s); ms_played / 2 keeps two genuine plays of a short track apart: the later
--     one starts after the earlier ends, so their ends are at least its length apart.
--   minute vs anything finer: the finer end lies in [minute - 2 s, minute + 62 s).
-- Each entry matches at most one stored listen and each stored listen at most one entry
-- (mutual nearest), so one play never absorbs two.

-- name: stage_entries
CREATE OR REPLACE TEMP TABLE history_staged AS
WITH

landed AS (

    SELECT * FROM read_parquet($entries_path)

),

unique_artist_names AS (

    -- a real artist this name can only mean
    SELECT lower(name) AS name_key, min(artist_id) AS artist_id
    FROM core.artists
    WHERE NOT coalesce(is_placeholder, false)
    GROUP BY 1
    HAVING count(*) = 1

),

keyed AS (

    SELECT
        row_number() OVER (ORDER BY played_at, track_id, track_name) AS entry_id,
        landed.*,
        lower(trim(coalesce(track_name, ''))) || chr(31) || lower(trim(coalesce(artist_name, ''))) AS name_key,
        track_id IS NULL AS by_name
    FROM landed

)

SELECT
    keyed.entry_id,
    keyed.played_at,
    keyed.precision,
    coalesce(keyed.track_id, 'byname:' || left(md5(keyed.name_key), 22)) AS track_id,
    keyed.by_name,
    keyed.name_key,
    keyed.track_name,
    keyed.artist_name,
    keyed.album_name,
    coalesce(
        unique_artist_names.artist_id,
        'artist-by-name:' || left(md5(lower(trim(keyed.artist_name))), 22)
    ) AS credited_artist_id,
    unique_artist_names.artist_id IS NULL AS artist_is_placeholder,
    CASE WHEN keyed.album_name IS NOT NULL THEN
        'album-by-name:' || left(md5(lower(trim(coalesce(keyed.artist_name, ''))) || chr(31) || lower(trim(keyed.album_name))), 22)
    END AS placeholder_album_id,
    keyed.ms_played,
    keyed.outcome,
    keyed.reason_start,
    keyed.reason_end,
    keyed.shuffle,
    keyed.offline
FROM keyed
LEFT JOIN unique_artist_names
    ON unique_artist_names.name_key = lower(trim(keyed.artist_name))

-- name: resolve_names_from_catalog
-- Account data has no URI: an entry whose track and artist names mean exactly one known track
-- becomes a play of that track; the others stay known by name.
UPDATE history_staged AS s
SET track_id = known.track_id, by_name = false
FROM (
    SELECT name_key, min(track_id) AS track_id
    FROM (
        SELECT lower(trim(t.name)) || chr(31) || lower(trim(a.name)) AS name_key, t.track_id
        FROM core.tracks AS t
        JOIN core.track_artists AS ta ON ta.track_id = t.track_id AND ta.position = 0
        JOIN core.artists AS a ON a.artist_id = ta.artist_id
        UNION
        SELECT lower(trim(t.name)) || chr(31) || lower(trim(coalesce(pc.artist_name, ''))), t.track_id
        FROM core.tracks AS t
        JOIN core.provisional_credits AS pc ON pc.track_id = t.track_id
        WHERE t.catalog_status <> 'by_name'
    )
    GROUP BY name_key
    HAVING count(DISTINCT track_id) = 1
) AS known
WHERE s.by_name AND s.name_key = known.name_key

-- name: match_stored_listens
CREATE OR REPLACE TEMP TABLE history_matches AS
WITH

span AS (

    SELECT min(played_at) - INTERVAL 2 MINUTE AS lo, max(played_at) + INTERVAL 2 MINUTE AS hi
    FROM history_staged

),

stored AS (

    SELECT
        l.played_at,
        l.track_id,
        coalesce(l.played_at_precision, CASE WHEN l.source = 'recently_played' THEN 'millisecond' ELSE 'second' END)
            AS precision,
        CASE WHEN l.track_id LIKE 'byname:%' THEN
            lower(trim(t.name)) || chr(31) || lower(trim(coalesce(pc.artist_name, '')))
        END AS name_key
    FROM core.listens AS l
    CROSS JOIN span
    LEFT JOIN core.tracks AS t ON t.track_id = l.track_id AND l.track_id LIKE 'byname:%'
    LEFT JOIN core.provisional_credits AS pc ON pc.track_id = l.track_id AND l.track_id LIKE 'byname:%'
    WHERE l.user_id = $user_id AND l.played_at BETWEEN span.lo AND span.hi

),

entries AS (

    SELECT * FROM history_staged WHERE outcome = 'listen'

),

pairs AS (

    -- same track id (real, or the same by-name id)
    SELECT entries.entry_id, entries.played_at AS entry_played_at, entries.precision AS entry_precision,
           entries.ms_played, stored.played_at AS stored_played_at, stored.track_id AS stored_track_id,
           stored.precision AS stored_precision
    FROM entries JOIN stored ON stored.track_id = entries.track_id
    UNION ALL
    -- a stored by-name play of the same names as an entry that has a real id
    SELECT entries.entry_id, entries.played_at, entries.precision, entries.ms_played,
           stored.played_at, stored.track_id, stored.precision
    FROM entries JOIN stored ON stored.name_key = entries.name_key
    WHERE stored.name_key IS NOT NULL AND stored.track_id <> entries.track_id

),

candidates AS (

    SELECT
        *,
        abs(epoch_ms(entry_played_at) - epoch_ms(stored_played_at)) AS distance_ms
    FROM pairs
    WHERE CASE
        WHEN entry_precision = 'minute' AND stored_precision = 'minute' THEN entry_played_at = stored_played_at
        WHEN entry_precision = 'minute' THEN
            stored_played_at >= entry_played_at - INTERVAL 2 SECOND
            AND stored_played_at < entry_played_at + INTERVAL 62 SECOND
        WHEN stored_precision = 'minute' THEN
            entry_played_at >= stored_played_at - INTERVAL 2 SECOND
            AND entry_played_at < stored_played_at + INTERVAL 62 SECOND
        ELSE abs(epoch_ms(entry_played_at) - epoch_ms(stored_played_at))
            <= least(30000, greatest(1000, ms_played // 2))
    END

),

ranked AS (

    SELECT
        *,
        row_number() OVER (PARTITION BY entry_id ORDER BY distance_ms, stored_played_at, stored_track_id)
            AS rank_for_entry,
        row_number() OVER (PARTITION BY stored_track_id, stored_played_at ORDER BY distance_ms, entry_id)
            AS rank_for_stored
    FROM candidates

)

SELECT
    entry_id,
    stored_played_at,
    stored_track_id,
    -- a stored play known only to the minute gives way to the entry's finer one
    stored_precision = 'minute' AND entry_precision <> 'minute' AS superseded
FROM ranked
WHERE rank_for_entry = 1 AND rank_for_stored = 1

-- name: fill_matched_listens
-- A play stored already (crawled, or from an earlier import) keeps its row and its more precise
-- played_at; it takes what only the export knows, such as how long it really played.
UPDATE core.listens AS l
SET ms_played = coalesce(l.ms_played, s.ms_played),
    reason_start = coalesce(l.reason_start, s.reason_start),
    reason_end = coalesce(l.reason_end, s.reason_end),
    shuffle = coalesce(l.shuffle, s.shuffle),
    offline = coalesce(l.offline, s.offline)
FROM history_matches AS m
JOIN history_staged AS s ON s.entry_id = m.entry_id
WHERE NOT m.superseded
  AND l.user_id = $user_id
  AND l.track_id = m.stored_track_id
  AND l.played_at = m.stored_played_at
  AND (l.ms_played IS NULL OR l.reason_end IS NULL)

-- name: delete_superseded_listens
DELETE FROM core.listens AS l
USING history_matches AS m
WHERE m.superseded
  AND l.user_id = $user_id
  AND l.track_id = m.stored_track_id
  AND l.played_at = m.stored_played_at

-- name: insert_listens
INSERT INTO core.listens (user_id, played_at, track_id, source, ms_played, context_uri, pull_id, loaded_at,
                          reason_start, reason_end, shuffle, offline, played_at_precision)
SELECT $user_id, s.played_at, s.track_id, 'extended_history', s.ms_played, NULL, $import_id, $now,
       s.reason_start, s.reason_end, s.shuffle, s.offline, s.precision
FROM history_staged AS s
WHERE s.outcome = 'listen'
  AND NOT EXISTS (SELECT 1 FROM history_matches AS m WHERE m.entry_id = s.entry_id AND NOT m.superseded)
ON CONFLICT DO NOTHING

-- name: insert_skips
INSERT INTO core.skipped_plays (user_id, played_at, track_id, source, ms_played, reason_start, reason_end,
                                shuffle, offline, played_at_precision, pull_id, loaded_at)
SELECT $user_id, played_at, track_id, 'extended_history', ms_played, reason_start, reason_end,
       shuffle, offline, precision, $import_id, $now
FROM history_staged
WHERE outcome = 'skip'
ON CONFLICT DO NOTHING

-- name: insert_placeholder_albums
INSERT INTO core.albums (album_id, name, first_seen_at, updated_at, is_placeholder)
SELECT placeholder_album_id, any_value(album_name), $now, $now, true
FROM history_staged
WHERE placeholder_album_id IS NOT NULL
  AND track_id NOT IN (SELECT track_id FROM core.tracks)
GROUP BY placeholder_album_id
ON CONFLICT DO NOTHING

-- name: insert_placeholder_artists
INSERT INTO core.artists (artist_id, name, first_seen_at, updated_at, is_placeholder)
SELECT credited_artist_id, any_value(artist_name), $now, $now, true
FROM history_staged
WHERE artist_is_placeholder
  AND artist_name IS NOT NULL
  AND track_id NOT IN (SELECT track_id FROM core.tracks)
GROUP BY credited_artist_id
ON CONFLICT DO NOTHING

-- name: insert_provisional_credits
INSERT INTO core.provisional_credits (track_id, artist_id, artist_name)
SELECT track_id, arg_max(credited_artist_id, played_at), arg_max(artist_name, played_at)
FROM history_staged
WHERE artist_name IS NOT NULL
  AND track_id NOT IN (SELECT track_id FROM core.tracks)
GROUP BY track_id
ON CONFLICT DO NOTHING

-- name: insert_pending_tracks
-- Tracks this import names that the warehouse does not know: by name in reports at once,
-- completed by resolution (or kept by name when the export has no URI).
INSERT INTO core.tracks (track_id, name, duration_ms, album_id, first_seen_at, updated_at, catalog_status)
SELECT
    track_id,
    coalesce(arg_max(track_name, played_at), '(unnamed track)'),
    NULL,
    arg_max(placeholder_album_id, played_at),
    $now,
    $now,
    CASE WHEN bool_or(by_name) THEN 'by_name' ELSE 'pending' END
FROM history_staged
WHERE track_id NOT IN (SELECT track_id FROM core.tracks)
GROUP BY track_id
ON CONFLICT DO NOTHING

-- name: fill_gaps
-- Gaps the crawl saw (a full pull newer than every stored listen) that this export spans.
UPDATE meta.listen_gaps
SET filled_by_import = $import_id, filled_at = $now
WHERE user_id = $user_id
  AND filled_by_import IS NULL
  AND gap_from >= $covered_from
  AND gap_to <= $covered_to

-- name: record_import
INSERT INTO meta.history_imports (import_id, user_id, landed_at, loaded_at, outcome, error, entries_landed,
                                  listens_new, listens_matched, listens_replaced, skips_new, tracks_new,
                                  covered_from, covered_to, counts)
VALUES ($import_id, $user_id, $landed_at, $now, $outcome, $error, $entries_landed, $listens_new,
        $listens_matched, $listens_replaced, $skips_new, $tracks_new, $covered_from, $covered_to, $counts)
ON CONFLICT (import_id) DO UPDATE SET
    loaded_at = excluded.loaded_at,
    outcome = excluded.outcome,
    error = excluded.error

-- name: select_recorded_imports
SELECT import_id FROM meta.history_imports WHERE user_id = $user_id

-- name: count_matches
SELECT count(*) FILTER (WHERE NOT superseded), count(*) FILTER (WHERE superseded) FROM history_matches

-- name: drop_staging
DROP TABLE IF EXISTS history_staged;
DROP TABLE IF EXISTS history_matches

-- name: count_landed_entries
SELECT count(*) FROM read_parquet($entries_path)
