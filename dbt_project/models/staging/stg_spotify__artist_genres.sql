with

source as (

    select * from {{ source('core', 'artist_genres') }}

),

renamed as (

    select
        artist_id,
        genre

    from source

)

select * from renamed
