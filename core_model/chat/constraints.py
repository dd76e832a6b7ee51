"""The constraint for an assistant reply given the offered tools and `tool_choice`: tool calls valid by
construction, in the model's own syntax, each call's arguments valid against its tool's JSON Schema.

```python
from llamasys.core_model.chat.constraints import reply_constraint
from llamasys.core_model.messages import ToolDefinition
from llamasys.core_model.sampling_params import SamplingParams

weather = ToolDefinition(name="get_weather", parameters={
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]})
c = reply_constraint("llama3", [weather], "required", tool_prompt_format="json")
params = SamplingParams(max_tokens=64, constraint=c)
# or, with a chat format in hand: chat.reply_constraint([weather], "required")
```

`tool_choice`:

- `"required"`: the reply is one call of an offered tool, nothing else (several with
  `parallel_tool_calls=True` where the syntax allows: `python_list` (its default), `function_tag`, the template
  models' `<tool_call>` blocks).
- a tool's name: the same, restricted to that tool.
- `"auto"`: lazy. Free text until the model starts a call (its trigger), then a valid call: `<|python_tag|>`
  (Llama 3.1 json, built-ins, code), `<function=` (Llama `function_tag`), a leading `[` (Llama 3.2
  `python_list`), `<tool_call>` (template models). Free text may not start with `{` or `[` (the decoders read
  those as calls), nor contain `<function=` (Llama) or `<tool_call>` (template models) outside a call.
- `"none"`: free text with every trigger masked (no `<|python_tag|>` token, no call-shaped text).

Syntaxes (`research/anchors-engine.md` §2; decoders: `tool_call_codec.parse_llama3_completion`,
`parse_tagged_json_completion`):

- Llama `json`: `<|python_tag|>{"type": "function", "name": "f", "parameters": {...}}`
- Llama `function_tag`: `<function=f>{...}</function>`, several concatenated
- Llama `python_list` (3.2): `[f(a=1, b="x"), g()]`; keyword values are JSON values (the decoder reads
  `true`/`false`/`null`), properties in declared order, optional ones may be left out
- Llama built-ins: `<|python_tag|>brave_search.call(query="...")` (`web_search` is written `brave_search`),
  `wolfram_alpha.call(query="...")`; `code_interpreter`: `<|python_tag|>` then code (not call-shaped)
- template models: `<tool_call>\\n{"name": "f", "arguments": {...}}\\n</tool_call>`, blocks joined by newlines

The result is a `GrammarConstraint` (llguidance Lark: special tokens by name, `%json` for arguments), or None
when nothing constrains the reply ("auto" or "none" with no tools). JSON inside calls is compact with `", "` and
`": "` separators. Errors (`ChatFormatError`): an unknown tool_choice, a tool name for `python_list` that is
not a Python identifier.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from keyword import iskeyword
from typing import Any, Literal

from llamasys.core_model.chat.system_prompt import check_tool_choice
from llamasys.core_model.chat.tool_call_codec import (
    CALL_SYNTAX_BUILTINS,
    CODE_INTERPRETER,
    ChatFormatError,
    ToolPromptFormat,
    check_tool_prompt_format,
    prompt_tool_name,
)
from llamasys.core_model.messages import ToolDefinition
from llamasys.core_model.structured.constraints import GrammarConstraint

__all__ = ["ChatFamily", "llama3_reply_grammar", "reply_constraint", "template_reply_grammar"]

ChatFamily = Literal["llama3", "template"]

# Same JSON layout as `structured.grammar.JSON_OPTIONS` (kept here so this module needs no llguidance).
_JSON_OPTIONS = {"whitespace_flexible": False, "item_separator": ", ", "key_separator": ": "}
_ANY = r"(.|\n)"
# Free text the decoders never read as a call: it does not start with `{` or `[`.
_NOT_CALL_START = rf"~/[ \t\r\n]*[\[{{]{_ANY}*/"
_NOT_BUILTIN_START = rf"~/[ \t\r\n]*[A-Za-z_][A-Za-z0-9_]*[ \t]*\.call{_ANY}*/"


def _lit(text: str) -> str:
    """A Lark string literal for `text`."""
    return json.dumps(text, ensure_ascii=False)


def _json(schema: Any) -> str:
    """`%json {...}` for `schema` with the compact layout."""
    if not isinstance(schema, dict):
        schema = {}
    guided = {**schema, "x-guidance": {**_JSON_OPTIONS, **schema.get("x-guidance", {})}}
    return "%json " + json.dumps(guided, ensure_ascii=False)


# Bounds for a "number" the schema leaves unbounded: JSON allows `1e999`, which Python reads as inf, and the
# decoders refuse inf (not a JSON value) - so an unbounded number would yield a parse error.
NUMBER_BOUND = 1e15


def _arguments_schema(tool: ToolDefinition) -> dict[str, Any]:
    """The tool's argument schema as the grammar uses it: objects without `additionalProperties` get
    `false` (a call passes only declared arguments, as OpenAI's strict mode does), unbounded numbers get
    +-`NUMBER_BOUND`."""
    schema = tool.parameters or {}
    if not schema:
        return {"type": "object", "properties": {}, "additionalProperties": False}
    return _tighten(schema)


def _tighten(schema: Any) -> Any:
    if isinstance(schema, list):
        return [_tighten(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: _tighten(v) if k in _SUBSCHEMA_KEYS else v for k, v in schema.items()}
    for key in ("properties", "$defs", "definitions"):
        if isinstance(out.get(key), dict):
            out[key] = {name: _tighten(sub) for name, sub in out[key].items()}
    kind = out.get("type")
    kinds = kind if isinstance(kind, list) else [kind]
    if "object" in kinds and "additionalProperties" not in out:
        out["additionalProperties"] = False
    if "number" in kinds:
        if "minimum" not in out and "exclusiveMinimum" not in out:
            out["minimum"] = -NUMBER_BOUND
        if "maximum" not in out and "exclusiveMaximum" not in out:
            out["maximum"] = NUMBER_BOUND
    return out


_SUBSCHEMA_KEYS = frozenset({"items", "anyOf", "oneOf", "allOf", "additionalProperties", "prefixItems"})


class _Grammar:
    """Collects Lark rules with unique names."""

    def __init__(self) -> None:
        self.rules: list[str] = []
        self._n = 0

    def rule(self, body: str, prefix: str = "r") -> str:
        self._n += 1
        name = f"{prefix}_{self._n}"
        self.rules.append(f"{name}: {body}")
        return name

    def source(self, start: str) -> str:
        return "\n".join([f"start: {start}", *self.rules]) + "\n"


def _keyword_arguments(g: _Grammar, tool_name: str, schema: dict[str, Any]) -> str:
    """Rule for `a=1, b="x"` over the schema's properties (declared order; optional ones may be skipped)."""
    properties = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
    required = set(schema.get("required") or [])
    names = list(properties)
    for name in names:
        if not name.isidentifier() or iskeyword(name):
            raise ChatFormatError(
                f"{tool_name}: argument name {name!r} cannot be written as a Python keyword argument: "
                "use identifier names or the json / function_tag tool_prompt_format"
            )
    if not names:
        return '""'
    # tail[i][first]: the arguments from property i on; `first` = nothing written yet (no comma).
    memo: dict[tuple[int, bool], str] = {}

    def tail(i: int, first: bool) -> str:
        if i == len(names):
            return '""'
        if (i, first) in memo:
            return memo[(i, first)]
        name = names[i]
        sep = "" if first else '", " '
        item = f"{sep}{_lit(name + '=')} {_json(properties[name])} {tail(i + 1, False)}"
        body = item if name in required else f"{item} | {tail(i + 1, first)}"
        memo[(i, first)] = g.rule(body, "kw")
        return memo[(i, first)]

    return tail(0, True)


# ------------------------------------------------------------------------------------------- Llama 3.x


def _llama_custom_call(g: _Grammar, tool: ToolDefinition, fmt: ToolPromptFormat) -> str:
    name = prompt_tool_name(tool.name)
    schema = _arguments_schema(tool)
    if fmt == "json":
        head = f'{{"type": "function", "name": {json.dumps(name)}, "parameters": '
        return g.rule(f"{_lit(head)} {_json(schema)} {_lit('}')}", "json_call")
    if fmt == "function_tag":
        return g.rule(f"{_lit(f'<function={name}>')} {_json(schema)} {_lit('</function>')}", "tag_call")
    if not name.isidentifier() or iskeyword(name):
        raise ChatFormatError(
            f"tool name {name!r} cannot be written as a Python call: "
            "use identifier names or the json / function_tag tool_prompt_format"
        )
    return g.rule(f"{_lit(name + '(')} {_keyword_arguments(g, name, schema)} {_lit(')')}", "py_call")


def _llama_builtin_call(g: _Grammar, tool: ToolDefinition) -> str:
    """What follows `<|python_tag|>` for a built-in: `name.call(query="...")`, or code."""
    name = prompt_tool_name(tool.name)
    if name == CODE_INTERPRETER:
        return g.rule(_code_terminal(g), "code_call")
    schema = _arguments_schema(tool)
    if not (schema.get("properties") or {}):
        schema = {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]}
    return g.rule(
        f"{_lit(name + '.call(')} {_keyword_arguments(g, name, schema)} {_lit(')')}", "builtin_call"
    )


def _code_terminal(g: _Grammar) -> str:
    if "CODE: " not in "\n".join(g.rules):
        g.rules.append(rf"CODE: /[^\[{{<\s]{_ANY}*/ & {_NOT_BUILTIN_START}")
    return "CODE"


def llama3_reply_grammar(
    tools: Sequence[ToolDefinition],
    tool_choice: str = "auto",
    tool_prompt_format: ToolPromptFormat = "json",
    parallel_tool_calls: bool | None = None,
) -> str | None:
    """The Lark grammar of a Llama 3.1 / 3.2 reply (see the module docstring); None: unconstrained."""
    check_tool_prompt_format(tool_prompt_format)
    check_tool_choice(tool_choice, tools, prompt_names=True)
    if not tools and tool_choice == "auto":
        return None
    g = _Grammar()
    free = f"/{_ANY}+/ & {_NOT_CALL_START} & {_NOT_BUILTIN_START} & ~/{_ANY}*<function={_ANY}*/"
    g.rules.append(f"FREE: {free}")
    if tool_choice == "none" or not tools:
        return g.source("FREE")
    chosen = [
        t
        for t in tools
        if tool_choice in ("auto", "required") or tool_choice in (t.name, prompt_tool_name(t.name))
    ]
    tagged: list[str] = []  # alternatives after <|python_tag|>
    untagged: list[str] = []  # custom calls written without the tag
    for tool in chosen:
        name = prompt_tool_name(tool.name)
        if name in CALL_SYNTAX_BUILTINS or name == CODE_INTERPRETER:
            tagged.append(_llama_builtin_call(g, tool))
        else:
            call = _llama_custom_call(g, tool, tool_prompt_format)
            (tagged if tool_prompt_format == "json" else untagged).append(call)
    starts: list[str] = []
    if tagged:
        body = g.rule(" | ".join(tagged), "tagged")
        starts.append(f"<|python_tag|> {body}")
    if untagged and tool_prompt_format == "python_list":
        one = g.rule(" | ".join(untagged), "py_one")
        several = f'("," " " {one})*' if parallel_tool_calls is not False else ""
        starts.append(g.rule(f'"[" {one} {several} "]"', "py_list"))
    elif untagged:  # function_tag: one or more tags, back to back
        one = g.rule(" | ".join(untagged), "tag_one")
        starts.append(g.rule(f"{one}+" if parallel_tool_calls else one, "tag_calls"))
    if tool_choice != "auto":
        return g.source(" | ".join(starts))
    # auto: free text, or (free text then) a tagged call, or a call list / tags from the start
    alternatives = ["FREE"]
    if tagged:
        alternatives.append(f"FREE? {starts[0]}")
    if untagged and tool_prompt_format == "python_list":
        alternatives.append(starts[-1])
    elif untagged:
        g.rules.append(f"fn_trig[lazy]: FREE_TAG {_lit('<function=')}")
        g.rules.append(f"FREE_TAG: /{_ANY}*/ & {_NOT_CALL_START} & {_NOT_BUILTIN_START}")
        rests = [_strip_function_head(rule, g) for rule in untagged]
        rest = g.rule(" | ".join(rests), "tag_rest")
        tail = f"{starts[-1]}?" if parallel_tool_calls else ""
        alternatives.append(g.rule(f"fn_trig {rest} {tail}", "tag_auto"))
    return g.source(" | ".join(alternatives))


def _strip_function_head(rule: str, g: _Grammar) -> str:
    """The rule for a `<function=name>...` call without its `<function=` head (the lazy trigger ate it)."""
    line = next(r for r in g.rules if r.startswith(f"{rule}: "))
    body = line[len(rule) + 2 :]
    prefix = json.dumps("<function=")[:-1]  # '"<function=' without the closing quote
    if not body.startswith(prefix):
        raise AssertionError(f"not a function-tag rule: {line}")
    return g.rule('"' + body[len(prefix) :], "tag_rest")


# ------------------------------------------------------------------------------------------ templates


def template_reply_grammar(
    tools: Sequence[ToolDefinition], tool_choice: str = "auto", parallel_tool_calls: bool | None = None
) -> str | None:
    """The Lark grammar of a template model's reply (`<tool_call>` blocks); None: unconstrained."""
    check_tool_choice(tool_choice, tools)
    if not tools and tool_choice == "auto":
        return None
    g = _Grammar()
    g.rules.append(f"FREE: /{_ANY}+/ & {_NOT_CALL_START} & ~/{_ANY}*<tool_call>{_ANY}*/")
    if tool_choice == "none" or not tools:
        return g.source("FREE")
    chosen = [t for t in tools if tool_choice in ("auto", "required") or tool_choice == t.name]
    bodies = []
    for tool in chosen:
        head = f'\n{{"name": {json.dumps(tool.name, ensure_ascii=False)}, "arguments": '
        bodies.append(
            g.rule(f"{_lit(head)} {_json(_arguments_schema(tool))} {_lit('}' + chr(10))}", "tc_body")
        )
    body = g.rule(" | ".join(bodies), "tc_one")
    block = g.rule(f'"<tool_call>" {body} "</tool_call>"', "tc_block")
    more = " " + g.rule(f'("\\n" {block})*', "tc_more") if parallel_tool_calls else ""
    if tool_choice != "auto":
        return g.source(f"{block}{more}")
    g.rules.append('tc_trig[lazy]: FREE_TC "<tool_call>"')
    g.rules.append(f"FREE_TC: /{_ANY}*/ & {_NOT_CALL_START}")
    return g.source(f'FREE | tc_trig {body} "</tool_call>"{more}')


# ------------------------------------------------------------------------------------------ entry point


def reply_constraint(
    chat_format: Any,
    tools: Sequence[ToolDefinition] = (),
    tool_choice: str = "auto",
    *,
    tool_prompt_format: ToolPromptFormat = "json",
    parallel_tool_calls: bool | None = None,
) -> GrammarConstraint | None:
    """The constraint for the reply to a prompt built by `chat_format.encode_dialog_prompt(messages, tools=,
    tool_choice=, tool_prompt_format=)` with the same arguments; put it in `SamplingParams.constraint`.

    chat_format: a `ChatFormat` (its family is read from its type) or "llama3" / "template". Returns None when
    the reply is unconstrained (tool_choice "auto" with no tools). `parallel_tool_calls` (OpenAI's name):
    True = one or more calls where the syntax can hold several, False = exactly one; None = the syntax's own
    habit: a `python_list` is a list (several), every other syntax one call (a small model given the choice
    tends to repeat its call until the budget runs out). Raises `ChatFormatError` for a bad
    tool_choice or tool_prompt_format, and for names `python_list` cannot write.
    """
    family = _family(chat_format)
    tools = list(tools)
    if family == "llama3":
        grammar = llama3_reply_grammar(tools, tool_choice, tool_prompt_format, parallel_tool_calls)
        what = f"Llama 3 {tool_prompt_format} reply, tool_choice={tool_choice!r}"
    else:
        grammar = template_reply_grammar(tools, tool_choice, parallel_tool_calls)
        what = f"<tool_call> reply, tool_choice={tool_choice!r}"
    if grammar is None:
        return None
    return GrammarConstraint(grammar=grammar, syntax="lark", description=what)


def _family(chat_format: Any) -> ChatFamily:
    if chat_format in ("llama3", "template"):
        return chat_format
    name = type(chat_format).__name__
    if name == "Llama3ChatFormat":
        return "llama3"
    if name == "TemplateChatFormat":
        return "template"
    raise ChatFormatError(
        f"reply_constraint: {chat_format!r} is neither a Llama3ChatFormat, a TemplateChatFormat, 'llama3' nor 'template'"
    )
