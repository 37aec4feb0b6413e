-- Reads of the built report tables for the Dagster chart previews.

-- name: report_users
select distinct user_id from reports.listens_report order by user_id

-- name: bucket_counts
select timeframe, count(*) as buckets
from reports.listens_report
where user_id = $user_id
group by timeframe

-- name: listens_series
select period_start, listen_count, minutes_listened
from reports.listens_report
where user_id = $user_id and timeframe = $timeframe
order by period_start

-- name: top_artists
select rank, artist_name as name, listen_count, minutes_listened, rank_change
from reports.top_artists
where user_id = $user_id and time_preset = $time_preset and rank <= $top_n
order by rank

-- name: top_albums
select rank, album_name as name, listen_count, minutes_listened, rank_change
from reports.top_albums
where user_id = $user_id and time_preset = $time_preset and rank <= $top_n
order by rank

-- name: top_tracks
select rank, track_name as name, listen_count, minutes_listened, rank_change
from reports.top_tracks
where user_id = $user_id and time_preset = $time_preset and rank <= $top_n
order by rank

-- name: top_genres
select rank, genre as name, listen_count, minutes_listened, rank_change
from reports.top_genres
where user_id = $user_id and time_preset = $time_preset and rank <= $top_n
order by rank
