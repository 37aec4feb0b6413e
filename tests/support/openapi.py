"""Validate JSON bodies against Spotify's OpenAPI description (components only).

OpenAPI 3.0 schemas are almost JSON Schema; the differences handled here:
`nullable: true` becomes a `null` alternative, `#/components/...` refs point
into one `$defs` document, and vendor keys are dropped. Validation uses
JSON Schema 2020-12, where keywords beside `$ref` still apply.

Errata applied on top of Spotify's description, each matching what the real
API sends: `CursorPagingObject.next` and `.cursors` are null when there is
nothing more (the description says "`null` if none" but does not mark them
nullable), and `PlayHistoryObject.context` is null for a play outside any
album, artist or playlist.
"""

from __future__ import annotations

import copy
from functools import lru_cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml

SPEC_PATH = Path("/work/shared/spotify-openapi/fixed-spotify-open-api.yml")
_ERRATA_NULLABLE = {
    ("CursorPagingObject", "next"),
    ("CursorPagingObject", "cursors"),
    ("PlayHistoryObject", "context"),
}


def _convert(node: Any) -> Any:
    if isinstance(node, list):
        return [_convert(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if key.startswith("x-") or key in ("example", "examples", "deprecated", "discriminator", "xml"):
            continue
        if key == "$ref":
            out[key] = value.replace("#/components/schemas/", "#/$defs/schemas/").replace(
                "#/components/responses/", "#/$defs/responses/")
        else:
            out[key] = _convert(value)
    if out.pop("nullable", False):
        if isinstance(out.get("type"), str):
            out["type"] = [out["type"], "null"]
            if "enum" in out:
                out["enum"] = [*out["enum"], None]
        else:
            out = {"anyOf": [{"type": "null"}, out]}
    return out


@lru_cache(maxsize=1)
def _definitions() -> dict[str, Any]:
    spec = yaml.safe_load(SPEC_PATH.read_text())
    schemas = copy.deepcopy(spec["components"]["schemas"])
    for schema_name, prop in _ERRATA_NULLABLE:
        schemas[schema_name]["properties"][prop]["nullable"] = True
    responses = {}
    for name, response in spec["components"]["responses"].items():
        content = response.get("content", {}).get("application/json")
        if content:
            responses[name] = content["schema"]
    return {"schemas": _convert(schemas), "responses": _convert(responses)}


def schema_for(name: str) -> dict[str, Any]:
    """A self-contained JSON Schema for `components/schemas/<name>`, or for the
    JSON body of `components/responses/<name>` (e.g. "ManyTracks")."""
    defs = _definitions()
    section = "schemas" if name in defs["schemas"] else "responses"
    if name not in defs[section]:
        raise KeyError(f"{name} is neither a schema nor a response in the OpenAPI description")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema",
            "$ref": f"#/$defs/{section}/{name}", "$defs": defs}


def validate(body: Any, name: str) -> None:
    """Raise jsonschema.ValidationError when `body` does not fit `name`."""
    jsonschema.Draft202012Validator(schema_for(name)).validate(body)
