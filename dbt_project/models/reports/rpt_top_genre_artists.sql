{{ config(alias='top_genre_artists') }}

with

artist_totals as (

    -- the current period's full artist ranking: listens per credited artist
    select * from {{ ref('rpt_top_artists') }}

),

artist_genres as (

    select * from {{ ref('stg_spotify__artist_genres') }}

),

totals as (

    -- a play counts for (genre, artist) when that credited artist has that genre, so the
    -- (genre, artist) count is the artist's count, for each of the artist's genres
    select
        artist_totals.user_id,
        artist_totals.time_preset,
        artist_totals.period_start,
        artist_totals.period_end,
        artist_genres.genre,
        artist_totals.artist_id,
        artist_totals.artist_name,
        artist_totals.listen_count,
        artist_totals.minutes_listened

    from artist_totals
    inner join artist_genres
        on artist_totals.artist_id = artist_genres.artist_id

),

ranked as (

    select
        *,
        row_number() over (
            partition by user_id, time_preset, genre
            order by listen_count desc, artist_name asc nulls last, artist_id asc
        ) as rank

    from totals

),

final as (

    select
        user_id,
        time_preset,
        genre,
        rank,
        artist_id,
        artist_name,
        listen_count,
        minutes_listened,
        period_start,
        period_end

    from ranked
    where rank <= 5

)

select * from final
