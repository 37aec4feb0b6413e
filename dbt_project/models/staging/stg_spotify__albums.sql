with

source as (

    select * from {{ source('core', 'albums') }}

),

renamed as (

    select
        album_id,
        name as album_name

    from source

)

select * from renamed
