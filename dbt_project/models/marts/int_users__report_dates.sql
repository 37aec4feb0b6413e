-- Every user the reports know of: registered users plus anyone with listens (time zone
-- `default_timezone`, UTC unless set, when core.users has no row), with the as-of date.

with

users as (

    select * from {{ ref('stg_listory__users') }}

),

listeners as (

    select distinct user_id from {{ ref('stg_spotify__listens') }}

),

known as (

    select
        coalesce(users.user_id, listeners.user_id) as user_id,
        coalesce(users.timezone, '{{ default_timezone() }}') as timezone

    from users
    full outer join listeners
        on users.user_id = listeners.user_id

),

final as (

    select
        user_id,
        timezone,
        {{ as_of_date('timezone') }} as as_of_date

    from known

)

select * from final
