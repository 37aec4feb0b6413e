{{ config(alias='listens_report') }}

-- Listens over time, set-based: one generate_series per user and timeframe spans the buckets
-- from the bucket of the first local listen to the bucket of the as-of date; daily totals are
-- grouped into buckets and joined on, every other bucket is zero. Never a loop over buckets.

with

listens as (

    select * from {{ ref('int_listens__localized') }}

),

users as (

    select * from {{ ref('int_users__report_dates') }}

),

timeframes as (

    select * from (
        values
            ('day', interval 1 day),
            ('week', interval 7 day),
            ('month', interval 1 month),
            ('year', interval 1 year)
    ) as timeframes (timeframe, step)

),

daily as (

    select
        user_id,
        local_date,
        count(*) as listen_count,
        sum(ms_listened) as ms_listened

    from listens
    group by all

),

spans as (

    select
        daily.user_id,
        min(daily.local_date) as first_local_date,
        any_value(users.as_of_date) as as_of_date

    from daily
    inner join users
        on daily.user_id = users.user_id
    group by daily.user_id

),

buckets as (

    -- date_trunc('week', …) is the ISO week's Monday
    select
        spans.user_id,
        timeframes.timeframe,
        cast(unnest(generate_series(
            cast(date_trunc(timeframes.timeframe, spans.first_local_date) as timestamp),
            cast(date_trunc(timeframes.timeframe, spans.as_of_date) as timestamp),
            timeframes.step
        )) as date) as period_start

    from spans
    cross join timeframes

),

bucket_totals as (

    select
        daily.user_id,
        timeframes.timeframe,
        cast(date_trunc(timeframes.timeframe, daily.local_date) as date) as period_start,
        cast(sum(daily.listen_count) as bigint) as listen_count,
        cast(sum(daily.ms_listened) as bigint) as ms_listened

    from daily
    cross join timeframes
    group by all

),

final as (

    select
        buckets.user_id,
        buckets.timeframe,
        buckets.period_start,
        coalesce(bucket_totals.listen_count, 0) as listen_count,
        coalesce(bucket_totals.ms_listened, 0) / 60000.0 as minutes_listened

    from buckets
    left join bucket_totals
        on buckets.user_id = bucket_totals.user_id
        and buckets.timeframe = bucket_totals.timeframe
        and buckets.period_start = bucket_totals.period_start

)

select * from final
