"""Turn completion tokens into an `AssistantMessage`: in one go, or incrementally while streaming.

    ```python
    parser = chat_format.stream_parser()
    for token_id in engine_tokens:
        for event in parser.feed(token_id):
            if event.type == "text":
                print(event.text, end="")
    tail = parser.flush()            # held-back text, then the parsed calls / parse errors as events
    message = parser.finish(StopReason.out_of_tokens)   # == chat_format.decode_assistant_message(...)
    ```

Events (pydantic, discriminated by `type`):

- `TextDelta(text)`: text for the user, emitted as soon as it cannot be the start of a tool call. Text that
  might open a call (`{"name"`, `[f(`, `brave_search.call(`, a partial `<function=`) is held back until
  it is clearly one thing or the other.
- `ToolCallDelta(text)`: raw text of a tool call being written, from its opening (`<|python_tag|>`, which
  gives an empty first delta, or the call syntax itself) on.
- `ToolCallParsed(tool_call)` and `ToolCallParseError(error)`: from `flush()`, once the completion is over.

Invariant: when the final message has no tool calls, the `TextDelta`s (including `flush()`'s) concatenate
to exactly its content. `finish()` rebuilds the message from the incrementally decoded text, with the same
rules as the one-shot `decode_completion`; the tests check the two agree token by token.

Both paths cut at the first stop token (its kind sets the stop reason), drop a leading
`<|start_header_id|>...<|end_header_id|>` header and the `\\n\\n` after it, split at `<|python_tag|>` tokens,
and decode each piece's bytes as UTF-8 with replacement. Token ids outside the vocabulary are dropped and
reported in `parse_errors`. Nothing here raises on model output.
"""

from __future__ import annotations

import codecs
import dataclasses
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from llamasys.core_model.chat.tool_call_codec import DecodedCompletion, ToolPromptFormat
from llamasys.core_model.messages import AssistantMessage, StopReason, ToolCall, ToolDefinition
from llamasys.core_model.tokenizers.base import Tokenizer

__all__ = [
    "CompletionDecoder",
    "CompletionSyntax",
    "ParseEvent",
    "StreamParser",
    "TextDelta",
    "ToolCallDelta",
    "ToolCallParseError",
    "ToolCallParsed",
    "decode_completion",
    "json_start_opening",
    "llama3_start_opening",
]


class TextDelta(BaseModel):
    type: Literal["text"] = "text"
    text: str


class ToolCallDelta(BaseModel):
    type: Literal["tool_call_delta"] = "tool_call_delta"
    text: str


class ToolCallParsed(BaseModel):
    type: Literal["tool_call"] = "tool_call"
    tool_call: ToolCall


class ToolCallParseError(BaseModel):
    type: Literal["parse_error"] = "parse_error"
    error: str


ParseEvent = Annotated[
    TextDelta | ToolCallDelta | ToolCallParsed | ToolCallParseError, Field(discriminator="type")
]

Opening = Literal["yes", "maybe", "no"]
_IDENT = re.compile(r"[^\W\d]\w*")
_JSON_KEYS = ('"name"', '"type"', '"function"', "'name'", "'type'", "'function'")


def _json_key_opening(rest: str) -> Opening:
    rest = rest.lstrip()
    if not rest:
        return "maybe"
    if any(rest.startswith(key) for key in _JSON_KEYS):
        return "yes"
    if any(key.startswith(rest) for key in _JSON_KEYS):
        return "maybe"
    return "no"


def json_start_opening(text: str) -> Opening:
    """Whether a message starting with `text` (left-stripped) opens a JSON tool call."""
    if not text:
        return "maybe"
    if text[0] == "{":
        return _json_key_opening(text[1:])
    if text[0] == "[":
        rest = text[1:].lstrip()
        if not rest:
            return "maybe"
        return _json_key_opening(rest[1:]) if rest[0] == "{" else "no"
    return "no"


def llama3_start_opening(text: str) -> Opening:
    """Like `json_start_opening`, plus Llama's `[f(` python list and `name.call(` built-in syntax."""
    verdict = json_start_opening(text)
    if verdict != "no" or not text:
        return verdict
    if text[0] == "[":
        rest = text[1:].lstrip()
        ident = _IDENT.match(rest)
        if ident is None:
            return "no"
        after = rest[ident.end() :].lstrip()
        if not after:
            return "maybe"
        return "yes" if after[0] == "(" else "no"
    ident = _IDENT.match(text)
    if ident is None:
        return "no"
    after = text[ident.end() :]
    if after.startswith(".call("):
        return "yes"
    return "maybe" if ".call(".startswith(after) else "no"


@dataclass(frozen=True)
class CompletionSyntax:
    """How a chat format's completions are split and parsed (shared by one-shot and streaming decoding)."""

    stop_reasons: dict[int, StopReason]
    """Stop token id -> the stop reason it means (Llama 3: eom -> end_of_message, eot/eos -> end_of_turn)."""
    parse: Callable[[str, list[str]], DecodedCompletion]
    """(text before the first python tag, text after each python tag) -> content, calls, errors."""
    python_tag_id: int | None = None
    header_ids: tuple[int, int] | None = None
    inline_openings: tuple[str, ...] = ()
    """Strings that open a tool call anywhere in the text (`<function=`, `<tool_call>`)."""
    start_opening: Callable[[str], Opening] = json_start_opening
    """Whether the (left-stripped) start of the message opens a tool call."""


def _valid_ids(tokenizer: Tokenizer, tokens: Sequence[int], errors: list[str]) -> list[int]:
    ids = []
    for token in tokens:
        token = int(token)
        if 0 <= token < tokenizer.vocab_size:
            ids.append(token)
        else:
            errors.append(
                f"token id {token} is outside the vocabulary (0..{tokenizer.vocab_size - 1}); dropped"
            )
    return ids


def _message(decoded: DecodedCompletion, stop_reason: StopReason, errors: list[str]) -> AssistantMessage:
    return AssistantMessage(
        content=decoded.content,
        tool_calls=decoded.tool_calls,
        stop_reason=stop_reason,
        parse_errors=errors + decoded.errors,
    )


def decode_completion(
    tokenizer: Tokenizer,
    syntax: CompletionSyntax,
    tokens: Sequence[int],
    stop_reason: StopReason = StopReason.out_of_tokens,
) -> AssistantMessage:
    """One-shot decoding of a completion's token ids (the rules are in the module docstring)."""
    errors: list[str] = []
    ids = _valid_ids(tokenizer, tokens, errors)
    for i, token in enumerate(ids):
        if token in syntax.stop_reasons:
            stop_reason = syntax.stop_reasons[token]
            ids = ids[:i]
            break
    strip_newlines = False
    if syntax.header_ids and ids and ids[0] == syntax.header_ids[0] and syntax.header_ids[1] in ids:
        ids = ids[ids.index(syntax.header_ids[1]) + 1 :]
        strip_newlines = True
    pieces: list[list[int]] = [[]]
    for token in ids:
        if token == syntax.python_tag_id:
            pieces.append([])
        else:
            pieces[-1].append(token)
    texts = [tokenizer.decode_bytes(piece).decode("utf-8", errors="replace") for piece in pieces]
    if strip_newlines and texts[0].startswith("\n\n"):
        texts[0] = texts[0][2:]
    return _message(syntax.parse(texts[0], texts[1:]), stop_reason, errors)


def _held_suffix(text: str, openings: Sequence[str]) -> int:
    """Length of the longest suffix of `text` that is a proper prefix of one of `openings`."""
    best = 0
    for opening in openings:
        for size in range(min(len(opening) - 1, len(text)), best, -1):
            if text.endswith(opening[:size]):
                best = size
                break
    return best


class StreamParser:
    """Incremental decoder for one completion. Create one per completion with `chat_format.stream_parser()`."""

    def __init__(self, tokenizer: Tokenizer, syntax: CompletionSyntax) -> None:
        self._tokenizer = tokenizer
        self._syntax = syntax
        self._errors: list[str] = []
        self._texts: list[str] = [""]  # decoded text of each python-tag-separated piece
        self._utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._stop_reason: StopReason | None = None
        self._first = True
        self._in_header = False
        self._header_ids: list[int] = []
        self._header_stripped = False
        # display state
        self._in_call = False
        self._pending_newlines = False  # after a header: hold "\n" until the "\n\n" can be stripped
        self._held = ""  # prefix text not yet emitted
        self._shown = ""  # text emitted as TextDelta so far
        self._started = False  # a non-whitespace TextDelta was emitted (start-of-message rules are over)
        self._cache: tuple[list[str], DecodedCompletion] | None = None

    # -- feeding -----------------------------------------------------------------------------------

    def feed(self, token_id: int) -> list[ParseEvent]:
        """Consume one generated token; return the events it completes (often none)."""
        if self._stop_reason is not None:
            return []
        errors: list[str] = []
        valid = _valid_ids(self._tokenizer, [token_id], errors)
        self._errors.extend(errors)
        if not valid:
            return []
        token = valid[0]
        if token in self._syntax.stop_reasons:
            self._stop_reason = self._syntax.stop_reasons[token]
            return []
        header = self._syntax.header_ids
        if self._first:
            self._first = False
            if header is not None and token == header[0]:
                self._in_header = True
        if self._in_header:
            self._header_ids.append(token)
            if token == header[1]:  # type: ignore[index]
                self._in_header = False
                self._header_ids = []
                self._header_stripped = True
                self._pending_newlines = True
            return []
        return self._feed_body(token)

    def _feed_body(self, token: int) -> list[ParseEvent]:
        if token == self._syntax.python_tag_id:
            self._texts[-1] += self._utf8.decode(b"", final=True)
            self._utf8.reset()
            self._texts.append("")
            events: list[ParseEvent] = []
            if not self._in_call:
                events.extend(self._release(self._take_held()))
                self._in_call = True
                events.append(ToolCallDelta(text=""))
            return events
        text = self._utf8.decode(self._tokenizer.decode_bytes([token]))
        self._texts[-1] += text
        return self._on_text(text) if text else []

    def _take_held(self) -> str:
        held, self._held = self._held, ""
        if self._pending_newlines:
            self._pending_newlines = False
            if held.startswith("\n\n"):
                held = held[2:]
        return held

    def _release(self, text: str) -> list[ParseEvent]:
        if not text:
            return []
        self._shown += text
        if text.strip():
            self._started = True
        return [TextDelta(text=text)]

    def _on_text(self, text: str) -> list[ParseEvent]:
        if self._in_call:
            return [ToolCallDelta(text=text)]
        self._held += text
        if self._pending_newlines:
            if self._held in ("", "\n"):
                return []
            self._held = self._take_held()
        events: list[ParseEvent] = []
        if not self._started:
            verdict = self._syntax.start_opening(self._held.lstrip())
            if verdict == "maybe":
                return []
            if verdict == "yes":
                self._in_call = True
                return [ToolCallDelta(text=self._take_held())]
            # Leading whitespace before the first word is released with it.
        held = self._held
        starts = [(held.find(o), o) for o in self._syntax.inline_openings if o in held]
        if starts:
            at = min(starts)[0]
            self._held = ""
            events.extend(self._release(held[:at]))
            self._in_call = True
            events.append(ToolCallDelta(text=held[at:]))
            return events
        keep = _held_suffix(held, self._syntax.inline_openings)
        self._held = held[len(held) - keep :] if keep else ""
        events.extend(self._release(held[: len(held) - keep]))
        return events

    # -- ending ------------------------------------------------------------------------------------

    def _texts_now(self) -> list[str]:
        texts = list(self._texts)
        # Bytes of an unfinished character: decoded with replacement, as the one-shot path does, without
        # disturbing the live decoder (more tokens may still come).
        buffered, _ = self._utf8.getstate()
        if buffered:
            texts[-1] += buffered.decode("utf-8", errors="replace")
        if self._in_header:  # the header never closed: its tokens are ordinary text
            replay = StreamParser(self._tokenizer, dataclasses.replace(self._syntax, header_ids=None))
            for token in self._header_ids:
                replay.feed(token)
            return replay._texts_now()
        if self._header_stripped and texts[0].startswith("\n\n"):
            texts[0] = texts[0][2:]
        return texts

    def _decoded(self) -> DecodedCompletion:
        # Cached per amount of text so flush() and finish() report the same calls (same call ids).
        texts = self._texts_now()
        if self._cache is None or self._cache[0] != texts:
            self._cache = (texts, self._syntax.parse(texts[0], texts[1:]))
        return self._cache[1]

    def flush(self) -> list[ParseEvent]:
        """Events for the end of the completion: remaining text, then each parsed call or parse error."""
        decoded = self._decoded()
        events: list[ParseEvent] = []
        if not decoded.tool_calls:
            rest = decoded.content[len(self._shown) :] if decoded.content.startswith(self._shown) else ""
            events.extend(self._release(rest))
        events.extend(ToolCallParsed(tool_call=call) for call in decoded.tool_calls)
        events.extend(ToolCallParseError(error=error) for error in self._errors + decoded.errors)
        self._held = ""
        return events

    def finish(self, stop_reason: StopReason = StopReason.out_of_tokens) -> AssistantMessage:
        """The whole message. A stop token seen while feeding decides the stop reason; else `stop_reason`."""
        reason = self._stop_reason if self._stop_reason is not None else stop_reason
        return _message(self._decoded(), reason, list(self._errors))


class CompletionDecoder:
    """The decoding half of a chat format, shared by `Llama3ChatFormat` and `TemplateChatFormat`: subclasses
    set `tokenizer` and `_syntax` in `__init__`."""

    tokenizer: Tokenizer
    _syntax: CompletionSyntax

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.tokenizer!r})"

    def reply_constraint(
        self,
        tools: Sequence[ToolDefinition] = (),
        tool_choice: str = "auto",
        tool_prompt_format: ToolPromptFormat = "json",
        parallel_tool_calls: bool | None = None,
    ):
        """The constraint (`SamplingParams.constraint`) that makes the reply to `encode_dialog_prompt(...,
        tools, tool_choice, tool_prompt_format)` valid tool calls; None if unconstrained (`chat.constraints`)."""
        from llamasys.core_model.chat.constraints import reply_constraint

        return reply_constraint(
            self,
            tools,
            tool_choice,
            tool_prompt_format=tool_prompt_format,
            parallel_tool_calls=parallel_tool_calls,
        )

    @property
    def stop_token_ids(self) -> frozenset[int]:
        """Token ids that end a completion."""
        return frozenset(self._syntax.stop_reasons)

    def decode_assistant_message(
        self, tokens: Sequence[int], stop_reason: StopReason = StopReason.out_of_tokens
    ) -> AssistantMessage:
        """Text and tool calls of a completion. Never raises: unparsable calls become text + parse_errors."""
        return decode_completion(self.tokenizer, self._syntax, tokens, stop_reason)

    def stream_parser(self) -> StreamParser:
        """A fresh incremental parser whose `finish()` equals `decode_assistant_message`."""
        return StreamParser(self.tokenizer, self._syntax)
