"""The interface every inference back-end implements, and the chunks it streams.

    async for chunk in backend.stream(messages, tools, sampling, tool_choice="auto"):
        chunk.type == "text"             # chunk.text: answer text as it is written
        chunk.type == "tool_call_delta"  # chunk.text: raw call text, or chunk.call: a complete ToolCall
        chunk.type == "message"          # last: the complete AssistantMessage with stop_reason,
                                         # usage (prompt / completion tokens, prefix tokens reused) and
                                         # timings (seconds)

`stream` must end with exactly one `message` chunk, or raise `BackendError`. Back-ends: `EngineBackend`
(the native engine in-process), `OpenAIBackend` (any OpenAI-compatible server over HTTP),
`ScriptedBackend` (planned completions, for tests).
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Sequence
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from llamasys.core_model.messages import AssistantMessage, Message, ToolCall, ToolDefinition

from .steps import Usage

__all__ = [
    "InferenceBackend",
    "InferenceChunk",
    "MessageChunk",
    "TextChunk",
    "ToolCallChunk",
    "approximate_tokens",
]


class TextChunk(BaseModel):
    type: Literal["text"] = "text"
    text: str


class ToolCallChunk(BaseModel):
    type: Literal["tool_call_delta"] = "tool_call_delta"
    text: str = ""
    call: ToolCall | None = None


class MessageChunk(BaseModel):
    type: Literal["message"] = "message"
    message: AssistantMessage
    usage: Usage = Field(default_factory=Usage)
    timings: dict[str, float] = Field(default_factory=dict)


InferenceChunk = Annotated[TextChunk | ToolCallChunk | MessageChunk, Field(discriminator="type")]


def approximate_tokens(messages: Sequence[Message], tools: Sequence[ToolDefinition] = ()) -> int:
    """A rough token count (4 characters a token, plus framing) for back-ends without a tokenizer."""
    chars = sum(len(json.dumps(m.model_dump(mode="json"), ensure_ascii=False)) for m in messages)
    chars += sum(len(json.dumps(t.model_dump(mode="json"), ensure_ascii=False)) for t in tools)
    return chars // 4 + 4 * len(messages)


class InferenceBackend(ABC):
    """One model behind one interface. `context_window`: the model's window in tokens (None: unknown,
    history is then never trimmed). `model_name`: a label for steps, traces and the store."""

    model_name: str = "model"
    context_window: int | None = None

    @abstractmethod
    def stream(
        self,
        messages: list[Message],
        tools: list[ToolDefinition],
        sampling: Any,
        tool_choice: str = "auto",
    ) -> AsyncIterator[InferenceChunk]:
        """Stream one completion of `messages` (system prompt first) with `tools` offered.

        sampling: `llamasys.core_model.SamplingParams`. tool_choice: "auto", "required", "none" or a tool
        name. Yields text / tool-call deltas, then one `MessageChunk`. Raises `BackendError`."""

    def count_tokens(self, messages: Sequence[Message], tools: Sequence[ToolDefinition] = ()) -> int:
        """Prompt tokens `messages` + `tools` take (exact where the back-end has the tokenizer)."""
        return approximate_tokens(messages, tools)

    async def aclose(self) -> None:
        """Release connections / threads. Safe to call twice."""
        return None
