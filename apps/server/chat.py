"""POST /v1/chat/completions: OpenAI messages and tools in, our chat format's prompt to the engine, the chat
format's decoder (text + tool calls) back out as OpenAI's `chat.completion` or a stream of
`chat.completion.chunk`s (shapes from OpenAI's API reference; the tests validate every body and chunk
against OpenAI's published OpenAPI document).

Mapping:
- messages: `system` and `developer` -> SystemMessage, `user` -> UserMessage (text parts only), `assistant`
  with `tool_calls` -> AssistantMessage + ToolCall (the call id is kept), `tool` -> ToolResponseMessage
  (its tool name found from the assistant call with that `tool_call_id`).
- `tools` -> ToolDefinition; `tool_choice` auto / none / required / {"type": "function", ...} -> the chat
  format's tool_choice (a tool name for the named form). Several calls in one reply come back as several
  `tool_calls`; streamed, each call is one delta with its `index`, `id`, `type` and the function name, sent
  once, with its whole `arguments`.
- `finish_reason`: `tool_calls` when the reply holds calls, `length` when `max_tokens` ran out, `stop`
  otherwise, `content_filter` when a shield blocked (the reply is then the shield's refusal).
- `max_completion_tokens` (or the older `max_tokens`) is the budget; without either, the rest of the
  context. A prompt that leaves no room, or a budget that does not fit, is HTTP 413.
- `logprobs` / `top_logprobs`: the log-probabilities of each generated token under the model (temperature
  1), with up to 20 alternatives. Streamed with `top_logprobs` > 0, the entries come in one chunk just
  before the last (the serving engine reports alternatives with the completion).
- `response_format` json_object / json_schema becomes the engine's JSON constraint (the reply is valid JSON,
  matching the schema); with `tools`, the chat format's reply constraint makes every call valid by
  construction: `required` / a named tool = one or more valid calls of the offered (named) tools, `auto` =
  free text until the model starts a call and then a valid call, `none` = no call (`serve.constrain_tools`
  turns the tool constraint off). A schema the grammar engine cannot compile is a 400 naming the problem.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from llamasys.core_model.errors import ModelError, SequenceTooLongError
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

from .errors import APIError
from .generation import EngineBusyError, GenerationRequest, Generator
from .schemas import ChatCompletionRequest, NamedToolChoice

__all__ = ["ChatService", "Prepared", "to_messages", "tool_calls_json"]


def _text(content: Any, where: str) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    parts = []
    for part in content:
        if part.type != "text":
            raise APIError(
                400,
                f"{where}: content part of type {part.type!r} is not supported: this server reads text parts only",
                param="messages",
                code="unsupported_content",
            )
        parts.append(part.text)
    return "".join(parts)


def to_messages(request: ChatCompletionRequest) -> list[Message]:
    """OpenAI messages -> llamasys messages (see the module docstring). Raises APIError(400)."""
    out: list[Message] = []
    names: dict[str, str] = {}
    for i, m in enumerate(request.messages):
        where = f"messages[{i}]"
        if m.role in ("system", "developer"):
            out.append(SystemMessage(content=_text(m.content, where)))
        elif m.role == "user":
            out.append(UserMessage(content=_text(m.content, where)))
        elif m.role == "assistant":
            calls = []
            for call in m.tool_calls or []:
                try:
                    arguments = json.loads(call.function.arguments or "{}")
                except json.JSONDecodeError as exc:
                    raise APIError(
                        400,
                        f"{where}.tool_calls: arguments of {call.function.name!r} are not JSON ({exc})",
                        param="messages",
                    ) from None
                if not isinstance(arguments, dict):
                    raise APIError(
                        400, f"{where}.tool_calls: arguments must be a JSON object", param="messages"
                    )
                names[call.id] = call.function.name
                calls.append(ToolCall(call_id=call.id, tool_name=call.function.name, arguments=arguments))
            out.append(AssistantMessage(content=_text(m.content, where), tool_calls=calls))
        else:
            if m.tool_call_id not in names:
                raise APIError(
                    400,
                    f"{where}: tool_call_id {m.tool_call_id!r} answers no tool call of an earlier assistant message",
                    param="messages",
                )
            out.append(
                ToolResponseMessage(
                    call_id=m.tool_call_id, tool_name=names[m.tool_call_id], content=_text(m.content, where)
                )
            )
    return out


def tool_calls_json(calls: list[ToolCall]) -> list[dict[str, Any]]:
    """OpenAI's `tool_calls` list for our calls (arguments as a JSON string)."""
    return [
        {
            "id": call.call_id,
            "type": "function",
            "function": {"name": call.tool_name, "arguments": json.dumps(call.arguments, ensure_ascii=False)},
        }
        for call in calls
    ]


def _cut_stop(message: AssistantMessage, stop: str | None) -> AssistantMessage:
    """The chat format decodes every generated token; the engine stopped *inside* the last one's text where a
    stop string began. Cut the content there (the stop string overlaps the end, hence rfind)."""
    if stop and not message.tool_calls and (at := message.content.rfind(stop)) >= 0:
        return message.model_copy(update={"content": message.content[:at]})
    return message


def _hold_for_stops(text: str, stops: tuple[str, ...]) -> tuple[str, str, bool]:
    """Split streamed `text` into (safe to send, held back, a stop string was reached): the held part is a
    suffix that may be the start of a stop string."""
    hits = [i for s in stops if (i := text.find(s)) >= 0]
    if hits:
        return text[: min(hits)], "", True
    hold = 0
    for s in stops:
        for k in range(min(len(s) - 1, len(text)), 0, -1):
            if text.endswith(s[:k]):
                hold = max(hold, k)
                break
    return text[: len(text) - hold], text[len(text) - hold :], False


@dataclass
class Prepared:
    """What a request became: prompt ids, sampling, and how to answer."""

    prompt: list[int]
    sampling: Any
    messages: list[Message]
    tools: list[ToolDefinition]
    stream: bool
    include_usage: bool
    logprobs: bool
    top_logprobs: int
    completion_id: str = field(default_factory=lambda: "chatcmpl-" + uuid.uuid4().hex)
    created: int = field(default_factory=lambda: int(time.time()))


ShieldCheck = Callable[[list[Message], str], Awaitable[str | None]]


class ChatService:
    """Turns chat requests into engine requests and engine events into OpenAI bodies and chunks.

    engine: a loaded `Engine` (its `chat_format` encodes and decodes); generator: the `Generator` in front
    of it; model_id: the id clients send; shield: optional `await shield(messages, touchpoint)` -> the
    refusal text when blocked, else None; default_temperature: used when a request gives none."""

    def __init__(
        self,
        engine: Any,
        generator: Generator,
        model_id: str,
        *,
        shield: ShieldCheck | None = None,
        input_shields: bool = False,
        output_shields: bool = False,
        default_temperature: float = 0.6,
        default_top_p: float = 0.9,
        constrain_tools: bool = True,
    ) -> None:
        self.engine = engine
        self.fmt = engine.chat_format
        self.generator = generator
        self.model_id = model_id
        self.shield = shield
        self.input_shields = input_shields and shield is not None
        self.output_shields = output_shields and shield is not None
        self.default_temperature = default_temperature
        self.default_top_p = default_top_p
        self.constrain_tools = constrain_tools
        self.stats = {"completed": 0, "cancelled": 0, "failed": 0, "running": 0}

    # -- request -> engine ---------------------------------------------------------------------

    def _tool_choice(self, request: ChatCompletionRequest, tools: list[ToolDefinition]) -> str:
        choice = request.tool_choice
        if choice is None:
            return "auto"
        if not tools and choice != "none":
            raise APIError(
                400, "tool_choice needs tools: pass `tools` or drop tool_choice", param="tool_choice"
            )
        if isinstance(choice, NamedToolChoice):
            name = choice.function.name
            if name not in {t.name for t in tools}:
                raise APIError(
                    400,
                    f"tool_choice names {name!r}, which is not among the tools {[t.name for t in tools]}",
                    param="tool_choice",
                )
            return name
        return choice

    def _constraint(self, request: ChatCompletionRequest, tools, tool_choice: str) -> Any:
        """The reply's constraint: `response_format` as a JSON constraint, else the chat format's tool-call
        constraint for `tools` + `tool_choice` (auto: free text until a call starts, then a valid call;
        required / named: a valid call; none: no call), else None."""
        from llamasys.core_model.structured import ConstraintError, constraint_from_response_format

        fmt = request.response_format
        if fmt is not None and fmt.type != "text":
            if tools and tool_choice != "none":
                raise APIError(
                    400,
                    "response_format and tools together are not supported: drop one, or set tool_choice 'none'",
                    param="response_format",
                )
            try:
                return constraint_from_response_format(fmt.model_dump(exclude_none=True))
            except (ConstraintError, ValueError) as exc:
                raise APIError(400, f"response_format: {exc}", param="response_format") from None
        if not tools or not self.constrain_tools:
            return None
        try:
            return self.fmt.reply_constraint(tools, tool_choice)
        except ValueError as exc:
            raise APIError(400, f"tools: {exc}", param="tools") from None

    def prepare(self, request: ChatCompletionRequest) -> Prepared:
        """Validate `request` and build its prompt and sampling. Raises APIError (400, 404, 413)."""
        from llamasys.core_model import SamplingParams

        if request.model != self.model_id:
            raise APIError(
                404,
                f"model {request.model!r} is not served here: this server serves {self.model_id!r} (GET /v1/models)",
                param="model",
                code="model_not_found",
            )
        if request.n not in (None, 1):
            raise APIError(400, "n > 1 is not supported: send one request per choice", param="n")
        for name in ("frequency_penalty", "presence_penalty"):
            if getattr(request, name):
                raise APIError(400, f"{name} is not supported: leave it out or 0", param=name)
        stops = [request.stop] if isinstance(request.stop, str) else list(request.stop or [])
        if len(stops) > 4 or any(not s for s in stops):
            raise APIError(400, "stop takes up to 4 non-empty strings", param="stop")
        if request.top_logprobs and not request.logprobs:
            raise APIError(400, "top_logprobs needs logprobs: true", param="top_logprobs")
        tools = [
            ToolDefinition(
                name=t.function.name, description=t.function.description, parameters=t.function.parameters
            )
            for t in request.tools or []
        ]
        if len({t.name for t in tools}) != len(tools):
            raise APIError(400, "two tools share a name: tool names must be unique", param="tools")
        tool_choice = self._tool_choice(request, tools)
        messages = to_messages(request)
        constraint = self._constraint(request, tools, tool_choice)
        try:
            prompt = self.fmt.encode_dialog_prompt(messages, tools=tools, tool_choice=tool_choice)
        except ValueError as exc:
            raise APIError(400, f"cannot build the prompt: {exc}", param="messages") from None
        room = self.engine.max_seq_len - len(prompt)
        budget = request.max_completion_tokens or request.max_tokens
        if room < 1 or (budget is not None and budget > room):
            raise APIError(
                413,
                f"the prompt is {len(prompt)} tokens and the reply may take {budget or 1}: more than the "
                f"model's {self.engine.max_seq_len}-token context. Shorten the messages or lower max_tokens.",
                param="messages",
                code="context_length_exceeded",
            )
        temperature = request.temperature if request.temperature is not None else self.default_temperature
        kwargs: dict[str, Any] = {
            "temperature": temperature,
            "top_p": (request.top_p if request.top_p is not None else self.default_top_p)
            if temperature
            else 1.0,
            "seed": request.seed,
            "max_tokens": budget or room,
            "stop": tuple(stops),
            "stop_token_ids": tuple(sorted(self.fmt.stop_token_ids)),
            "logprobs": (request.top_logprobs or True) if request.logprobs else False,
        }
        if constraint is not None:
            kwargs["constraint"] = constraint
        try:
            sampling = SamplingParams(**kwargs)
        except ValueError as exc:
            raise APIError(400, f"invalid sampling parameters: {exc}") from None
        return Prepared(
            prompt=prompt,
            sampling=sampling,
            messages=messages,
            tools=tools,
            stream=request.stream,
            include_usage=bool(request.stream_options and request.stream_options.include_usage),
            logprobs=bool(request.logprobs),
            top_logprobs=request.top_logprobs or 0,
        )

    def submit(self, prepared: Prepared) -> GenerationRequest:
        try:
            return self.generator.submit(prepared.prompt, prepared.sampling)
        except EngineBusyError as exc:
            raise APIError(429, str(exc), code="engine_busy", headers={"Retry-After": "1"}) from None
        except SequenceTooLongError as exc:
            raise APIError(413, str(exc), param="messages", code="context_length_exceeded") from None
        except ValueError as exc:  # a constraint the grammar engine cannot compile, a bad token id
            raise APIError(400, str(exc), code="invalid_request") from None
        except ModelError as exc:  # the engine's scheduler is shut down or failed
            raise APIError(
                503, f"the engine cannot take requests: {exc}", code="engine_unavailable"
            ) from None

    # -- engine -> OpenAI ----------------------------------------------------------------------

    def _logprob_entry(self, token_id: int, logprob: float, top: list[tuple[int, float]] | None) -> dict:
        def one(tid: int, lp: float) -> dict[str, Any]:
            raw = self.fmt.tokenizer.decode_bytes([tid])
            return {"token": raw.decode("utf-8", errors="replace"), "logprob": lp, "bytes": list(raw)}

        entry = one(token_id, logprob)
        entry["top_logprobs"] = [one(t, lp) for t, lp in (top or [])]
        return entry

    def _completion_logprobs(self, completion: Any) -> list[dict[str, Any]]:
        stops = self.fmt.stop_token_ids
        return [
            self._logprob_entry(lp.token_id, lp.logprob, lp.top)
            for lp in completion.logprobs or []
            if lp.token_id not in stops
        ]

    @staticmethod
    def _finish_reason(message: AssistantMessage, stop_reason: StopReason) -> str:
        if message.tool_calls:
            return "tool_calls"
        return "length" if stop_reason == StopReason.out_of_tokens else "stop"

    @staticmethod
    def _usage(completion: Any) -> dict[str, int]:
        prompt, generated = completion.prompt_tokens, len(completion.tokens)
        return {"prompt_tokens": prompt, "completion_tokens": generated, "total_tokens": prompt + generated}

    def _base(self, prepared: Prepared, obj: str) -> dict[str, Any]:
        return {
            "id": prepared.completion_id,
            "object": obj,
            "created": prepared.created,
            "model": self.model_id,
        }

    async def _input_refusal(self, prepared: Prepared) -> str | None:
        if not self.input_shields:
            return None
        return await self.shield(prepared.messages, "user_input")  # type: ignore[misc]

    def _refusal_body(self, prepared: Prepared, refusal: str) -> dict[str, Any]:
        body = self._base(prepared, "chat.completion")
        body["choices"] = [
            {
                "index": 0,
                "message": {"role": "assistant", "content": refusal, "refusal": None},
                "logprobs": None,
                "finish_reason": "content_filter",
            }
        ]
        body["usage"] = {
            "prompt_tokens": len(prepared.prompt),
            "completion_tokens": 0,
            "total_tokens": len(prepared.prompt),
        }
        return body

    async def complete(
        self, prepared: Prepared, disconnected: Callable[[], Awaitable[bool]]
    ) -> dict[str, Any]:
        """The whole reply as a `chat.completion` body. Cancels generation when `disconnected()` says so."""
        refusal = await self._input_refusal(prepared)
        if refusal is not None:
            return self._refusal_body(prepared, refusal)
        request = self.submit(prepared)
        final = await self._collect(request, disconnected)
        completion = final.completion
        message = self.fmt.decode_assistant_message(completion.tokens, completion.stop_reason)
        message = _cut_stop(message, completion.stop_string)
        finish = self._finish_reason(message, completion.stop_reason)
        if self.output_shields:
            answer = AssistantMessage(content=message.content, tool_calls=message.tool_calls)
            refusal = await self.shield([*prepared.messages, answer], "assistant_output")  # type: ignore[misc]
            if refusal is not None:
                return self._refusal_body(prepared, refusal) | {"usage": self._usage(completion)}
        body = self._base(prepared, "chat.completion")
        reply: dict[str, Any] = {
            "role": "assistant",
            "content": message.content if message.content or not message.tool_calls else None,
            "refusal": None,
        }
        if message.tool_calls:
            reply["tool_calls"] = tool_calls_json(message.tool_calls)
        logprobs = (
            {"content": self._completion_logprobs(completion), "refusal": None} if prepared.logprobs else None
        )
        body["choices"] = [{"index": 0, "message": reply, "logprobs": logprobs, "finish_reason": finish}]
        body["usage"] = self._usage(completion)
        return body

    async def _collect(self, request: GenerationRequest, disconnected: Callable[[], Awaitable[bool]]) -> Any:
        async def run() -> Any:
            final = None
            async for event in request:
                if event.token_id is None:
                    final = event
            return final

        self.stats["running"] += 1
        task = asyncio.ensure_future(run())
        try:
            while True:
                done, _ = await asyncio.wait({task}, timeout=0.25)
                if done:
                    break
                if await disconnected():
                    request.cancel()
                    task.cancel()
                    self.stats["cancelled"] += 1
                    raise APIError(499, "the client closed the connection", code="client_closed_request")
            final = task.result()
        except (asyncio.CancelledError, APIError):
            request.cancel()
            raise
        except Exception:
            self.stats["failed"] += 1
            raise
        finally:
            self.stats["running"] -= 1
        if final is None or final.completion is None:
            self.stats["cancelled"] += 1
            raise APIError(503, "the engine stopped this request before it completed", code="cancelled")
        self.stats["completed"] += 1
        return final

    # -- streaming -----------------------------------------------------------------------------

    def _chunk(self, prepared: Prepared, delta: dict, finish: str | None = None, logprobs=None) -> dict:
        body = self._base(prepared, "chat.completion.chunk")
        choice: dict[str, Any] = {"index": 0, "delta": delta, "logprobs": logprobs, "finish_reason": finish}
        body["choices"] = [choice]
        if prepared.include_usage:
            body["usage"] = None
        return body

    async def stream(self, prepared: Prepared) -> AsyncIterator[dict[str, Any]]:
        """`chat.completion.chunk` bodies. Submits at once (so busy / too-long errors come before the first
        byte): call it, then iterate. Closing the iterator (a client that went away) cancels generation."""
        refusal = await self._input_refusal(prepared)
        request = None if refusal is not None else self.submit(prepared)
        return self._chunks(prepared, request, refusal)

    async def _chunks(
        self, prepared: Prepared, request: GenerationRequest | None, refusal: str | None
    ) -> AsyncIterator[dict[str, Any]]:
        yield self._chunk(prepared, {"role": "assistant", "content": ""})
        if request is None:
            yield self._chunk(prepared, {"content": refusal})
            yield self._chunk(prepared, {}, "content_filter")
            if prepared.include_usage:
                usage = {"prompt_tokens": len(prepared.prompt), "completion_tokens": 0}
                usage["total_tokens"] = usage["prompt_tokens"]
                yield self._base(prepared, "chat.completion.chunk") | {"choices": [], "usage": usage}
            return
        buffered = self.output_shields  # the answer must be judged before anyone sees it
        per_token_logprobs = prepared.logprobs and not prepared.top_logprobs and not buffered
        parser = self.fmt.stream_parser()
        pending_lp: list[dict[str, Any]] = []
        stops = prepared.sampling.stop
        held, stopped = "", False  # text not sent yet (it may start a stop string); a stop string was seen
        final = None
        self.stats["running"] += 1
        finished = False
        try:
            async for event in request:
                if event.token_id is None:
                    final = event
                    break
                if per_token_logprobs and event.token_id not in self.fmt.stop_token_ids:
                    pending_lp.append(self._logprob_entry(event.token_id, event.logprob or 0.0, None))
                held += "".join(d.text for d in parser.feed(event.token_id) if d.type == "text")
                if stopped or buffered:
                    continue
                text, held, stopped = _hold_for_stops(held, stops)
                if text:
                    lp = {"content": pending_lp, "refusal": None} if per_token_logprobs else None
                    pending_lp = []
                    yield self._chunk(prepared, {"content": text}, logprobs=lp)
            if final is None or final.completion is None:
                raise APIError(503, "the engine stopped this request before it completed", code="cancelled")
            completion = final.completion
            tail = parser.flush()
            message = _cut_stop(parser.finish(completion.stop_reason), completion.stop_string)
            finish = self._finish_reason(message, completion.stop_reason)
            if buffered:
                answer = AssistantMessage(content=message.content, tool_calls=message.tool_calls)
                refusal = await self.shield([*prepared.messages, answer], "assistant_output")  # type: ignore[misc]
                if refusal is not None:
                    yield self._chunk(prepared, {"content": refusal})
                    finish, message = "content_filter", AssistantMessage()
                elif message.content and not message.tool_calls:
                    yield self._chunk(prepared, {"content": message.content})
            else:
                text = "" if stopped else held + "".join(d.text for d in tail if d.type == "text")
                if completion.stop_string and not stopped:
                    text = _hold_for_stops(text, stops)[0]
                if text or pending_lp:
                    lp = {"content": pending_lp, "refusal": None} if per_token_logprobs else None
                    yield self._chunk(prepared, {"content": text} if text else {}, logprobs=lp)
            for index, call in enumerate(tool_calls_json(message.tool_calls)):
                yield self._chunk(prepared, {"tool_calls": [{"index": index, **call}]})
            if prepared.logprobs and not per_token_logprobs and finish != "content_filter":
                entries = self._completion_logprobs(completion)
                yield self._chunk(prepared, {}, logprobs={"content": entries, "refusal": None})
            yield self._chunk(prepared, {}, finish)
            if prepared.include_usage:
                yield self._base(prepared, "chat.completion.chunk") | {
                    "choices": [],
                    "usage": self._usage(completion),
                }
            finished = True
            self.stats["completed"] += 1
        finally:
            self.stats["running"] -= 1
            if not finished:
                request.cancel()
                self.stats["cancelled"] += 1
