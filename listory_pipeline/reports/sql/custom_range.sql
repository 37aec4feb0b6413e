-- Reads for custom-range reports (listory_pipeline/reports/custom_range.py): only the
-- listens of one user within a played_at window, and only the catalog rows those listens need.

-- name: user_timezone
select timezone from core.users where user_id = $user_id

-- name: first_played_at
select min(played_at) from core.listens where user_id = $user_id

-- name: listens_in_window
select user_id, track_id, played_at, ms_played
from core.listens
where user_id = $user_id
  and played_at >= $played_from
  and played_at < $played_to

-- name: tracks_by_id
select track_id, name as track_name, duration_ms, album_id
from core.tracks
where track_id in (select unnest($track_ids::varchar[]))

-- name: albums_by_id
select album_id, name as album_name
from core.albums
where album_id in (select unnest($album_ids::varchar[]))

-- name: track_artists_by_track
select track_id, artist_id
from core.track_artists
where track_id in (select unnest($track_ids::varchar[]))

-- name: artists_by_id
select artist_id, name as artist_name
from core.artists
where artist_id in (select unnest($artist_ids::varchar[]))

-- name: artist_genres_by_artist
select artist_id, genre
from core.artist_genres
where artist_id in (select unnest($artist_ids::varchar[]))
