with

source as (

    select * from {{ source('core', 'users') }}

),

renamed as (

    select
        user_id,
        display_name,
        timezone,
        status as user_status

    from source

)

select * from renamed
