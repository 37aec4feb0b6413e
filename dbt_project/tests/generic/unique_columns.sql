{#- A composite key is unique: no combination of `columns` occurs twice (no packages needed). -#}
{% test unique_columns(model, columns) %}

select
    {{ columns | join(', ') }},
    count(*) as occurrences

from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1

{% endtest %}
