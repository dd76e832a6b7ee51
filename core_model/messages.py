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

from pydantic import BaseModel, Field, TypeAdapter


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


class ToolCall(BaseModel):
    """One call the model asked for. `arguments` are JSON values keyed by parameter name."""

    call_id: str = Field(default_factory=new_call_id)
    tool_name: str
    arguments: dict[str, Any] = Field(default_factory=dict)


class ToolDefinition(BaseModel):
    """What the model is told about a tool: its name, what it does, and a JSON Schema for its arguments."""

    name: str
    description: str = ""
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})


class SystemMessage(BaseModel):
    role: Literal["system"] = "system"
    content: str


class UserMessage(BaseModel):
    role: Literal["user"] = "user"
    content: str
    # Retrieved passages; the Llama chat format appends them to the content as "\n\n" + context.
    context: str | None = None


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str = ""
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
    content: str


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
    "UserMessage",
    "new_call_id",
    "to_messages",
]
