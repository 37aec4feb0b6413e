{{ config(alias='top_tracks') }}

with

plays as (

    select * from {{ ref('int_track_plays__by_window') }}

),

tracks as (

    select * from {{ ref('stg_spotify__tracks') }}

),

totals as (

    select
        plays.user_id,
        plays.time_preset,
        plays.period,
        plays.period_start,
        plays.period_end,
        plays.track_id,
        tracks.track_name,
        cast(sum(plays.listen_count) as bigint) as listen_count,
        cast(sum(plays.ms_listened) as bigint) as ms_listened

    from plays
    left join tracks
        on plays.track_id = tracks.track_id
    group by all

),

{{ top_list_ctes('totals', 'track_id', 'track_name') }}

select * from final
