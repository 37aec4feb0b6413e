"""How dbt nodes become Dagster assets: keys from schema and relation name, groups from folders.

Rules by resource type and folder, never by model name:
- a source is the crawl location's asset `[schema, table]`, e.g. `core/listens`, so the
  lineage crawl → core → staging → marts → reports is one graph across both code locations;
- a model is `[schema, alias]`: `staging/stg_spotify__listens`, `marts/int_…`, and for
  models/reports the table name of the public contract, `reports/top_artists`;
- the group is the model's folder under models/ (staging, marts, reports).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dagster import AssetKey
from dagster_dbt import DagsterDbtTranslator


def model_folder(dbt_resource_props: Mapping[str, Any]) -> str | None:
    """`reports` for models/reports/rpt_top_artists.sql (fqn: [project, folder, …, name])."""
    fqn = dbt_resource_props.get("fqn") or []
    return fqn[1] if len(fqn) > 2 else None


class ListoryDbtTranslator(DagsterDbtTranslator):
    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return AssetKey([dbt_resource_props["schema"], dbt_resource_props["name"]])
        relation = dbt_resource_props.get("alias") or dbt_resource_props["name"]
        return AssetKey([dbt_resource_props["schema"], relation])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props["resource_type"] == "source":
            return None
        return model_folder(dbt_resource_props)
