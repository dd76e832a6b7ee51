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

Functions decorated with `@tool` (llamasys.tools.decorator) are built on this same class.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_serializer, field_validator

from llamasys.core_model.messages import ToolDefinition

log = logging.getLogger(__name__)


class ToolError(Exception):
    """Base of the tools package's exceptions (registry lookups, plugin loading, configuration)."""


class Attachment(BaseModel):
    """A file produced by a tool for the user (a PNG plot, a CSV the code wrote...)."""

    name: str
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

    content: str
    attachments: list[Attachment] = Field(default_factory=list)
    metadata: dict[str, Any] = Field(default_factory=dict)
    error: bool = False

    @classmethod
    def failure(cls, message: str, **metadata: Any) -> ToolResult:
        return cls(content=message, error=True, metadata=metadata)


class _NoArguments(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Tool:
    """Subclass, set `name`, `description`, an `Arguments` pydantic model, and implement `call`."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    Arguments: ClassVar[type[BaseModel]] = _NoArguments
    timeout: float | None = 60.0

    @property
    def definition(self) -> ToolDefinition:
        schema = self.Arguments.model_json_schema()
        schema.pop("title", None)
        return ToolDefinition(name=self.name, description=self.description, parameters=schema)

    async def call(self, **arguments: Any) -> ToolResult | str:
        raise NotImplementedError(f"{type(self).__name__} must implement `async def call(...)`")

    async def run(self, **arguments: Any) -> ToolResult:
        """Validate, run with the timeout, and report every failure as an error result."""
        try:
            parsed = self.Arguments.model_validate(arguments)
        except ValidationError as exc:
            return ToolResult.failure(_describe_validation_error(self.name, exc), kind="invalid_arguments")
        values = {key: getattr(parsed, key) for key in type(parsed).model_fields}
        try:
            result = await asyncio.wait_for(self.call(**values), timeout=self.timeout)
        except TimeoutError:
            return ToolResult.failure(
                f"{self.name} did not finish within {self.timeout:g} s; try a smaller request.", kind="timeout"
            )
        except Exception as exc:  # a tool's own bug must reach the model as a result, not crash the turn
            log.warning("tool %s raised", self.name, exc_info=True)
            return ToolResult.failure(f"{self.name} failed: {type(exc).__name__}: {exc}", kind="exception")
        return result if isinstance(result, ToolResult) else ToolResult(content=str(result))

    async def close(self) -> None:
        """Release what the tool holds (processes, connections). Safe to call twice."""


def _describe_validation_error(tool_name: str, exc: ValidationError) -> str:
    problems = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "(arguments)"
        problems.append(f"{where}: {err['msg']}")
    return f"Invalid arguments for {tool_name}: " + "; ".join(problems) + ". Fix the arguments and call again."
