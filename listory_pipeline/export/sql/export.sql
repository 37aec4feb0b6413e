-- A user's listens with their catalog names and ids, for `listory export` (export/*.py).

-- name: user_timezone
SELECT coalesce((SELECT timezone FROM core.users WHERE user_id = $user_id), 'UTC')

-- name: months
-- Listens per UTC month in the range: the chunks an export is written in.
SELECT date_trunc('month', timezone('UTC', played_at)) AS month, count(*) AS listens
FROM core.listens
WHERE user_id = $user_id AND played_at >= $start AND played_at < $end
GROUP BY 1
ORDER BY 1

-- name: listens
WITH

credits AS (

    SELECT ta.track_id,
           list(ta.artist_id ORDER BY ta.position) AS artist_ids,
           list(a.name ORDER BY ta.position) AS artist_names
    FROM core.track_artists AS ta
    LEFT JOIN core.artists AS a USING (artist_id)
    GROUP BY ta.track_id
    UNION ALL
    -- imported tracks not resolved yet: the artist the export names
    SELECT pc.track_id, [pc.artist_id], [coalesce(a.name, pc.artist_name)]
    FROM core.provisional_credits AS pc
    LEFT JOIN core.artists AS a USING (artist_id)
    WHERE pc.track_id NOT IN (SELECT track_id FROM core.track_artists)

)

SELECT
    l.user_id,
    l.played_at,
    l.track_id,
    t.name AS track_name,
    credits.artist_ids[1] AS artist_id,
    credits.artist_names[1] AS artist_name,
    credits.artist_ids,
    credits.artist_names,
    t.album_id,
    al.name AS album_name,
    l.ms_played,
    t.duration_ms,
    l.source,
    l.reason_start,
    l.reason_end,
    l.shuffle,
    l.offline,
    l.context_uri,
    l.played_at_precision
FROM core.listens AS l
LEFT JOIN core.tracks AS t USING (track_id)
LEFT JOIN core.albums AS al ON al.album_id = t.album_id
LEFT JOIN credits USING (track_id)
WHERE l.user_id = $user_id AND l.played_at >= $start AND l.played_at < $end
ORDER BY l.played_at, l.track_id

-- name: spotify_entries
-- Listens and skipped plays in the order Spotify's export has them, with what its fields need.
WITH

primary_artist AS (

    SELECT ta.track_id, a.name AS artist_name
    FROM core.track_artists AS ta
    JOIN core.artists AS a USING (artist_id)
    WHERE ta.position = 0
    UNION ALL
    SELECT pc.track_id, coalesce(a.name, pc.artist_name)
    FROM core.provisional_credits AS pc
    LEFT JOIN core.artists AS a USING (artist_id)
    WHERE pc.track_id NOT IN (SELECT track_id FROM core.track_artists)

),

plays AS (

    SELECT played_at, track_id, ms_played, reason_start, reason_end, shuffle, offline, false AS is_skip
    FROM core.listens
    WHERE user_id = $user_id AND played_at >= $start AND played_at < $end
    UNION ALL
    SELECT played_at, track_id, ms_played, reason_start, reason_end, shuffle, offline, true
    FROM core.skipped_plays
    WHERE user_id = $user_id AND played_at >= $start AND played_at < $end

)

SELECT
    epoch_ms(plays.played_at) AS played_at_ms,
    plays.track_id,
    t.catalog_status,
    t.name AS track_name,
    primary_artist.artist_name,
    al.name AS album_name,
    coalesce(plays.ms_played, t.duration_ms, 0) AS ms_played,
    plays.reason_start,
    plays.reason_end,
    plays.shuffle,
    plays.offline,
    plays.is_skip
FROM plays
LEFT JOIN core.tracks AS t USING (track_id)
LEFT JOIN core.albums AS al ON al.album_id = t.album_id
LEFT JOIN primary_artist USING (track_id)
ORDER BY plays.played_at, plays.track_id
