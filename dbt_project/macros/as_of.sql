{#-
  The as-of date of a build for one user, as a SQL expression.
  var('as_of') set: that date for every user. Unset: the user's local date when the
  build started (run_started_at is UTC), so presets roll over at each user's midnight.
-#}
{% macro as_of_date(timezone_column) -%}
    {%- set as_of = var('as_of', none) -%}
    {%- if as_of -%}
        cast('{{ as_of }}' as date)
    {%- else -%}
        cast(timezone({{ timezone_column }}, cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S") }}+00' as timestamptz)) as date)
    {%- endif -%}
{%- endmacro %}
