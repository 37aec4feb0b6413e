{{ config(alias='listening_clock') }}

-- Listens by ISO weekday (Monday = 1) and local hour (0-23) per preset: all 168 cells for
-- every user with listens and every preset, zero-filled.

with

listens as (

    select * from {{ ref('int_listens__localized') }}

),

windows as (

    select * from {{ ref('int_report_windows') }}
    where period = 'current'

),

cells as (

    select
        weekdays.iso_weekday,
        hours.local_hour

    from range(1, 8) as weekdays (iso_weekday)
    cross join range(0, 24) as hours (local_hour)

),

grid as (

    select
        windows.user_id,
        windows.time_preset,
        windows.period_start,
        windows.period_end,
        cast(cells.iso_weekday as integer) as iso_weekday,
        cast(cells.local_hour as integer) as local_hour

    from windows
    cross join cells

),

counts as (

    select
        windows.user_id,
        windows.time_preset,
        listens.iso_weekday,
        listens.local_hour,
        count(*) as listen_count,
        sum(listens.ms_listened) as ms_listened

    from listens
    inner join windows
        on listens.user_id = windows.user_id
        and listens.local_date between windows.period_start and windows.period_end
    group by all

),

final as (

    select
        grid.user_id,
        grid.time_preset,
        grid.iso_weekday,
        grid.local_hour,
        coalesce(counts.listen_count, 0) as listen_count,
        coalesce(counts.ms_listened, 0) / 60000.0 as minutes_listened,
        grid.period_start,
        grid.period_end

    from grid
    left join counts
        on grid.user_id = counts.user_id
        and grid.time_preset = counts.time_preset
        and grid.iso_weekday = counts.iso_weekday
        and grid.local_hour = counts.local_hour

)

select * from final
