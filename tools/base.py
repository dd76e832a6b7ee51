"""The tool contract every tool in llamasys keeps.

A tool is a name, a description, a pydantic model of its arguments (which gives the JSON Schema the
model sees) and an async `call`. `Tool.run(**arguments)` is the one entry point callers use: it
validates the arguments, applies the per-tool timeout and turns every failure into an error
`ToolResult` with a message the model can act on. `run` never raises for a bad call.

    class Echo(Tool):
        name = "echo"
        description = "Repeat the text back."

        class Arguments(BaseModel):
            text: str

        async def call(self, text: str) -> ToolResult:
            return ToolResult(content=text)

    result = await Echo().run(text="hi")      # ToolResult(content="hi")
    Echo().definition                         # ToolDefinition(name="echo", parameters={JSON Schema})

Functions decorated with `@tool` (llamasys.tools.decorator) are built on this same class.
`JSONSchemaTool` is the variant for tools whose arguments arrive as a ready JSON Schema (MCP servers,
some LangChain tools): it validates with `jsonschema` instead of pydantic.

`compact_schema` is what `definition` applies to every schema: `$ref`s into `$defs` are inlined (kept
only for recursive models) and pydantic's auto-generated `title`s are dropped, so the model reads a
short, self-contained schema.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import enum
import json
import logging
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_serializer, field_validator

from llamasys.core_model.messages import ToolDefinition, UnicodeText, valid_unicode_values

log = logging.getLogger(__name__)


class ToolError(Exception):
    """Base of the tools package's exceptions (registry lookups, plugin loading, configuration)."""


class Attachment(BaseModel):
    """A file produced by a tool for the user (a PNG plot, a CSV the code wrote...)."""

    name: UnicodeText  # a file name the code wrote may hold undecodable bytes: they become U+FFFD
    mime_type: str = "application/octet-stream"
    data: bytes

    @field_serializer("data")
    def _data_as_base64(self, data: bytes) -> str:
        return base64.b64encode(data).decode("ascii")

    @field_validator("data", mode="before")
    @classmethod
    def _data_from_base64(cls, value: Any) -> Any:
        if isinstance(value, str):
            return base64.b64decode(value)
        return value


class ToolResult(BaseModel):
    """What a tool returns: text for the model, attachments for the user, metadata, an error flag."""

    # Always valid Unicode (lone surrogates, e.g. from a file name printed by code, become U+FFFD):
    # the result goes into the next prompt, and tokenizers reject what is not.
    content: UnicodeText
    attachments: list[Attachment] = Field(default_factory=list)
    metadata: dict[str, Any] = Field(default_factory=dict)
    error: bool = False

    @field_validator("metadata", mode="after")
    @classmethod
    def _valid_unicode(cls, value: dict[str, Any]) -> dict[str, Any]:
        return valid_unicode_values(value)  # type: ignore[no-any-return]

    @classmethod
    def failure(cls, message: str, **metadata: Any) -> ToolResult:
        return cls(content=message, error=True, metadata=metadata)

    @classmethod
    def from_value(cls, value: Any) -> ToolResult:
        """A tool's return value as a result: a ToolResult as is, a str as content, the rest as JSON."""
        if isinstance(value, ToolResult):
            return value
        if isinstance(value, str):
            return cls(content=value)
        return cls(content=to_json_text(value))


def to_json_text(value: Any) -> str:
    """Compact JSON for a tool's return value (pydantic models, dataclasses, sets and the like)."""
    return json.dumps(value, ensure_ascii=False, default=_json_default)


def _json_default(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, enum.Enum):
        return value.value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    return str(value)


class _NoArguments(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Tool:
    """Subclass, set `name`, `description`, an `Arguments` pydantic model, and implement `call`."""

    name: str = ""
    description: str = ""
    Arguments: type[BaseModel] = _NoArguments
    timeout: float | None = 60.0

    @property
    def definition(self) -> ToolDefinition:
        return ToolDefinition(
            name=self.name,
            description=self.description,
            parameters=compact_schema(self.Arguments.model_json_schema()),
        )

    async def call(self, /, **arguments: Any) -> ToolResult | str | Any:
        raise NotImplementedError(f"{type(self).__name__} must implement `async def call(...)`")

    async def run(self, /, **arguments: Any) -> ToolResult:
        """Validate, run with the timeout, and report every failure as an error result."""
        try:
            parsed = self.Arguments.model_validate(arguments)
        except ValidationError as exc:
            return _invalid_arguments(self.name, [(err["loc"], err["msg"]) for err in exc.errors()])
        values = {key: getattr(parsed, key) for key in type(parsed).model_fields}
        return await self._execute(values)

    async def _execute(self, values: dict[str, Any]) -> ToolResult:
        """Run `call(**values)` under the timeout; exceptions and bad return values become results."""
        deadline = asyncio.timeout(self.timeout)
        try:
            async with deadline:
                result = await self.call(**values)
        except TimeoutError as exc:
            if deadline.expired():
                return ToolResult.failure(
                    f"{self.name} did not finish within {self.timeout:g} s; try a smaller request.",
                    kind="timeout",
                )
            log.warning("tool %s raised", self.name, exc_info=True)  # the tool's own TimeoutError
            return ToolResult.failure(f"{self.name} failed: TimeoutError: {exc}", kind="exception")
        except Exception as exc:  # a tool's own bug must reach the model as a result, not crash the turn
            log.warning("tool %s raised", self.name, exc_info=True)
            return ToolResult.failure(f"{self.name} failed: {type(exc).__name__}: {exc}", kind="exception")
        try:
            return ToolResult.from_value(result)
        except (TypeError, ValueError) as exc:
            return ToolResult.failure(
                f"{self.name} returned a value that cannot be shown to the model: {exc}", kind="bad_result"
            )

    async def close(self) -> None:
        """Release what the tool holds (processes, connections). Safe to call twice."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"


class _AnyArguments(BaseModel):
    model_config = ConfigDict(extra="allow")


class JSONSchemaTool(Tool):
    """A tool described by a raw JSON Schema; arguments are checked with `jsonschema` before `call`.

    Subclasses (or callers) give `name`, `description` and `parameters` and implement `call(**arguments)`.
    """

    Arguments = _AnyArguments

    def __init__(
        self, name: str, description: str, parameters: dict[str, Any] | None, *, timeout: float | None = 60.0
    ) -> None:
        self.name = name
        self.description = description
        self.parameters = _object_schema(parameters)
        self.timeout = timeout
        self._validator = _make_validator(self.parameters, name)

    @property
    def definition(self) -> ToolDefinition:
        return ToolDefinition(
            name=self.name, description=self.description, parameters=compact_schema(self.parameters)
        )

    async def run(self, /, **arguments: Any) -> ToolResult:
        if self._validator is not None:
            problems = sorted(self._validator.iter_errors(arguments), key=lambda e: list(e.absolute_path))
            if problems:
                return _invalid_arguments(self.name, [(err.absolute_path, err.message) for err in problems])
        return await self._execute(arguments)


def _object_schema(parameters: dict[str, Any] | None) -> dict[str, Any]:
    schema = dict(parameters or {})
    schema.setdefault("type", "object")
    if schema["type"] == "object":
        schema.setdefault("properties", {})
    return schema


def _make_validator(schema: dict[str, Any], tool_name: str) -> Any:
    import jsonschema

    try:
        cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
        cls.check_schema(schema)
    except jsonschema.SchemaError as exc:
        log.warning(
            "tool %s has an invalid JSON Schema (%s); its arguments are not checked", tool_name, exc.message
        )
        return None
    return cls(schema)


def _invalid_arguments(tool_name: str, problems: list[tuple[Iterable[Any], str]]) -> ToolResult:
    """The error result for arguments that failed validation: each problem as `path.to.field: message`."""
    described = "; ".join(
        f"{'.'.join(str(p) for p in path) or '(arguments)'}: {message}" for path, message in problems
    )
    return ToolResult.failure(
        f"Invalid arguments for {tool_name}: {described}. Fix the arguments and call again.",
        kind="invalid_arguments",
    )


# Keys whose values are data, not sub-schemas: never rewrite inside them.
_DATA_KEYS = frozenset({"default", "const", "enum", "examples", "example"})
# Keys whose values map names to sub-schemas: the names themselves are never schema keywords.
_MAPPING_KEYS = frozenset({"properties", "patternProperties", "$defs", "definitions", "dependentSchemas"})


def compact_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """Inline `#/$defs/...` references (recursive ones stay) and drop auto-generated `title`s."""
    defs: dict[str, Any] = schema.get("$defs", {}) or {}
    unresolved: set[str] = set()

    def walk(node: Any, expanding: frozenset[str]) -> Any:
        if isinstance(node, list):
            return [walk(item, expanding) for item in node]
        if not isinstance(node, dict):
            return node
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            target = ref.removeprefix("#/$defs/")
            if target in defs and target not in expanding:
                inlined = walk(defs[target], expanding | {target})
                siblings = {k: walk(v, expanding) for k, v in node.items() if k not in ("$ref", "title")}
                return {**inlined, **siblings}
            unresolved.add(target)
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key == "title" and isinstance(value, str) or key == "$defs":
                continue
            if key in _DATA_KEYS:
                out[key] = value
            elif key in _MAPPING_KEYS and isinstance(value, dict):
                out[key] = {name: walk(sub, expanding) for name, sub in value.items()}
            else:
                out[key] = walk(value, expanding)
        return out

    compact = walk(schema, frozenset())
    if unresolved:  # recursive models: keep the definitions they point at
        compact["$defs"] = {name: walk(sub, frozenset({name})) for name, sub in defs.items()}
    return compact
