{#-
  The shared tail of every top list. `totals` is a CTE with one row per user_id, time_preset,
  period ('current'|'previous'), entity: listen_count, ms_listened, period_start, period_end,
  the id and name columns. Emits the CTEs `ranked`, `current_period`, `previous_period` and
  `final`: the full ranking of the current period by listen count, ties broken by name then
  id, and rank_change = previous rank - rank (null when not ranked in the previous period,
  always null for all_time, which has no previous period).
-#}
{% macro top_list_ctes(totals, id_column, name_column) -%}
ranked as (

    select
        *,
        row_number() over (
            partition by user_id, time_preset, period
            order by listen_count desc, {{ name_column }} asc nulls last, {{ id_column }} asc
        ) as rank

    from {{ totals }}

),

current_period as (

    select * from ranked where period = 'current'

),

previous_period as (

    select * from ranked where period = 'previous'

),

final as (

    select
        current_period.user_id,
        current_period.time_preset,
        current_period.rank,
        current_period.{{ id_column }},
        {%- if name_column != id_column %}
        current_period.{{ name_column }},
        {%- endif %}
        current_period.listen_count,
        current_period.ms_listened / 60000.0 as minutes_listened,
        previous_period.rank - current_period.rank as rank_change,
        current_period.period_start,
        current_period.period_end

    from current_period
    left join previous_period
        on current_period.user_id = previous_period.user_id
        and current_period.time_preset = previous_period.time_preset
        and current_period.{{ id_column }} = previous_period.{{ id_column }}

)
{%- endmacro %}
