"""Plain message and tool types shared by the whole system.

These are data, not behaviour: the chat format turns them into tokens and back, the tools package
describes itself with `ToolDefinition`, the orchestrator stores them. Everything is a pydantic v2 model,
so every value here is JSON-serialisable.

    ```python
    from llamasys.core_model.messages import UserMessage, AssistantMessage, ToolCall
    UserMessage(content="What is 2+2?")
    AssistantMessage(content="", tool_calls=[ToolCall(tool_name="brave_search", arguments={"query": "x"})])
    ```
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from enum import Enum
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, Field, TypeAdapter, field_validator


class StopReason(str, Enum):
    """Why a completion ended: `<|eot_id|>`, `<|eom_id|>` (a tool call waits for its result), or the budget."""

    end_of_turn = "end_of_turn"
    end_of_message = "end_of_message"
    out_of_tokens = "out_of_tokens"
    # The row's constraint (SamplingParams.constraint) allowed no token: the output so far is kept.
    constraint_dead_end = "constraint_dead_end"


class BuiltinTool(str, Enum):
    """Tools Llama 3.1 was trained to call with their own syntax (`name.call(query=...)`, raw code)."""

    brave_search = "brave_search"
    wolfram_alpha = "wolfram_alpha"
    code_interpreter = "code_interpreter"


def new_call_id() -> str:
    return uuid.uuid4().hex[:12]


def valid_unicode(text: str) -> str:
    """`text` as valid Unicode: surrogate pairs (e.g. from a JSON or Python `\\ud83c\\udf78` escape) become
    the one character they encode; lone surrogates (e.g. undecodable bytes of a file name, which Python
    carries as U+DC80–U+DCFF) become U+FFFD. Valid text is returned as is. Tokenizers, JSON encoders and
    databases reject lone surrogates, so every message and tool-call text passes through this."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return text


def valid_unicode_values(value: Any) -> Any:
    """`valid_unicode` applied to every string (keys included) of a JSON-like value."""
    if isinstance(value, str):
        return valid_unicode(value)
    if isinstance(value, dict):
        return {valid_unicode_values(k): valid_unicode_values(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(valid_unicode_values(v) for v in value)
    return value


UnicodeText = Annotated[str, AfterValidator(valid_unicode)]


class ToolCall(BaseModel):
    """One call the model asked for. `arguments` are JSON values keyed by parameter name."""

    call_id: str = Field(default_factory=new_call_id)
    tool_name: str
    arguments: dict[str, Any] = Field(default_factory=dict)

    @field_validator("arguments", mode="after")
    @classmethod
    def _valid_unicode(cls, value: dict[str, Any]) -> dict[str, Any]:
        return valid_unicode_values(value)  # type: ignore[no-any-return]


class ToolDefinition(BaseModel):
    """What the model is told about a tool: its name, what it does, and a JSON Schema for its arguments."""

    name: str
    description: str = ""
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})


class SystemMessage(BaseModel):
    role: Literal["system"] = "system"
    content: UnicodeText


class UserMessage(BaseModel):
    role: Literal["user"] = "user"
    content: UnicodeText
    # Retrieved passages; the Llama chat format appends them to the content as "\n\n" + context.
    context: UnicodeText | None = None


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: UnicodeText = ""
    tool_calls: list[ToolCall] = Field(default_factory=list)
    stop_reason: StopReason = StopReason.end_of_turn
    # Why text that looked like a tool call was kept as plain text (truncated JSON, an argument that is
    # not a JSON value, ...). Filled by the chat format's decoder, which never raises on model output.
    parse_errors: list[str] = Field(default_factory=list)


class ToolResponseMessage(BaseModel):
    """A tool's result fed back to the model (rendered with the `ipython` role in Llama 3.1)."""

    role: Literal["tool"] = "tool"
    call_id: str
    tool_name: str
    content: UnicodeText


Message = Annotated[
    SystemMessage | UserMessage | AssistantMessage | ToolResponseMessage,
    Field(discriminator="role"),
]
_MESSAGES = TypeAdapter(list[Message])


def to_messages(messages: Sequence[Message | dict[str, Any]]) -> list[Message]:
    """Validate messages given as pydantic models or plain dicts (`{"role": "user", "content": ...}`)."""
    if all(
        isinstance(m, SystemMessage | UserMessage | AssistantMessage | ToolResponseMessage) for m in messages
    ):
        return list(messages)  # type: ignore[arg-type]
    return _MESSAGES.validate_python([m if isinstance(m, dict) else m.model_dump() for m in messages])


__all__ = [
    "AssistantMessage",
    "BuiltinTool",
    "Message",
    "StopReason",
    "SystemMessage",
    "ToolCall",
    "ToolDefinition",
    "ToolResponseMessage",
    "UnicodeText",
    "UserMessage",
    "new_call_id",
    "to_messages",
    "valid_unicode",
    "valid_unicode_values",
]
