with

source as (

    select * from {{ source('core', 'track_artists') }}

),

renamed as (

    select
        track_id,
        artist_id,
        position as credit_position

    from source

)

select * from renamed
