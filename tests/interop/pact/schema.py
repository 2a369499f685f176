"""PACT's ProductFootprint schema, derived at test time from the OpenAPI documents in the
shared conformance folder (read where they are, never copied): ``components.schemas``
become ``$defs`` and each reference is rewritten to point there, as PACT's own tooling
does; validation is JSON Schema 2020-12 with formats (uuid, date-time, uri) checked."""

from __future__ import annotations

import json
import os
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]


def conformance_dir() -> Path | None:
    candidates = [os.environ.get("STEWARDSHIP_PACT_CONFORMANCE", ""),
                  str(ROOT.parent / "shared" / "conformance" / "pact"),
                  "/work/shared/conformance/pact"]
    for candidate in candidates:
        if candidate and (Path(candidate) / "v3" / "openapi_v3_0.yaml").is_file():
            return Path(candidate)
    return None


CONFORMANCE = conformance_dir()
needs_conformance = pytest.mark.skipif(
    CONFORMANCE is None, reason="PACT's conformance files (shared/conformance/pact) are not "
    "beside this checkout; set STEWARDSHIP_PACT_CONFORMANCE to their folder")

OPENAPI = {"3": "v3/openapi_v3_0.yaml", "2.0": "v2/openapi_v2_0.yaml",
           "2.2": "v2/openapi_v2_2.yaml", "2.3": "v2/openapi_v2_3.yaml"}


def _rewrite(node: Any) -> Any:
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                out[key] = value.replace("#/components/schemas/", "#/$defs/")
            elif not key.startswith("x-"):
                out[key] = _rewrite(value)
        return out
    if isinstance(node, list):
        return [_rewrite(v) for v in node]
    return node


@cache
def _defs(version: str) -> dict[str, Any]:
    assert CONFORMANCE is not None
    document = yaml.safe_load((CONFORMANCE / OPENAPI[version]).read_text("utf-8"))
    return _rewrite(document["components"]["schemas"])


@cache
def validator(version: str, name: str, *, wrap: str = "") -> Any:
    """A validator of the schema ``name`` ("ProductFootprint", "RequestFulfilledEvent", ...);
    ``wrap`` "one" for ``{"data": X}``, "list" for ``{"data": [X, ...]}``."""
    target: dict[str, Any] = {"$ref": f"#/$defs/{name}"}
    if wrap == "one":
        target = {"type": "object", "required": ["data"], "properties": {"data": target}}
    elif wrap == "list":
        target = {"type": "object", "required": ["data"],
                  "properties": {"data": {"type": "array", "items": target}}}
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", **target,
              "$defs": _defs(version)}
    return jsonschema_rs.Draft202012Validator(schema, validate_formats=True)


def problems(version: str, name: str, instance: Any, *, wrap: str = "") -> list[str]:
    return [f"{'/'.join(str(p) for p in e.instance_path)}: {e.message}"
            for e in validator(version, name, wrap=wrap).iter_errors(instance)]


def example(path: str) -> Any:
    assert CONFORMANCE is not None
    return json.loads((CONFORMANCE / path).read_text("utf-8"))
