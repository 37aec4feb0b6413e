-- The date ranges every preset covers for each user with listens: the N local calendar days
-- ending on the as-of date ('current') and the N days just before ('previous', for
-- rank_change). all_time runs from the first local listen date and has no previous period.

with

users as (

    select * from {{ ref('int_users__report_dates') }}

),

first_listens as (

    select
        user_id,
        min(local_date) as first_local_date

    from {{ ref('int_listens__localized') }}
    group by user_id

),

presets as (

    select * from (
        values
            ('last_7_days', 7),
            ('last_30_days', 30),
            ('last_90_days', 90),
            ('last_180_days', 180),
            ('last_365_days', 365)
    ) as presets (time_preset, days)

),

listeners as (

    select
        users.user_id,
        users.as_of_date,
        first_listens.first_local_date

    from users
    inner join first_listens
        on users.user_id = first_listens.user_id

),

rolling_current as (

    select
        listeners.user_id,
        presets.time_preset,
        'current' as period,
        listeners.as_of_date - (presets.days - 1) as period_start,
        listeners.as_of_date as period_end

    from listeners
    cross join presets

),

rolling_previous as (

    select
        listeners.user_id,
        presets.time_preset,
        'previous' as period,
        listeners.as_of_date - (2 * presets.days - 1) as period_start,
        listeners.as_of_date - presets.days as period_end

    from listeners
    cross join presets

),

all_time as (

    select
        user_id,
        'all_time' as time_preset,
        'current' as period,
        first_local_date as period_start,
        as_of_date as period_end

    from listeners

),

final as (

    select * from rolling_current
    union all
    select * from rolling_previous
    union all
    select * from all_time

)

select
    user_id,
    time_preset,
    period,
    cast(period_start as date) as period_start,
    cast(period_end as date) as period_end

from final
