"""Chat format for models that are not Llama 3 (the SmolLM2 default): the model's own jinja chat template.

    ```python
    fmt = TemplateChatFormat(tokenizer, chat_template)      # or make_chat_format(tokenizer, chat_template)
    ids = fmt.encode_dialog_prompt(messages, tools=[get_weather])
    fmt.decode_assistant_message(completion_ids).tool_calls
    ```

The template (GGUF `tokenizer.chat_template` or `tokenizer_config.json`'s `chat_template`) is rendered in a
sandboxed jinja environment (`jinja2.sandbox.ImmutableSandboxedEnvironment`, trim_blocks and lstrip_blocks
on, the `loopcontrols` extension, `raise_exception`, `strftime_now` and a non-escaping `tojson`, the same
environment Hugging Face transformers gives templates), with `messages`, `tools`, `add_generation_prompt=True`,
`bos_token` and `eos_token`. The result is identical to transformers' `apply_chat_template`.

Tool-call convention (one for every template model). The model calls tools by writing

    <tool_call>
    {"name": "get_weather", "arguments": {"city": "Paris"}}
    </tool_call>

one block per call, several allowed; text outside the blocks is the message content. How tools reach the
prompt depends on what the template supports:

- a template that reads `tools` gets them as `[{"type": "function", "function": {name, description,
  parameters}}]` (the Hugging Face convention); otherwise (SmolLM2's template) the tool list and the
  instruction above are appended to the system message (one is created if the dialog has none);
- a template that mentions `tool_calls` gets assistant calls as Hugging Face `tool_calls`; otherwise they are
  written into the assistant content as `<tool_call>` blocks;
- a template that handles a `tool` role gets tool results as `{"role": "tool", "content", "tool_call_id",
  "name"}`; otherwise each result becomes `<tool_response>\\n{content}\\n</tool_response>` in a user message
  (consecutive results share one user message).

tool_choice "required" or a tool name adds the same sentence as the Llama format; "none" offers no tools.
`tool_prompt_format` is accepted for interface compatibility and ignored. Templates have no eom token: a
tool-call message ends with end_of_turn, so look at `tool_calls`, not the stop reason.

Special-token text inside message content (a user typing `<|im_end|>`) is never turned into a special token:
before rendering, such text in every message and tool string is wrapped in private-use marker characters;
after rendering, only unmarked special-token text (written by the template itself) is encoded as special.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import jinja2
import jinja2.ext
import jinja2.meta
from jinja2.sandbox import ImmutableSandboxedEnvironment

from llamasys.core_model.chat.stream_parser import CompletionDecoder, CompletionSyntax, json_start_opening
from llamasys.core_model.chat.system_prompt import check_tool_choice, function_schema, tool_choice_instruction
from llamasys.core_model.chat.tool_call_codec import (
    ChatFormatError,
    DecodedCompletion,
    ToolPromptFormat,
    check_tool_prompt_format,
    encode_tagged_json_calls,
    parse_tagged_json_completion,
)
from llamasys.core_model.messages import (
    AssistantMessage,
    Message,
    StopReason,
    SystemMessage,
    ToolDefinition,
    ToolResponseMessage,
    UserMessage,
    to_messages,
)
from llamasys.core_model.tokenizers.base import Tokenizer

__all__ = ["CHATML_TEMPLATE", "TOOL_CALL_INSTRUCTIONS", "TemplateChatFormat", "tools_system_prompt"]

log = logging.getLogger(__name__)

CHATML_TEMPLATE = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + "
    "'<|im_end|>\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)

TOOL_CALL_INSTRUCTIONS = (
    "To call functions, reply with one <tool_call></tool_call> block per call, each holding a JSON object "
    "with the function name and its arguments:\n"
    "<tool_call>\n"
    '{"name": "function_name", "arguments": {"argument_name": "value"}}\n'
    "</tool_call>\n"
    "Function results come back in <tool_response></tool_response> blocks."
)

_MARK_START = "\ue000"
_MARK_END = "\ue001"
_TOOL_ROLE = re.compile(r"""['"]tool['"]""")


def tools_system_prompt(tools: Sequence[ToolDefinition]) -> str:
    """The tool list and calling instruction appended to the system message of templates without `tools`."""
    listing = "\n".join(json.dumps(function_schema(t), ensure_ascii=False) for t in tools)
    return (
        "You can call the functions below; each comes with a JSON Schema of its arguments.\n"
        f"<tools>\n{listing}\n</tools>\n\n{TOOL_CALL_INSTRUCTIONS}"
    )


def _tojson(
    value: Any,
    ensure_ascii: bool = False,
    indent: Any = None,
    separators: Any = None,
    sort_keys: bool = False,
) -> str:
    return json.dumps(
        value, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys
    )


def _raise_exception(message: str) -> None:
    raise jinja2.exceptions.TemplateError(message)


class TemplateChatFormat(CompletionDecoder):
    """A jinja chat template plus the `<tool_call>` JSON convention (see the module docstring)."""

    def __init__(
        self,
        tokenizer: Tokenizer,
        chat_template: str,
        *,
        bos_token: str | None = None,
        eos_token: str | None = None,
        now: Callable[[], datetime] = datetime.now,
    ) -> None:
        self.tokenizer = tokenizer
        self.chat_template = chat_template
        self.now = now
        env = ImmutableSandboxedEnvironment(
            trim_blocks=True, lstrip_blocks=True, extensions=[jinja2.ext.loopcontrols]
        )
        env.filters["tojson"] = _tojson
        env.globals["raise_exception"] = _raise_exception
        env.globals["strftime_now"] = lambda fmt: self.now().strftime(fmt)
        try:
            self._template = env.from_string(chat_template)
            variables = jinja2.meta.find_undeclared_variables(env.parse(chat_template))
        except jinja2.TemplateSyntaxError as exc:
            raise ChatFormatError(
                f"the model's chat template is not valid jinja (line {exc.lineno}: {exc.message}); "
                "pass a working chat_template"
            ) from None
        self.native_tools = "tools" in variables
        self.native_tool_calls = "tool_calls" in chat_template
        self.native_tool_role = bool(_TOOL_ROLE.search(chat_template))
        self.bos_token = bos_token if bos_token is not None else self._token_text(tokenizer.bos_id)
        self.eos_token = eos_token if eos_token is not None else self._token_text(tokenizer.eos_id)
        specials = getattr(tokenizer, "special_tokens", None)
        if not isinstance(specials, dict):
            specials = {
                tokenizer.decode([i]): i for i in range(tokenizer.vocab_size) if tokenizer.is_special(i)
            }
        self._specials: dict[str, int] = {text: int(i) for text, i in specials.items() if text}
        alternatives = "|".join(re.escape(t) for t in sorted(self._specials, key=len, reverse=True)) or "(?!)"
        self._special_re = re.compile(alternatives)
        self._split_re = re.compile(
            f"{_MARK_START}({alternatives}){_MARK_END}|({alternatives})|[{_MARK_START}{_MARK_END}]"
        )
        stops = {int(t): StopReason.end_of_turn for t in tokenizer.stop_ids}
        stops[int(tokenizer.eos_id)] = StopReason.end_of_turn
        self._syntax = CompletionSyntax(
            stop_reasons=stops,
            parse=_parse_template_completion,
            inline_openings=("<tool_call>",),
            start_opening=json_start_opening,
        )

    def _token_text(self, token_id: int | None) -> str:
        return self.tokenizer.decode([token_id]) if token_id is not None else ""

    # -- rendering ---------------------------------------------------------------------------------

    def template_messages(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[ToolDefinition] = (),
        tool_choice: str = "auto",
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]] | None]:
        """The (messages, tools) the template is rendered with, as plain dicts."""
        messages = to_messages(messages)
        check_tool_choice(tool_choice, tools)
        tools = [] if tool_choice == "none" else list(tools)
        extra_system = []
        if tools and not self.native_tools:
            extra_system.append(tools_system_prompt(tools))
        if tools and (choice := tool_choice_instruction(tool_choice)):
            extra_system.append(choice)
        out: list[dict[str, Any]] = []
        if extra_system:
            if messages and isinstance(messages[0], SystemMessage):
                extra_system.insert(0, messages.pop(0).content)
            out.append({"role": "system", "content": "\n\n".join(extra_system)})
        previous: Message | None = None
        for message in messages:
            entry = self._message_dict(message)
            merge = isinstance(previous, ToolResponseMessage) and isinstance(message, ToolResponseMessage)
            if merge and not self.native_tool_role:  # consecutive results share one user message
                out[-1]["content"] += "\n" + entry["content"]
            else:
                out.append(entry)
            previous = message
        schemas = [function_schema(t) for t in tools] if tools and self.native_tools else None
        return out, schemas

    def _message_dict(self, message: Message) -> dict[str, Any]:
        if isinstance(message, UserMessage):
            content = message.content
            if message.context is not None:
                content += "\n\n" + message.context
            return {"role": "user", "content": content}
        if isinstance(message, AssistantMessage):
            if not message.tool_calls:
                return {"role": "assistant", "content": message.content}
            if self.native_tool_calls:
                calls = [
                    {
                        "id": c.call_id,
                        "type": "function",
                        "function": {"name": c.tool_name, "arguments": c.arguments},
                    }
                    for c in message.tool_calls
                ]
                return {"role": "assistant", "content": message.content, "tool_calls": calls}
            text = encode_tagged_json_calls(message.tool_calls)
            content = f"{message.content}\n{text}" if message.content else text
            return {"role": "assistant", "content": content}
        if isinstance(message, ToolResponseMessage):
            if self.native_tool_role:
                return {
                    "role": "tool",
                    "content": message.content,
                    "tool_call_id": message.call_id,
                    "name": message.tool_name,
                }
            return {"role": "user", "content": f"<tool_response>\n{message.content}\n</tool_response>"}
        return {"role": message.role, "content": message.content}

    def render(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[ToolDefinition] = (),
        tool_choice: str = "auto",
        add_generation_prompt: bool = True,
    ) -> str:
        """The prompt text (special-token text from messages appears as is)."""
        return self._render(messages, tools, tool_choice, add_generation_prompt, mark=False)

    def _render(
        self,
        messages: Sequence[Message],
        tools: Sequence[ToolDefinition],
        tool_choice: str,
        add_generation_prompt: bool,
        *,
        mark: bool,
    ) -> str:
        dialog, tool_schemas = self.template_messages(messages, tools=tools, tool_choice=tool_choice)
        if mark:
            dialog = self._mark(dialog)
            tool_schemas = self._mark(tool_schemas)
        try:
            return self._template.render(
                messages=dialog,
                tools=tool_schemas,
                documents=None,
                add_generation_prompt=add_generation_prompt,
                bos_token=self.bos_token,
                eos_token=self.eos_token,
            )
        except jinja2.TemplateError as exc:
            raise ChatFormatError(f"the model's chat template rejected this dialog: {exc}") from None

    def _mark(self, value: Any) -> Any:
        if isinstance(value, str):
            value = value.replace(_MARK_START, "").replace(_MARK_END, "")
            return self._special_re.sub(lambda m: f"{_MARK_START}{m.group(0)}{_MARK_END}", value)
        if isinstance(value, dict):
            return {k: self._mark(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self._mark(v) for v in value]
        return value

    def _tokenize_rendered(self, rendered: str) -> list[int]:
        ids: list[int] = []
        plain: list[str] = []

        def flush() -> None:
            text = "".join(plain)
            plain.clear()
            if text:
                ids.extend(self.tokenizer.encode(text, allow_special=False))

        pos = 0
        for match in self._split_re.finditer(rendered):
            plain.append(rendered[pos : match.start()])
            if match.group(1) is not None:  # special-token text that came from a message: plain text
                plain.append(match.group(1))
            elif match.group(2) is not None:  # written by the template: the special token
                flush()
                ids.append(self._specials[match.group(2)])
            pos = match.end()
        plain.append(rendered[pos:])
        flush()
        return ids

    def encode_dialog_prompt(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[ToolDefinition] = (),
        tool_prompt_format: ToolPromptFormat = "json",
        tool_choice: str = "auto",
    ) -> list[int]:
        check_tool_prompt_format(tool_prompt_format)
        rendered = self._render(messages, tools, tool_choice, True, mark=True)
        return self._tokenize_rendered(rendered)


def _parse_template_completion(prefix: str, bodies: list[str]) -> DecodedCompletion:
    return parse_tagged_json_completion(prefix + "".join(bodies))
