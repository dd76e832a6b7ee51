"""`EngineBackend`: the native engine in-process, streamed without blocking the event loop.

    backend = EngineBackend("smollm2-135m-instruct")          # a catalogue id, a path, or a loaded Engine
    backend = EngineBackend(engine)
    agent = Agent(backend, tools=[get_weather])

The prompt is the model's own chat format (`engine.chat_format.encode_dialog_prompt(messages, tools=...,
tool_choice=...)`: Llama 3.1/3.2 tool prompts, or the checkpoint's template with the `<tool_call>` JSON
convention); tokens are parsed as they come by the format's stream parser, so text deltas and tool-call
deltas stream, and the final message holds the calls in every syntax the format decodes
(`<|python_tag|>` built-ins and code, JSON, `<function=...>`, Python lists, `<tool_call>`).

Generation runs off the event loop: through the engine's serving front (`engine.serve().submit(...)`,
continuous batching with prefix reuse, so many sessions share one engine) when the engine has one, else
`Engine.stream` in a worker thread (the engine's own lock then serialises requests). A cancelled turn
stops generation at the next token. `max_tokens` is lowered to what the window leaves; a prompt that
does not fit at all raises `BackendError`.

Tool calls are valid by construction (`constrain_tool_calls=True`, the default): when tools are offered, the
reply is decoded under the chat format's `reply_constraint(tools, tool_choice)` — "required" or a tool's name
give exactly a call of an offered tool with schema-valid arguments, "auto" is free text until the model starts
a call and then a valid call, "none" masks the call triggers. A `SamplingParams.constraint` given by the
caller wins; `constrain_tool_calls=False` leaves the reply unconstrained.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

from llamasys.core_model.messages import Message, StopReason, ToolDefinition

from .backend_base import InferenceBackend, InferenceChunk, MessageChunk, TextChunk, ToolCallChunk
from .errors import BackendError
from .steps import Usage

__all__ = ["EngineBackend"]

_DONE = object()


class EngineBackend(InferenceBackend):
    """model: a catalogue id or checkpoint path (loaded now with `load_kwargs`, e.g. quantization="int8",
    max_seq_len=8192) or a loaded `Engine`. tool_prompt_format: how Llama 3 formats describe custom tools
    ("json", "function_tag" or "python_list"). serving: True = through `engine.serve()` (an error
    when the engine has none), False = `Engine.stream` in a worker thread, None = the first when there.
    constrain_tool_calls: decode replies under the tool-call grammar when tools are offered (see above)."""

    def __init__(
        self,
        model: Any,
        *,
        tool_prompt_format: str = "json",
        serving: bool | None = None,
        constrain_tool_calls: bool = True,
        **load_kwargs: Any,
    ) -> None:
        self.constrain_tool_calls = constrain_tool_calls
        if isinstance(model, str | Path):
            from llamasys.core_model import load_model

            self.model_name = str(model)
            self.engine = load_model(model, **load_kwargs)
        elif hasattr(model, "generate") and hasattr(model, "tokenizer"):
            self.engine = model
            self.model_name = type(model).__name__
        else:
            raise BackendError(
                f"EngineBackend takes a catalogue id, a checkpoint path or an Engine, not {type(model).__name__}"
            )
        self.tool_prompt_format = tool_prompt_format
        has_serving = hasattr(self.engine, "serve")
        if serving and not has_serving:
            raise BackendError("this Engine has no serve(): use serving=None or False")
        self.serving = has_serving if serving is None else serving
        self.context_window = int(self.engine.max_seq_len)

    @property
    def chat_format(self) -> Any:
        return self.engine.chat_format

    def encode(
        self, messages: Sequence[Message], tools: Sequence[ToolDefinition] = (), tool_choice: str = "auto"
    ) -> list[int]:
        """The prompt token ids for `messages` with `tools` offered."""
        kwargs: dict[str, Any] = {"tools": list(tools), "tool_choice": tool_choice}
        if tools and self.tool_prompt_format != "json":
            kwargs["tool_prompt_format"] = self.tool_prompt_format
        return self.chat_format.encode_dialog_prompt(list(messages), **kwargs)

    def count_tokens(self, messages: Sequence[Message], tools: Sequence[ToolDefinition] = ()) -> int:
        return len(self.encode(messages, tools))

    async def stream(
        self,
        messages: list[Message],
        tools: list[ToolDefinition],
        sampling: Any = None,
        tool_choice: str = "auto",
    ) -> AsyncIterator[InferenceChunk]:
        from llamasys.core_model.sampling_params import SamplingParams

        start = time.perf_counter()
        sampling = sampling or SamplingParams()
        prompt = self.encode(messages, tools, tool_choice if tools else "auto")
        room = self.context_window - len(prompt)
        if room < 1:
            raise BackendError(
                f"the prompt is {len(prompt)} tokens, the model's window {self.context_window}: shorten the "
                "conversation or load the model with a larger max_seq_len"
            )
        if sampling.max_tokens > room:
            sampling = sampling.model_copy(update={"max_tokens": room})
        if tools and self.constrain_tool_calls and getattr(sampling, "constraint", None) is None:
            constraint = self.chat_format.reply_constraint(
                list(tools), tool_choice, tool_prompt_format=self.tool_prompt_format
            )
            if constraint is not None:
                sampling = sampling.model_copy(update={"constraint": constraint})
        parser = self.chat_format.stream_parser()
        completion = None
        reused: int | None = None
        first: float | None = None
        events = self._served(prompt, sampling) if self.serving else self._threaded(prompt, sampling)
        try:
            async for event in events:
                if isinstance(event, int):  # the serving front reports reused prefix tokens at the end
                    reused = event
                    continue
                if event.token_id is None:
                    completion = event.completion
                    continue
                if first is None:
                    first = time.perf_counter() - start
                for parsed in parser.feed(event.token_id):
                    chunk = _chunk(parsed)
                    if chunk is not None:
                        yield chunk
        finally:
            await events.aclose()
        for parsed in parser.flush():
            chunk = _chunk(parsed)
            if chunk is not None:
                yield chunk
        if completion is None:
            raise BackendError("the engine ended its stream without a completion")
        message = parser.finish(completion.stop_reason or StopReason.out_of_tokens)
        usage = Usage(
            prompt_tokens=completion.prompt_tokens,
            completion_tokens=len(completion.tokens),
            prefix_tokens_reused=reused if reused is not None else getattr(completion, "reused_tokens", None),
        )
        total = time.perf_counter() - start
        timings = {
            "prefill_s": completion.prefill_s,
            "decode_s": completion.decode_s,
            "ttft_s": first or total,
        }
        yield MessageChunk(message=message, usage=usage, timings=timings)

    async def _served(self, prompt: list[int], sampling: Any) -> AsyncIterator[Any]:
        try:
            request = self.engine.serve().submit(prompt, sampling)
        except Exception as exc:
            raise BackendError(f"the engine refused the request: {exc}", retriable=True) from exc
        try:
            async for event in request:
                yield event
        finally:
            await request.aclose()
        yield int(getattr(request, "reused_tokens", 0))

    async def _threaded(self, prompt: list[int], sampling: Any) -> AsyncIterator[Any]:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Any] = asyncio.Queue()
        stop = threading.Event()

        def work() -> None:
            try:
                for event in self.engine.stream(prompt, sampling):
                    loop.call_soon_threadsafe(queue.put_nowait, event)
                    if stop.is_set():
                        break
                loop.call_soon_threadsafe(queue.put_nowait, _DONE)
            except BaseException as exc:  # handed to the consumer
                loop.call_soon_threadsafe(queue.put_nowait, exc)

        thread = threading.Thread(target=work, name="llamasys-engine-stream", daemon=True)
        thread.start()
        try:
            while True:
                item = await queue.get()
                if item is _DONE:
                    return
                if isinstance(item, BaseException):
                    raise BackendError(f"the engine failed: {type(item).__name__}: {item}") from item
                yield item
        finally:
            stop.set()


def _chunk(parsed: Any) -> InferenceChunk | None:
    kind = parsed.type
    if kind == "text":
        return TextChunk(text=parsed.text) if parsed.text else None
    if kind == "tool_call_delta":
        return ToolCallChunk(text=parsed.text)
    if kind == "tool_call":
        return ToolCallChunk(call=parsed.tool_call)
    return None  # parse errors arrive with the final message
