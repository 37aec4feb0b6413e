{{ config(alias='top_albums') }}

with

plays as (

    select * from {{ ref('int_track_plays__by_window') }}

),

albums as (

    select * from {{ ref('stg_spotify__albums') }}

),

totals as (

    -- once for its album: a track belongs to one album (plays of tracks with no album are not ranked)
    select
        plays.user_id,
        plays.time_preset,
        plays.period,
        plays.period_start,
        plays.period_end,
        plays.album_id,
        albums.album_name,
        cast(sum(plays.listen_count) as bigint) as listen_count,
        cast(sum(plays.ms_listened) as bigint) as ms_listened

    from plays
    left join albums
        on plays.album_id = albums.album_id
    where plays.album_id is not null
    group by all

),

{{ top_list_ctes('totals', 'album_id', 'album_name') }}

select * from final
