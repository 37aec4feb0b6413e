-- Data-quality checks on core.listens, scoped to one user so they stay cheap on every crawl.

-- name: duplicate_listen_keys
SELECT count(*) FROM (
    SELECT 1 FROM core.listens
    WHERE user_id = $user_id
    GROUP BY user_id, track_id, played_at
    HAVING count(*) > 1
)

-- name: listens_without_track
SELECT count(*)
FROM core.listens AS l
ANTI JOIN core.tracks AS t ON t.track_id = l.track_id
WHERE l.user_id = $user_id

-- name: listens_in_future
SELECT count(*) FROM core.listens
WHERE user_id = $user_id AND played_at > $now + INTERVAL 5 MINUTE
