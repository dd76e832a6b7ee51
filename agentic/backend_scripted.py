"""`ScriptedBackend`: a back-end that replays planned completions, for tests of agents built on llamasys.

    backend = ScriptedBackend([
        ToolCall(tool_name="get_weather", arguments={"city": "Paris"}),   # first inference: a tool call
        "It is sunny in Paris.",                                          # second: the answer
    ])
    agent = Agent(backend, tools=[get_weather], store="sqlite://")
    agent.run("Weather in Paris?").output      # "It is sunny in Paris."
    backend.requests[1].messages               # exactly what the model was fed the second time

A planned item is a `str` (answer text), a `ToolCall` or a list of them, an `AssistantMessage`, a
`Planned` (text + calls, a failure after the text, a delay), an exception instance (raised before any
chunk), or a callable `(messages) -> item` (computed when the request arrives). With `repeat=True` the
script starts over when it runs out; otherwise running out raises `BackendError`.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from llamasys.core_model.messages import AssistantMessage, Message, StopReason, ToolCall, ToolDefinition

from .backend_base import InferenceBackend, InferenceChunk, MessageChunk, TextChunk, ToolCallChunk
from .errors import BackendError
from .steps import Usage

__all__ = ["Planned", "ScriptedBackend", "ScriptedRequest"]

_WORDS = re.compile(r"\s*\S+\s*|\s+")


class Planned(BaseModel):
    """One planned completion. `fail_with`: stream `content`, then raise `BackendError(fail_with)`
    (a back-end dying mid-stream). `delay_s`: sleep this long before the first chunk."""

    content: str = ""
    tool_calls: list[ToolCall] = Field(default_factory=list)
    parse_errors: list[str] = Field(default_factory=list)
    stop_reason: StopReason | None = None
    fail_with: str | None = None
    delay_s: float = 0.0


class ScriptedRequest(BaseModel):
    """What the model was asked: the messages exactly as fed, the tools offered, sampling, tool_choice."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    messages: list[Message]
    tools: list[ToolDefinition]
    sampling: Any = None
    tool_choice: str = "auto"


class ScriptedBackend(InferenceBackend):
    """Replays `script` one item per inference (see the module docstring)."""

    def __init__(
        self,
        script: Sequence[Any] = (),
        *,
        repeat: bool = False,
        context_window: int | None = None,
        model_name: str = "scripted",
    ) -> None:
        self.script = list(script)
        self.repeat = repeat
        self.context_window = context_window
        self.model_name = model_name
        self.requests: list[ScriptedRequest] = []
        self._next = 0

    def extend(self, items: Sequence[Any]) -> None:
        """Plan more completions."""
        self.script.extend(items)

    def _take(self, messages: list[Message]) -> Planned:
        if self._next >= len(self.script):
            if not (self.repeat and self.script):
                raise BackendError(
                    f"ScriptedBackend: the script is exhausted after {len(self.script)} completion(s); "
                    "plan one more item for each inference the agent makes"
                )
            self._next = 0
        item = self.script[self._next]
        self._next += 1
        return _planned(item, messages)

    async def stream(
        self,
        messages: list[Message],
        tools: list[ToolDefinition],
        sampling: Any = None,
        tool_choice: str = "auto",
    ) -> AsyncIterator[InferenceChunk]:
        start = time.perf_counter()
        self.requests.append(
            ScriptedRequest(
                messages=[m.model_copy(deep=True) for m in messages],
                tools=list(tools),
                sampling=sampling,
                tool_choice=tool_choice,
            )
        )
        plan = self._take(messages)
        if plan.delay_s:
            await asyncio.sleep(plan.delay_s)
        for piece in _WORDS.findall(plan.content):
            yield TextChunk(text=piece)
        if plan.fail_with is not None:
            raise BackendError(plan.fail_with, retriable=True)
        for call in plan.tool_calls:
            yield ToolCallChunk(
                text=json.dumps({"name": call.tool_name, "arguments": call.arguments}, ensure_ascii=False)
            )
            yield ToolCallChunk(call=call)
        stop = plan.stop_reason or (StopReason.end_of_message if plan.tool_calls else StopReason.end_of_turn)
        message = AssistantMessage(
            content=plan.content,
            tool_calls=[c.model_copy() for c in plan.tool_calls],
            stop_reason=stop,
            parse_errors=list(plan.parse_errors),
        )
        usage = Usage(
            prompt_tokens=self.count_tokens(messages, tools),
            completion_tokens=max(1, len(plan.content) // 4 + 8 * len(plan.tool_calls)),
        )
        yield MessageChunk(message=message, usage=usage, timings={"total_s": time.perf_counter() - start})


def _planned(item: Any, messages: list[Message]) -> Planned:
    if isinstance(item, BaseException):
        raise item
    if callable(item) and not isinstance(item, BaseModel):
        return _planned(item(messages), messages)
    if isinstance(item, Planned):
        return item
    if isinstance(item, str):
        return Planned(content=item)
    if isinstance(item, ToolCall):
        return Planned(tool_calls=[item])
    if isinstance(item, list) and all(isinstance(c, ToolCall) for c in item):
        return Planned(tool_calls=list(item))
    if isinstance(item, AssistantMessage):
        return Planned(
            content=item.content,
            tool_calls=list(item.tool_calls),
            parse_errors=list(item.parse_errors),
            stop_reason=item.stop_reason,
        )
    raise BackendError(
        f"ScriptedBackend cannot replay {type(item).__name__}: plan a str, ToolCall(s), AssistantMessage, "
        "Planned, an exception or a callable"
    )


ScriptItem = str | ToolCall | list[ToolCall] | AssistantMessage | Planned | BaseException | Callable[..., Any]
