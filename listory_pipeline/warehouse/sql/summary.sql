-- What the warehouse holds, for `listory demo` and `listory status`.

-- name: per_user
SELECT u.user_id, u.display_name, u.status, u.timezone,
       count(l.played_at) AS listens,
       min(l.played_at) AS first_played_at,
       max(l.played_at) AS newest_played_at
FROM core.users AS u
LEFT JOIN core.listens AS l USING (user_id)
GROUP BY ALL
ORDER BY u.user_id

-- name: catalog_counts
SELECT (SELECT count(*) FROM core.tracks) AS tracks,
       (SELECT count(*) FROM core.albums) AS albums,
       (SELECT count(*) FROM core.artists) AS artists,
       (SELECT count(*) FROM core.artists WHERE genres_checked_at IS NOT NULL) AS artists_checked,
       (SELECT count(DISTINCT genre) FROM core.artist_genres) AS genres

-- name: newest_listens
SELECT l.played_at, l.user_id, t.name AS track, string_agg(a.name, ', ' ORDER BY ta.position) AS artists
FROM core.listens AS l
JOIN core.tracks AS t USING (track_id)
LEFT JOIN core.track_artists AS ta USING (track_id)
LEFT JOIN core.artists AS a USING (artist_id)
GROUP BY l.played_at, l.user_id, t.name
ORDER BY l.played_at DESC
LIMIT $limit

-- name: top_artists
SELECT rank, artist_name, listen_count, round(minutes_listened, 1), rank_change
FROM reports.top_artists
WHERE user_id = $user_id AND time_preset = $preset
ORDER BY rank
LIMIT $limit

-- name: history_per_user
-- Per user: gaps the crawl saw (open, filled by an imported export), imported listens, imports.
SELECT u.user_id,
       (SELECT count(*) FROM meta.listen_gaps g WHERE g.user_id = u.user_id AND g.filled_by_import IS NULL),
       (SELECT count(*) FROM meta.listen_gaps g WHERE g.user_id = u.user_id AND g.filled_by_import IS NOT NULL),
       (SELECT count(*) FROM meta.history_imports h WHERE h.user_id = u.user_id AND h.outcome = 'loaded')
FROM core.users AS u
