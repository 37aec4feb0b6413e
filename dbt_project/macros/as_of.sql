{#-
  The as-of date of a build for one user, as a SQL expression.
  Set (the var `as_of` by hand, else the environment variable LISTORY_REPORTS_AS_OF that
  `listory reports build` and the Dagster asset set): that date for every user. Unset or
  empty: the user's local date when the build started (run_started_at is UTC), so presets
  roll over at each user's midnight.

  The environment is read only when the node runs (`execute`), never while dbt parses: dbt's
  partial parsing then does not track the variable, and a new as-of date re-parses nothing
  (a changed `--vars` would make dbt re-parse the whole project).
-#}
{% macro as_of_date(timezone_column) -%}
    {%- set as_of = var('as_of', none) or (env_var('LISTORY_REPORTS_AS_OF', '') if execute else '') -%}
    {%- if as_of -%}
        {%- if not modules.re.fullmatch('[0-9]{4}-[0-9]{2}-[0-9]{2}', as_of | string) -%}
            {{ exceptions.raise_compiler_error("as-of date must be YYYY-MM-DD, got '" ~ as_of ~ "'") }}
        {%- endif -%}
        cast('{{ as_of }}' as date)
    {%- else -%}
        cast(timezone({{ timezone_column }}, cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S") }}+00' as timestamptz)) as date)
    {%- endif -%}
{%- endmacro %}

{#-
  The time zone of users core.users does not know (LISTORY_DEFAULT_TIMEZONE, UTC unless set),
  read when the node runs, for the same reason as above.
-#}
{% macro default_timezone() -%}
    {%- set tz = var('default_timezone', none) or (env_var('LISTORY_DEFAULT_TIMEZONE', '') if execute else '') or 'UTC' -%}
    {%- if not modules.re.fullmatch('[A-Za-z0-9_+/-]+', tz) -%}
        {{ exceptions.raise_compiler_error("default time zone must be an IANA name, got '" ~ tz ~ "'") }}
    {%- endif -%}
    {{ return(tz) }}
{%- endmacro %}
