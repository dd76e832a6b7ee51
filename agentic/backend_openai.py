"""`OpenAIBackend`: any OpenAI-compatible `/v1/chat/completions` server (vLLM, llama.cpp's server,
`llamasys serve`, hosted APIs) over httpx, streamed.

    backend = OpenAIBackend(base_url="http://127.0.0.1:8000/v1", model="meta-llama/Llama-3.1-8B-Instruct")
    agent = Agent(backend, tools=[get_weather])

Requests follow OpenAI's Chat Completions API: `messages` (system / user / assistant with `tool_calls` /
`tool` with `tool_call_id`), `tools` as `{"type": "function", "function": {name, description,
parameters}}`, `tool_choice`, `stream: true` with `stream_options: {"include_usage": true}`, and the
sampling fields `temperature`, `top_p`, `max_tokens`, `seed`, `stop`. The answer is read as server-sent
events (`data: {...}` lines, ending with `data: [DONE]`): text deltas, tool-call deltas keyed by
`index` (arguments arrive in pieces and are joined), `finish_reason`, and `usage` (prompt / completion
tokens; `prompt_tokens_details.cached_tokens` as the prefix tokens reused).

A server that returns calls as text instead of native `tool_calls` (`<tool_call>{...}</tool_call>`,
`<|python_tag|>`, a JSON object, a Llama 3.2 `[f(x=1)]` list) is decoded with the chat format's rules.

Failures: a 429 or 5xx answer, a refused connection or a timeout before the first token is retried
`max_retries` times with exponential back-off (`backoff_s` x 2^n, or the server's `Retry-After`, at most
30 s); a failure after tokens have streamed, or any other HTTP error, raises `BackendError` with the
server's message.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx

from llamasys.core_model.messages import (
    AssistantMessage,
    Message,
    StopReason,
    SystemMessage,
    ToolCall,
    ToolDefinition,
    ToolResponseMessage,
    UserMessage,
)

from .backend_base import InferenceBackend, InferenceChunk, MessageChunk, TextChunk, ToolCallChunk
from .errors import BackendError
from .steps import Usage

__all__ = ["OpenAIBackend", "to_openai_messages", "to_openai_tools"]

log = logging.getLogger(__name__)

_RETRY_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}


def to_openai_messages(messages: list[Message]) -> list[dict[str, Any]]:
    """Our messages as Chat Completions messages (a user message's `context` is appended to it)."""
    out: list[dict[str, Any]] = []
    for m in messages:
        if isinstance(m, SystemMessage):
            out.append({"role": "system", "content": m.content})
        elif isinstance(m, UserMessage):
            out.append({"role": "user", "content": m.content + (f"\n\n{m.context}" if m.context else "")})
        elif isinstance(m, AssistantMessage):
            item: dict[str, Any] = {"role": "assistant", "content": m.content or None}
            if m.tool_calls:
                item["tool_calls"] = [
                    {
                        "id": c.call_id,
                        "type": "function",
                        "function": {
                            "name": c.tool_name,
                            "arguments": json.dumps(c.arguments, ensure_ascii=False),
                        },
                    }
                    for c in m.tool_calls
                ]
            out.append(item)
        elif isinstance(m, ToolResponseMessage):
            out.append({"role": "tool", "tool_call_id": m.call_id, "content": m.content})
    return out


def to_openai_tools(tools: list[ToolDefinition]) -> list[dict[str, Any]]:
    return [
        {
            "type": "function",
            "function": {"name": t.name, "description": t.description, "parameters": t.parameters},
        }
        for t in tools
    ]


def _tool_choice(choice: str) -> Any:
    if choice in ("auto", "required", "none"):
        return choice
    return {"type": "function", "function": {"name": choice}}


def _text_calls(content: str) -> tuple[str, list[ToolCall], list[str]] | None:
    """Calls written as text (the chat formats' conventions), or None when the text holds none."""
    stripped = content.strip()
    if not stripped:
        return None
    try:
        from llamasys.core_model.chat.tool_call_codec import (
            parse_llama3_completion,
            parse_tagged_json_completion,
        )
    except ImportError:  # pragma: no cover - the chat package is part of every installation
        return None
    if "<tool_call>" in stripped:
        decoded = parse_tagged_json_completion(stripped)
    elif "<|python_tag|>" in stripped:
        head, *bodies = stripped.split("<|python_tag|>")
        decoded = parse_llama3_completion(head, bodies)
    elif stripped[:1] in "{[" or stripped.startswith("<function="):
        decoded = parse_llama3_completion(stripped)
    else:
        return None
    if not decoded.tool_calls and not decoded.errors:
        return None
    return decoded.content, list(decoded.tool_calls), list(decoded.errors)


class OpenAIBackend(InferenceBackend):
    """A streamed Chat Completions client (see the module docstring).

    base_url: the server's API root, e.g. "http://127.0.0.1:8000/v1". api_key: sent as a Bearer token
    when given. timeout: seconds to wait for each read (a token); connect_timeout: seconds to connect.
    context_window: the model's window in tokens, for trimming history (None: never trimmed).
    extra_body: more JSON fields for every request (e.g. {"top_k": 40} for vLLM)."""

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        *,
        timeout: float = 120.0,
        connect_timeout: float = 10.0,
        max_retries: int = 3,
        backoff_s: float = 0.5,
        context_window: int | None = None,
        extra_body: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise BackendError(
                f"base_url {base_url!r} must start with http:// or https://, e.g. http://127.0.0.1:8000/v1"
            )
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.model_name = model
        self.context_window = context_window
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.extra_body = dict(extra_body or {})
        all_headers = dict(headers or {})
        if api_key:
            all_headers["Authorization"] = f"Bearer {api_key}"
        self._timeout = httpx.Timeout(timeout, connect=connect_timeout)
        self._headers = all_headers
        self._clients: dict[int, httpx.AsyncClient] = {}

    def _client(self) -> httpx.AsyncClient:
        loop_id = id(asyncio.get_running_loop())  # an httpx client belongs to the loop that opened it
        client = self._clients.get(loop_id)
        if client is None or client.is_closed:
            client = httpx.AsyncClient(timeout=self._timeout, headers=self._headers)
            self._clients[loop_id] = client
        return client

    def request_body(
        self, messages: list[Message], tools: list[ToolDefinition], sampling: Any, tool_choice: str = "auto"
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": to_openai_messages(messages),
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if tools:
            body["tools"] = to_openai_tools(tools)
            body["tool_choice"] = _tool_choice(tool_choice)
        if sampling is not None:
            body["temperature"] = sampling.temperature
            body["top_p"] = sampling.top_p
            body["max_tokens"] = sampling.max_tokens
            if sampling.seed is not None:
                body["seed"] = sampling.seed
            if sampling.stop:
                body["stop"] = list(sampling.stop)
        body.update(self.extra_body)
        return body

    async def stream(
        self,
        messages: list[Message],
        tools: list[ToolDefinition],
        sampling: Any = None,
        tool_choice: str = "auto",
    ) -> AsyncIterator[InferenceChunk]:
        body = self.request_body(messages, tools, sampling, tool_choice)
        url = f"{self.base_url}/chat/completions"
        start = time.perf_counter()
        for attempt in range(self.max_retries + 1):
            streamed = False
            try:
                async with self._client().stream("POST", url, json=body) as response:
                    if response.status_code != 200:
                        text = (await response.aread()).decode("utf-8", "replace")[:1000]
                        retriable = response.status_code in _RETRY_STATUS
                        if retriable and attempt < self.max_retries:
                            await asyncio.sleep(self._delay(attempt, response.headers.get("retry-after")))
                            continue
                        raise BackendError(
                            f"{url} answered HTTP {response.status_code}: {text}",
                            retriable=retriable,
                            status_code=response.status_code,
                        )
                    async for chunk in self._read(response, start, bool(tools)):
                        streamed = True
                        yield chunk
                    return
            except (httpx.TransportError, httpx.TimeoutException) as exc:
                if streamed or attempt >= self.max_retries:
                    raise BackendError(
                        f"{url}: {type(exc).__name__}: {exc or 'no detail'}"
                        + (
                            " (after the answer had started)" if streamed else f" (after {attempt + 1} tries)"
                        ),
                        retriable=True,
                    ) from exc
                log.info("%s: %s, retrying", url, type(exc).__name__)
                await asyncio.sleep(self._delay(attempt, None))

    def _delay(self, attempt: int, retry_after: str | None) -> float:
        if retry_after:
            try:
                return min(30.0, max(0.0, float(retry_after)))
            except ValueError:
                pass
        return min(30.0, self.backoff_s * (2**attempt))

    async def _read(
        self, response: httpx.Response, start: float, tools_offered: bool
    ) -> AsyncIterator[InferenceChunk]:
        content: list[str] = []
        calls: dict[int, dict[str, Any]] = {}
        finish: str | None = None
        usage = Usage()
        first: float | None = None
        async for line in response.aiter_lines():
            if not line.startswith("data:"):
                continue
            data = line[5:].strip()
            if data == "[DONE]":
                break
            try:
                event = json.loads(data)
            except json.JSONDecodeError as exc:
                raise BackendError(f"the server sent an event that is not JSON: {data[:200]!r}") from exc
            if "error" in event:
                error = event["error"]
                message = error.get("message", error) if isinstance(error, dict) else error
                raise BackendError(f"the server failed mid-stream: {message}", retriable=True)
            if event.get("usage"):
                u = event["usage"]
                details = u.get("prompt_tokens_details") or {}
                usage = Usage(
                    prompt_tokens=u.get("prompt_tokens") or 0,
                    completion_tokens=u.get("completion_tokens") or 0,
                    prefix_tokens_reused=details.get("cached_tokens"),
                )
            for choice in event.get("choices") or []:
                if choice.get("index", 0) != 0:
                    continue
                delta = choice.get("delta") or {}
                if first is None:
                    first = time.perf_counter() - start
                if delta.get("content"):
                    content.append(delta["content"])
                    yield TextChunk(text=delta["content"])
                for tc in delta.get("tool_calls") or []:
                    slot = calls.setdefault(
                        tc.get("index", len(calls)), {"id": None, "name": "", "arguments": ""}
                    )
                    if tc.get("id"):
                        slot["id"] = tc["id"]
                    function = tc.get("function") or {}
                    if function.get("name"):
                        slot["name"] += function["name"]
                    if function.get("arguments"):
                        slot["arguments"] += function["arguments"]
                        yield ToolCallChunk(text=function["arguments"])
                if choice.get("finish_reason"):
                    finish = choice["finish_reason"]
        text = "".join(content)
        tool_calls: list[ToolCall] = []
        errors: list[str] = []
        for index in sorted(calls):
            slot = calls[index]
            try:
                arguments = json.loads(slot["arguments"] or "{}")
                if not isinstance(arguments, dict):
                    raise ValueError("the arguments are not a JSON object")
            except ValueError as exc:
                errors.append(
                    f"tool call {slot['name'] or '?'}: arguments are not a valid JSON object ({exc}): "
                    f"{slot['arguments'][:200]!r}"
                )
                continue
            call = ToolCall(tool_name=slot["name"], arguments=arguments)
            if slot["id"]:
                call.call_id = slot["id"]
            tool_calls.append(call)
        if not calls and tools_offered:
            decoded = _text_calls(text)
            if decoded is not None:
                text, tool_calls, errors = decoded
        for call in tool_calls:
            yield ToolCallChunk(call=call)
        if tool_calls:
            stop = StopReason.end_of_message
        elif finish == "length":
            stop = StopReason.out_of_tokens
        else:
            stop = StopReason.end_of_turn
        message = AssistantMessage(content=text, tool_calls=tool_calls, stop_reason=stop, parse_errors=errors)
        total = time.perf_counter() - start
        yield MessageChunk(message=message, usage=usage, timings={"ttft_s": first or total, "total_s": total})

    async def aclose(self) -> None:
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            with contextlib.suppress(RuntimeError):  # its loop is gone
                await client.aclose()
