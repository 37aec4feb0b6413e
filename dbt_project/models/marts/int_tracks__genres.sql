-- The distinct genres of each track's credited artists: a play counts once per genre here,
-- however many of the track's artists share it. Tracks whose artists have no genre have no row.

with

track_artists as (

    select * from {{ ref('stg_spotify__track_artists') }}

),

artist_genres as (

    select * from {{ ref('stg_spotify__artist_genres') }}

),

final as (

    select distinct
        track_artists.track_id,
        artist_genres.genre

    from track_artists
    inner join artist_genres
        on track_artists.artist_id = artist_genres.artist_id

)

select * from final
