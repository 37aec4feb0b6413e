with

source as (

    select * from {{ source('core', 'tracks') }}

),

renamed as (

    select
        track_id,
        name as track_name,
        duration_ms,
        album_id

    from source

)

select * from renamed
