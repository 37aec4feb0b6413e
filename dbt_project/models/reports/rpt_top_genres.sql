{{ config(alias='top_genres') }}

with

plays as (

    select * from {{ ref('int_track_plays__by_window') }}

),

track_genres as (

    select * from {{ ref('int_tracks__genres') }}

),

totals as (

    -- once for each distinct genre of the track's artists; genre-less tracks count nowhere
    select
        plays.user_id,
        plays.time_preset,
        plays.period,
        plays.period_start,
        plays.period_end,
        track_genres.genre,
        cast(sum(plays.listen_count) as bigint) as listen_count,
        cast(sum(plays.ms_listened) as bigint) as ms_listened

    from plays
    inner join track_genres
        on plays.track_id = track_genres.track_id
    group by all

),

{{ top_list_ctes('totals', 'genre', 'genre') }}

select * from final
