"""Constraint types: what a row's output must match. Plain pydantic data, importable without torch or a
grammar library, so a client or the server can build one and put it in `SamplingParams.constraint`.

```python
from llamasys.core_model.structured import JsonSchemaConstraint, RegexConstraint, constraint_from_response_format

c = JsonSchemaConstraint.of({"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]})
c = constraint_from_response_format({"type": "json_object"})              # OpenAI's response_format
c = RegexConstraint(pattern=r"(yes|no)")
```

Four kinds (the `type` field tells them apart, as OpenAI's `response_format` does):

- `json_schema`: JSON matching a JSON Schema (OpenAI: `{"type": "json_schema", "json_schema": {"name", "schema",
  "strict"}}`). The JSON is written compactly with `", "` and `": "` separators (no free whitespace, so a
  model cannot pad forever).
- `json_object`: any JSON object (OpenAI's JSON mode).
- `regex`: text matching a regular expression (Rust `regex` syntax: no look-around, no back-references).
- `grammar`: a context-free grammar, `syntax="lark"` (llguidance's Lark dialect: special tokens as
  `<|name|>`, JSON Schema as `%json {...}`, lazy lexemes) or `syntax="ebnf"` (llama.cpp GBNF).

Semantics: the row may only produce tokens the constraint allows; once the output is complete only the
tokenizer's stop tokens are allowed. A row whose constraint allows no token at all ends with
`StopReason.constraint_dead_end`.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from llamasys.core_model.errors import ModelError

__all__ = [
    "Constraint",
    "ConstraintError",
    "GrammarConstraint",
    "JsonObjectConstraint",
    "JsonSchemaConstraint",
    "JsonSchemaSpec",
    "RegexConstraint",
    "constraint_from_response_format",
    "constraint_key",
]


class ConstraintError(ModelError, ValueError):
    """A constraint the grammar engine cannot compile (the message names the unsupported keyword or the
    grammar error), or a response_format this module does not know."""


class JsonSchemaSpec(BaseModel):
    """OpenAI's `json_schema` object: `name`, optional `description`, the `schema`, `strict`."""

    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="forbid")

    name: str = "response"
    description: str | None = None
    schema_: dict[str, Any] = Field(alias="schema", description="the JSON Schema the output must match")
    strict: bool | None = None


class JsonSchemaConstraint(BaseModel):
    """JSON that validates against `json_schema.schema` (`{"type": "json_schema", "json_schema": {...}}`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: Literal["json_schema"] = "json_schema"
    json_schema: JsonSchemaSpec

    @classmethod
    def of(cls, schema: dict[str, Any], name: str = "response") -> JsonSchemaConstraint:
        """The constraint for a bare JSON Schema dict."""
        return cls(json_schema=JsonSchemaSpec(name=name, schema=schema))

    @property
    def schema_dict(self) -> dict[str, Any]:
        return self.json_schema.schema_


class JsonObjectConstraint(BaseModel):
    """Any JSON object (`{"type": "json_object"}`, OpenAI's JSON mode)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: Literal["json_object"] = "json_object"


class RegexConstraint(BaseModel):
    """Text that matches `pattern` as a whole (Rust regex syntax: no look-around, no back-references)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: Literal["regex"] = "regex"
    pattern: str = Field(min_length=1)


class GrammarConstraint(BaseModel):
    """Text derived from a grammar: Lark (llguidance dialect, `start:` rule) or EBNF (llama.cpp GBNF)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: Literal["grammar"] = "grammar"
    grammar: str = Field(min_length=1)
    syntax: Literal["lark", "ebnf"] = "lark"
    description: str = Field("", description="what the grammar is for (shown in errors and logs)")


Constraint = Annotated[
    JsonSchemaConstraint | JsonObjectConstraint | RegexConstraint | GrammarConstraint,
    Field(discriminator="type"),
]
_CONSTRAINT = TypeAdapter(Constraint)


def constraint_from_response_format(response_format: dict[str, Any] | BaseModel | None) -> Constraint | None:
    """OpenAI's `response_format` as a constraint: `{"type": "text"}` / None -> None,
    `{"type": "json_object"}`, `{"type": "json_schema", "json_schema": {"name", "schema", ...}}`;
    also `regex` and `grammar` in this module's own spelling. Raises `ConstraintError` for anything else."""
    if response_format is None:
        return None
    if isinstance(response_format, BaseModel):
        if isinstance(response_format, JsonSchemaConstraint | JsonObjectConstraint | RegexConstraint):
            return response_format
        if isinstance(response_format, GrammarConstraint):
            return response_format
        response_format = response_format.model_dump(by_alias=True)
    kind = response_format.get("type") if isinstance(response_format, dict) else None
    if kind == "text":
        return None
    if kind not in ("json_schema", "json_object", "regex", "grammar"):
        raise ConstraintError(
            f"unknown response_format type {kind!r}: use 'text', 'json_object', 'json_schema', 'regex' or 'grammar'"
        )
    try:
        return _CONSTRAINT.validate_python(response_format)
    except ValueError as exc:
        raise ConstraintError(f"invalid response_format: {exc}") from None


def constraint_key(constraint: Constraint) -> str:
    """A canonical string for `constraint` (sorted keys): equal constraints share one compiled grammar."""
    return json.dumps(
        constraint.model_dump(mode="json", by_alias=True), sort_keys=True, separators=(",", ":")
    )
