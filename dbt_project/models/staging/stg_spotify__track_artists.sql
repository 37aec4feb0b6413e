-- A track's credited artists. Tracks imported from the export and not resolved yet have no
-- credits in core.track_artists: they count for the artist the export names (a real artist of
-- that unique name, or a stand-in by name), so reports show the past before Spotify is asked.

with

source as (

    select * from {{ source('core', 'track_artists') }}

),

provisional as (

    select * from {{ source('core', 'provisional_credits') }}

),

credits as (

    select
        track_id,
        artist_id,
        position as credit_position,
        false as is_provisional

    from source

),

provisional_credits as (

    select
        provisional.track_id,
        provisional.artist_id,
        0 as credit_position,
        true as is_provisional

    from provisional
    where not exists (select 1 from source where source.track_id = provisional.track_id)

),

final as (

    select * from credits
    union all
    select * from provisional_credits

)

select * from final
