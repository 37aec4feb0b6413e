with

source as (

    select * from {{ source('core', 'listens') }}

),

renamed as (

    select
        user_id,
        track_id,
        played_at,
        source as listen_source,
        ms_played,
        loaded_at

    from source

)

select * from renamed
