{{ config(alias='recent_listens', materialized='view') }}

-- Live, not as-of: every stored play, newest first, with names to read.

with

listens as (

    select * from {{ ref('stg_spotify__listens') }}

),

users as (

    select * from {{ ref('int_users__report_dates') }}

),

tracks as (

    select * from {{ ref('stg_spotify__tracks') }}

),

albums as (

    select * from {{ ref('stg_spotify__albums') }}

),

track_credits as (

    select
        track_artists.track_id,
        string_agg(coalesce(artists.artist_name, track_artists.artist_id), ', ' order by track_artists.credit_position) as artist_names

    from {{ ref('stg_spotify__track_artists') }} as track_artists
    left join {{ ref('stg_spotify__artists') }} as artists
        on track_artists.artist_id = artists.artist_id
    group by track_artists.track_id

),

final as (

    select
        listens.user_id,
        listens.played_at,
        timezone(coalesce(users.timezone, 'UTC'), listens.played_at) as played_at_local,
        listens.track_id,
        tracks.track_name,
        track_credits.artist_names,
        tracks.album_id,
        albums.album_name,
        coalesce(listens.ms_played, tracks.duration_ms) as ms_listened,
        listens.listen_source,
        listens.loaded_at

    from listens
    left join users
        on listens.user_id = users.user_id
    left join tracks
        on listens.track_id = tracks.track_id
    left join albums
        on tracks.album_id = albums.album_id
    left join track_credits
        on listens.track_id = track_credits.track_id

)

select * from final
order by played_at desc, user_id, track_id
