-- Plays and listened milliseconds per track within every preset window (current and
-- previous). Every top list aggregates from here: artists via track credits, albums via the
-- track's album, genres via the track's distinct genres.

with

listens as (

    select * from {{ ref('int_listens__localized') }}

),

windows as (

    select * from {{ ref('int_report_windows') }}

),

final as (

    select
        windows.user_id,
        windows.time_preset,
        windows.period,
        windows.period_start,
        windows.period_end,
        listens.track_id,
        listens.album_id,
        count(*) as listen_count,
        sum(listens.ms_listened) as ms_listened

    from listens
    inner join windows
        on listens.user_id = windows.user_id
        and listens.local_date between windows.period_start and windows.period_end
    group by all

)

select * from final
