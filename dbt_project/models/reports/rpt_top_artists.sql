{{ config(alias='top_artists') }}

with

plays as (

    select * from {{ ref('int_track_plays__by_window') }}

),

track_artists as (

    select * from {{ ref('stg_spotify__track_artists') }}

),

artists as (

    select * from {{ ref('stg_spotify__artists') }}

),

totals as (

    -- once for each artist credited on the track: a duet counts for both artists
    select
        plays.user_id,
        plays.time_preset,
        plays.period,
        plays.period_start,
        plays.period_end,
        track_artists.artist_id,
        artists.artist_name,
        cast(sum(plays.listen_count) as bigint) as listen_count,
        cast(sum(plays.ms_listened) as bigint) as ms_listened

    from plays
    inner join track_artists
        on plays.track_id = track_artists.track_id
    left join artists
        on track_artists.artist_id = artists.artist_id
    group by all

),

{{ top_list_ctes('totals', 'artist_id', 'artist_name') }}

select * from final
