"""Chat formats: messages -> prompt token ids, completion token ids -> `AssistantMessage` (text + tool calls).

    ```python
    from llamasys.core_model.chat.format import make_chat_format
    fmt = make_chat_format(tokenizer)                      # Llama3ChatFormat for a Llama 3 tokenizer
    ids = fmt.encode_dialog_prompt([SystemMessage(content="Be brief."), UserMessage(content="Hi")])
    ids = fmt.encode_dialog_prompt(messages, tools=[web_search, get_weather], tool_choice="auto")
    reply = fmt.decode_assistant_message(completion_ids, StopReason.out_of_tokens)
    reply.content, reply.tool_calls, reply.parse_errors
    parser = fmt.stream_parser()                           # incremental: parser.feed(token_id) -> events
    ```

`ChatFormat` is the interface; two implementations, chosen from the model by `make_chat_format`:

- `Llama3ChatFormat` (this module) for tokenizers with `<|start_header_id|>`: Meta's Llama 3.1 / 3.2 format.
- `TemplateChatFormat` (`chat.template_format`) for other models (the SmolLM2 default): the model's own jinja
  chat template and the JSON `<tool_call>` convention.

Llama 3 encoding (Meta's Llama 3.1 prompt-format page on llama.com; llama-models 0.3.0 `llama3/chat_format.py`). `<|begin_of_text|>`, then per message
`<|start_header_id|>{role}<|end_header_id|>\\n\\n{content}` and `<|eot_id|>` (`<|eom_id|>` for an assistant
message whose stop_reason is end_of_message), then an open assistant header. Tool results use the
`ipython` role. A user message's `context` is appended as `"\\n\\n" + context`. The role, the `"\\n\\n"`, the
content, the context and each tool call are tokenized as separate pieces, as Meta's reference encoder does.
Message text is encoded with `allow_special=False`: text that spells `<|eot_id|>` can never end a turn.

The system-prompt builder is applied INSIDE `encode_dialog_prompt`, and only when tools are offered
(`tools` non-empty and tool_choice not "none", see `system_prompt.prepare_tool_dialog`). Without tools the
messages are encoded exactly as given, with no date header: the builder-free path is byte-identical to Meta's
reference `ChatFormat.encode_dialog_prompt`. Call `system_prompt.build_system_prompt` yourself for the
`Cutting Knowledge Date` header without tools.

Replaying assistant tool calls. Meta's reference encoder writes `<|python_tag|>` only before code-interpreter
calls, while its prompt-format documents (and the model's own output) show it before built-in calls too
(`<|python_tag|>brave_search.call(query="...")<|eom_id|>`), before JSON calls and before Llama 3.2's
`[f(...)]` in history. We deliberately follow the documents, i.e. we re-encode history the way the model wrote
it: `<|python_tag|>` before built-in, code, `json` and `python_list` calls, none before `<function=...>`
calls. This is the one place where our tokens differ from the reference encoder (a test pins the difference).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import date
from typing import Protocol, runtime_checkable

from llamasys.core_model.chat.stream_parser import (
    CompletionDecoder,
    CompletionSyntax,
    StreamParser,
    llama3_start_opening,
)
from llamasys.core_model.chat.system_prompt import prepare_tool_dialog
from llamasys.core_model.chat.template_format import CHATML_TEMPLATE, TemplateChatFormat
from llamasys.core_model.chat.tool_call_codec import (
    ChatFormatError,
    ToolPromptFormat,
    encode_tool_call_segments,
    parse_llama3_completion,
)
from llamasys.core_model.errors import TokenizerError
from llamasys.core_model.messages import (
    AssistantMessage,
    Message,
    StopReason,
    ToolDefinition,
    ToolResponseMessage,
    UserMessage,
    to_messages,
)
from llamasys.core_model.tokenizers.base import Tokenizer

__all__ = ["ChatFormat", "ChatFormatError", "Llama3ChatFormat", "make_chat_format", "to_messages"]

log = logging.getLogger(__name__)


@runtime_checkable
class ChatFormat(Protocol):
    """What the engine and the orchestrator need from a chat format."""

    tokenizer: Tokenizer

    @property
    def stop_token_ids(self) -> frozenset[int]:
        """Token ids that end a completion."""
        ...

    def encode_dialog_prompt(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[ToolDefinition] = (),
        tool_prompt_format: ToolPromptFormat = "json",
        tool_choice: str = "auto",
    ) -> list[int]:
        """Prompt token ids ending with an open assistant turn; tools are described as the format prescribes."""
        ...

    def decode_assistant_message(
        self, tokens: Sequence[int], stop_reason: StopReason = StopReason.out_of_tokens
    ) -> AssistantMessage:
        """Text and tool calls of a completion. Never raises: unparsable calls become text + parse_errors."""
        ...

    def stream_parser(self) -> StreamParser:
        """A fresh incremental parser whose `finish()` equals `decode_assistant_message`."""
        ...


class Llama3ChatFormat(CompletionDecoder):
    """Meta's Llama 3.1 / 3.2 chat format and tool-call protocol (see the module docstring)."""

    def __init__(self, tokenizer: Tokenizer, *, today: Callable[[], date] = date.today) -> None:
        self.tokenizer = tokenizer
        self.today = today
        try:
            sid = tokenizer.special_id
            self._begin = sid("<|begin_of_text|>")
            self._start_header = sid("<|start_header_id|>")
            self._end_header = sid("<|end_header_id|>")
            self._eot = sid("<|eot_id|>")
            self._eom = sid("<|eom_id|>")
            self._python_tag = sid("<|python_tag|>")
            end_of_text = sid("<|end_of_text|>")
        except TokenizerError as exc:
            raise ChatFormatError(f"not a Llama 3.1 tokenizer: {exc}") from None
        stop_reasons = {end_of_text: StopReason.end_of_turn, self._eot: StopReason.end_of_turn}
        stop_reasons.update({t: StopReason.end_of_turn for t in tokenizer.stop_ids})
        stop_reasons[self._eom] = StopReason.end_of_message
        self._syntax = CompletionSyntax(
            stop_reasons=stop_reasons,
            parse=parse_llama3_completion,
            python_tag_id=self._python_tag,
            header_ids=(self._start_header, self._end_header),
            inline_openings=("<function=",),
            start_opening=llama3_start_opening,
        )

    # -- encoding ----------------------------------------------------------------------------------

    def _text(self, text: str) -> list[int]:
        return self.tokenizer.encode(text, allow_special=False) if text else []

    def encode_header(self, role: str) -> list[int]:
        """`<|start_header_id|>{role}<|end_header_id|>\\n\\n`."""
        return [self._start_header, *self._text(role), self._end_header, *self._text("\n\n")]

    def encode_message(self, message: Message, tool_prompt_format: ToolPromptFormat = "json") -> list[int]:
        """One message with its header and its `<|eot_id|>` / `<|eom_id|>` terminator."""
        role = "ipython" if isinstance(message, ToolResponseMessage) else message.role
        tokens = self.encode_header(role)
        tokens += self._text(message.content)
        if isinstance(message, UserMessage) and message.context is not None:
            tokens += self._text("\n\n")
            tokens += self._text(message.context)
        end_of_message = False
        if isinstance(message, AssistantMessage):
            for tagged, text in encode_tool_call_segments(message.tool_calls, tool_prompt_format):
                if tagged:
                    tokens.append(self._python_tag)
                tokens += self._text(text)
            end_of_message = message.stop_reason == StopReason.end_of_message
        tokens.append(self._eom if end_of_message else self._eot)
        return tokens

    def encode_dialog_prompt(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[ToolDefinition] = (),
        tool_prompt_format: ToolPromptFormat = "json",
        tool_choice: str = "auto",
    ) -> list[int]:
        dialog = prepare_tool_dialog(
            to_messages(messages),
            list(tools),
            tool_prompt_format=tool_prompt_format,
            tool_choice=tool_choice,
            today=self.today() if tools else None,
        )
        tokens = [self._begin]
        for message in dialog:
            tokens += self.encode_message(message, tool_prompt_format)
        return tokens + self.encode_header("assistant")


def _has_special(tokenizer: Tokenizer, token: str) -> bool:
    try:
        tokenizer.special_id(token)
    except (TokenizerError, KeyError, ValueError):
        return False
    return True


def make_chat_format(tokenizer: Tokenizer, chat_template: str | None = None) -> ChatFormat:
    """The chat format for a model: Llama 3 when the tokenizer has `<|start_header_id|>`, else its template.

    `chat_template` is the jinja template from the model (GGUF `tokenizer.chat_template` or
    `tokenizer_config.json`); a ChatML tokenizer without one falls back to plain ChatML, with a warning.
    """
    if _has_special(tokenizer, "<|start_header_id|>"):
        return Llama3ChatFormat(tokenizer)
    if chat_template:
        return TemplateChatFormat(tokenizer, chat_template)
    if _has_special(tokenizer, "<|im_start|>"):
        log.warning("model has no chat template; using plain ChatML (<|im_start|>role ... <|im_end|>)")
        return TemplateChatFormat(tokenizer, CHATML_TEMPLATE)
    raise ChatFormatError(
        f"{tokenizer!r} is not a Llama 3 tokenizer and the model has no chat template: pass chat_template= "
        "(the jinja template from the model's tokenizer_config.json or GGUF tokenizer.chat_template)"
    )
