-- Each play on the user's local calendar. timezone(tz, timestamptz) is DST-aware (ICU), so a
-- play belongs to the local date and hour its played_at had on the user's wall clock.
-- Only plays whose local date is on or before the as-of date are kept.

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

localized as (

    select
        listens.user_id,
        listens.track_id,
        tracks.album_id,
        listens.played_at,
        timezone(users.timezone, listens.played_at) as played_at_local,
        -- ms_played where the source has it, the track's duration otherwise
        coalesce(listens.ms_played, tracks.duration_ms, 0) as ms_listened,
        listens.loaded_at,
        users.as_of_date

    from listens
    inner join users
        on listens.user_id = users.user_id
    left join tracks
        on listens.track_id = tracks.track_id

),

final as (

    select
        user_id,
        track_id,
        album_id,
        played_at,
        played_at_local,
        cast(played_at_local as date) as local_date,
        hour(played_at_local) as local_hour,
        isodow(played_at_local) as iso_weekday,
        ms_listened,
        loaded_at

    from localized
    where cast(played_at_local as date) <= as_of_date

)

select * from final
