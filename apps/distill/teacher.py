"""Teacher mode: the same kinds of conversations, answered by a stronger model, kept only when they verify.

    >>> from llamasys.apps.eval.bfcl import EngineModel, OpenAIToolModel
    >>> teacher = OpenAIToolModel(base_url="http://gpu-box:8000/v1", model="llama3.1-8b-instruct")
    >>> examples, report = asyncio.run(teacher_generate(GenerateConfig(seed=3, count=500), teacher))

For each drawn item the generator builds its reference conversation (system prompt, request, offered
tools, expected values); the teacher then answers the request with the tools offered in its own format
(any `ToolModel`: the native engine through `EngineModel`, or any OpenAI-compatible server through
`OpenAIToolModel`). Its calls run for real (the sandbox, the synthetic web, the document bank); a
catalogue tool's call runs only when it equals the reference call, whose result is then used; the
teacher sees the results and answers again, up to `max_turns` replies. The example is kept when it
passes `verify_example` (schemas, results, expected values in a result and in the final answer, the
rendering round trip), and for catalogue kinds when its calls equal the reference calls (in any order);
otherwise the reason is counted in the report. The same prompts, drawn from the same seed, as `generate`.

`batch_size` items are in flight at once and their requests reach the teacher together: one
`complete` call holds every request waiting at that moment (at most `batch_size`), and one call runs at a
time (the engine decodes them as one batch; with the native engine, load it with `max_batch_size` at
least `batch_size`). Which requests share a batch depends on timing (an item waiting on the sandbox joins
a later one), and a native engine's greedy reply can differ in the last bits with its batch mates, so two
batched runs with a native teacher may differ; `batch_size=1` asks one request at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
from collections import Counter
from typing import Any

from llamasys.apps.distill.generate import (
    Example,
    GenerateConfig,
    GenerateReport,
    _Builder,
    _Drop,
    draw_verified,
)
from llamasys.core_model.messages import AssistantMessage, ToolResponseMessage, UserMessage

__all__ = ["teacher_generate"]

BUILTIN = {"code_interpreter", "web_search", "knowledge_search"}
CATALOGUE_KINDS = {"custom", "parallel", "parallel_multiple"}


class _Batcher:
    """Gathers the in-flight items' requests into one `teacher.complete` call, one call at a time."""

    def __init__(self, teacher: Any, size: int) -> None:
        self.teacher = teacher
        self.size = size
        self.queue: asyncio.Queue[tuple[Any, asyncio.Future[Any]]] = asyncio.Queue()

    async def complete(self, messages: list[Any], tools: list[Any]) -> Any:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        await self.queue.put(((messages, tools), future))
        return await future

    async def serve(self) -> None:
        while True:
            batch = [await self.queue.get()]
            await asyncio.sleep(0)  # let items that are ready to ask do so
            while len(batch) < self.size and not self.queue.empty():
                batch.append(self.queue.get_nowait())
            try:
                replies = await asyncio.to_thread(self.teacher.complete, [d for d, _ in batch])
            except Exception as exc:  # every waiting item fails with the teacher's error
                for _, future in batch:
                    future.set_exception(exc)
                continue
            for (_, future), reply in zip(batch, replies, strict=True):
                future.set_result(reply)


def _key(name: str, arguments: dict[str, Any]) -> str:
    return json.dumps([name, arguments], sort_keys=True)


async def _answer(
    builder: _Builder, teacher: _Batcher, reference: Example, bank: tuple[str, str], max_turns: int
) -> Example:
    messages: list[Any] = list(reference.messages[:2])
    results = {m.call_id: m.content for m in reference.messages if isinstance(m, ToolResponseMessage)}
    reference_results = {
        _key(c.tool_name, c.arguments): results[c.call_id]
        for m in reference.messages
        if isinstance(m, AssistantMessage)
        for c in m.tool_calls
    }
    for _ in range(max_turns):
        reply = await teacher.complete(list(messages), reference.tools)
        if reply.parse_errors:
            raise _Drop(f"the teacher's calls did not parse: {reply.parse_errors[0][:60]}")
        messages.append(AssistantMessage(content=reply.content, tool_calls=reply.tool_calls))
        if not reply.tool_calls:
            break
        for call in reply.tool_calls:
            if call.tool_name in BUILTIN:
                content = await builder.run_tool(call.tool_name, call.arguments, bank)
            elif (key := _key(call.tool_name, call.arguments)) in reference_results:
                content = reference_results[key]
            else:
                raise _Drop("the teacher's call differs from the reference call")
            messages.append(
                ToolResponseMessage(call_id=call.call_id, tool_name=call.tool_name, content=content)
            )
    else:
        raise _Drop("the teacher did not finish within max_turns")
    return Example(
        id=reference.id,
        kind=reference.kind,
        tools=reference.tools,
        messages=messages,
        expect=reference.expect,
    )


def _bank_of(example: Example) -> tuple[str, str]:
    for tool in example.tools:
        if tool.name == "knowledge_search" and "Banks searched: " in tool.description:
            named = tool.description.split("Banks searched: ", 1)[1].rstrip(".")
            name, _, description = named.partition(" (")
            return name, description.rstrip(")")
    return "documents", ""


async def teacher_generate(
    config: GenerateConfig,
    teacher: Any,
    *,
    chat_format: Any | None = None,
    max_turns: int = 4,
    batch_size: int = 1,
    progress: bool = False,
) -> tuple[list[Example], GenerateReport]:
    """Verified teacher-written examples for the items `generate(config)` would draw (module docstring).

    teacher: a `ToolModel` (`complete(dialogs) -> replies`); batch_size: items in flight at once, their
    requests sent to it together. Raises ValueError for a batch_size below 1."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    avoid = set(config.avoid_prompts)
    batcher = _Batcher(teacher, batch_size)

    async def produce(
        builder: _Builder, rng: random.Random, kind: str, name: str
    ) -> tuple[Example, list[str]]:
        reference = await builder.build(rng, kind, name)
        if any(isinstance(m, UserMessage) and m.content in avoid for m in reference.messages):
            raise _Drop("a held-out prompt")
        example = await _answer(builder, batcher, reference, _bank_of(reference), max_turns)
        if kind in CATALOGUE_KINDS:
            want = Counter(_key(c.tool_name, c.arguments) for m in reference.messages
                           if isinstance(m, AssistantMessage) for c in m.tool_calls)  # fmt: skip
            got = Counter(_key(c.tool_name, c.arguments) for m in example.messages
                          if isinstance(m, AssistantMessage) for c in m.tool_calls)  # fmt: skip
            if want != got:
                return example, ["the teacher's calls differ from the reference calls"]
        return example, []

    server = asyncio.create_task(batcher.serve())
    try:
        return await draw_verified(
            config, chat_format, produce, desc="teacher", progress=progress, concurrency=batch_size
        )
    finally:
        server.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await server
