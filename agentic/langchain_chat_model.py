"""Any llamasys back-end (the native engine, an OpenAI-compatible server, a script) as a LangChain chat
model: `invoke`, `stream`, their async twins, and `bind_tools`.

    from llamasys.agentic import LlamasysChatModel
    chat = LlamasysChatModel(backend="smollm2-135m-instruct")    # or an Engine, or any InferenceBackend
    chat.invoke("Hello").content
    for chunk in chat.stream("Tell me a story"):
        print(chunk.content, end="")
    with_tools = chat.bind_tools([get_weather])                  # LangChain tools, functions, pydantic models
    with_tools.invoke("Weather in Paris?").tool_calls            # [{"name": "get_weather", "args": {...}, "id": ...}]

Messages map one to one: SystemMessage / HumanMessage / AIMessage (with `tool_calls`) / ToolMessage
become llamasys system / user / assistant / tool messages. `usage_metadata` carries the token counts.
The sync methods run the back-end on a private event-loop thread.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    HumanMessage,
    ToolMessage,
)
from langchain_core.messages import SystemMessage as LCSystemMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import ConfigDict, Field, field_validator

from llamasys.core_model.messages import (
    AssistantMessage,
    Message,
    SystemMessage,
    ToolCall,
    ToolDefinition,
    ToolResponseMessage,
    UserMessage,
)

from .backend_base import InferenceBackend, MessageChunk, TextChunk

__all__ = ["LlamasysChatModel", "from_langchain_messages"]

_loop: asyncio.AbstractEventLoop | None = None
_loop_lock = threading.Lock()


def _background_loop() -> asyncio.AbstractEventLoop:
    global _loop
    with _loop_lock:
        if _loop is None:
            _loop = asyncio.new_event_loop()
            threading.Thread(target=_loop.run_forever, name="llamasys-langchain", daemon=True).start()
        return _loop


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    parts = [p.get("text", "") if isinstance(p, dict) else str(p) for p in content]
    return "".join(parts)


def from_langchain_messages(messages: Sequence[BaseMessage]) -> list[Message]:
    """LangChain messages as llamasys messages (raises ValueError for a kind with no counterpart)."""
    out: list[Message] = []
    for m in messages:
        if isinstance(m, LCSystemMessage):
            out.append(SystemMessage(content=_content_text(m.content)))
        elif isinstance(m, HumanMessage):
            out.append(UserMessage(content=_content_text(m.content)))
        elif isinstance(m, AIMessage):
            calls = [
                ToolCall(call_id=c["id"] or "", tool_name=c["name"], arguments=c["args"])
                for c in m.tool_calls
            ]
            out.append(AssistantMessage(content=_content_text(m.content), tool_calls=calls))
        elif isinstance(m, ToolMessage):
            out.append(
                ToolResponseMessage(
                    call_id=m.tool_call_id, tool_name=m.name or "", content=_content_text(m.content)
                )
            )
        else:
            raise ValueError(
                f"{type(m).__name__} has no llamasys counterpart: use system, human, AI or tool messages"
            )
    return out


class LlamasysChatModel(BaseChatModel):
    """A LangChain chat model over a llamasys back-end (see the module docstring)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    backend: Any = Field(description="an InferenceBackend, an Engine, a catalogue id or a checkpoint path")
    sampling: Any = Field(None, description="llamasys SamplingParams (default: greedy, 512 new tokens)")

    @field_validator("backend", mode="before")
    @classmethod
    def _as_backend(cls, value: Any) -> Any:
        if isinstance(value, InferenceBackend):
            return value
        from .backend_engine import EngineBackend

        return EngineBackend(value)

    @property
    def _llm_type(self) -> str:
        return "llamasys"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model": getattr(self.backend, "model_name", "llamasys")}

    def bind_tools(self, tools: Sequence[Any], *, tool_choice: str | None = None, **kwargs: Any) -> Any:
        """Offer `tools` (LangChain tools, functions, pydantic models, OpenAI tool dicts) on every call."""
        definitions = []
        for item in tools:
            function = convert_to_openai_tool(item)["function"]
            definitions.append(
                {
                    "name": function["name"],
                    "description": function.get("description", ""),
                    "parameters": function.get("parameters") or {"type": "object", "properties": {}},
                }
            )
        if tool_choice is not None:
            kwargs["tool_choice"] = tool_choice
        return self.bind(tools=definitions, **kwargs)

    def _request(self, messages: list[BaseMessage], stop: list[str] | None, kwargs: dict[str, Any]) -> tuple:
        from llamasys.core_model.sampling_params import SamplingParams

        sampling = self.sampling or SamplingParams(max_tokens=512)
        if stop:
            sampling = sampling.model_copy(update={"stop": tuple(stop)})
        tools = [ToolDefinition.model_validate(t) for t in kwargs.get("tools", [])]
        choice = kwargs.get("tool_choice") or "auto"
        if choice == "any":
            choice = "required"
        return from_langchain_messages(messages), tools, sampling, choice

    async def _chunks(
        self, messages: list[BaseMessage], stop: list[str] | None, kwargs: dict[str, Any]
    ) -> AsyncIterator[Any]:
        ours, tools, sampling, choice = self._request(messages, stop, kwargs)
        async for chunk in self.backend.stream(ours, tools, sampling, choice):
            yield chunk

    @staticmethod
    def _final(chunk: MessageChunk) -> AIMessage:
        message = chunk.message
        return AIMessage(
            content=message.content,
            tool_calls=[
                {"name": c.tool_name, "args": c.arguments, "id": c.call_id} for c in message.tool_calls
            ],
            usage_metadata={
                "input_tokens": chunk.usage.prompt_tokens,
                "output_tokens": chunk.usage.completion_tokens,
                "total_tokens": chunk.usage.prompt_tokens + chunk.usage.completion_tokens,
            },
            response_metadata={
                "stop_reason": message.stop_reason.value,
                "parse_errors": message.parse_errors,
            },
        )

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        final = None
        async for chunk in self._chunks(messages, stop, kwargs):
            if isinstance(chunk, MessageChunk):
                final = chunk
            elif isinstance(chunk, TextChunk) and run_manager is not None:
                await run_manager.on_llm_new_token(chunk.text)
        assert final is not None
        return ChatResult(generations=[ChatGeneration(message=self._final(final))])

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        future = asyncio.run_coroutine_threadsafe(
            self._agenerate(messages, stop, None, **kwargs), _background_loop()
        )
        return future.result()

    @staticmethod
    def _as_generation_chunk(chunk: Any) -> ChatGenerationChunk | None:
        if isinstance(chunk, TextChunk):
            return ChatGenerationChunk(message=AIMessageChunk(content=chunk.text))
        if isinstance(chunk, MessageChunk):
            message = chunk.message
            return ChatGenerationChunk(
                message=AIMessageChunk(
                    content="",
                    tool_call_chunks=[
                        {"name": c.tool_name, "args": json.dumps(c.arguments), "id": c.call_id, "index": i}
                        for i, c in enumerate(message.tool_calls)
                    ],
                    usage_metadata={
                        "input_tokens": chunk.usage.prompt_tokens,
                        "output_tokens": chunk.usage.completion_tokens,
                        "total_tokens": chunk.usage.prompt_tokens + chunk.usage.completion_tokens,
                    },
                    response_metadata={"stop_reason": message.stop_reason.value},
                )
            )
        return None

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        async for chunk in self._chunks(messages, stop, kwargs):
            out = self._as_generation_chunk(chunk)
            if out is not None:
                if run_manager is not None and isinstance(chunk, TextChunk):
                    await run_manager.on_llm_new_token(chunk.text, chunk=out)
                yield out

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        loop = _background_loop()
        chunks = self._chunks(messages, stop, kwargs)
        try:
            while True:
                try:
                    chunk = asyncio.run_coroutine_threadsafe(chunks.__anext__(), loop).result()
                except StopAsyncIteration:
                    return
                out = self._as_generation_chunk(chunk)
                if out is not None:
                    if run_manager is not None and isinstance(chunk, TextChunk):
                        run_manager.on_llm_new_token(chunk.text, chunk=out)
                    yield out
        finally:
            asyncio.run_coroutine_threadsafe(chunks.aclose(), loop).result()
