"""Tool-call syntaxes as text: encode a `ToolCall` the way the model writes it, and parse model text back.

Pure string work, no tokenizer. The chat formats (`chat.format`, `chat.template_format`) split a
completion at `<|python_tag|>` tokens and hand the pieces here.

    ```python
    from llamasys.core_model.chat.tool_call_codec import encode_tool_call, parse_llama3_completion
    encode_tool_call(ToolCall(tool_name="web_search", arguments={"query": "gold"}), "json")
    # -> 'brave_search.call(query="gold")'
    parse_llama3_completion("", ['brave_search.call(query="gold")']).tool_calls[0].arguments
    # -> {'query': 'gold'}
    ```

Syntaxes (Meta's Llama 3.1 and 3.2 prompt-format pages on llama.com and llama-models 0.3.0 `chat_format.py` / `tool_utils.py`):

- built-in search tools: `brave_search.call(query="...")`, `wolfram_alpha.call(query="...")`, always after
  `<|python_tag|>`; `web_search` is written as `brave_search` (the name Llama 3.1 was trained on).
- code interpreter: the raw Python code after `<|python_tag|>`.
- custom tools, `json`: `{"type": "function", "name": "f", "parameters": {...}}` (after `<|python_tag|>`).
- custom tools, `function_tag`: `<function=f>{"a": 1}</function>` (no python tag).
- custom tools, `python_list` (Llama 3.2): `[f(a=1, b="x"), g(c=[1, 2])]`, several calls in one list.
- the template convention for non-Llama models: `<tool_call>{"name": "f", "arguments": {...}}</tool_call>`.

Parsing accepts every form, several calls per message (the reference decoder returned only the first call of
a python list), JSON or Python-literal arguments (`true`/`false`/`null` and `True`/`False`/`None`), the
OpenAI-style `{"type": "function", "function": {"name", "arguments"}}` and `"arguments"` given as a JSON
string. Text that looks like a tool call but does not parse (truncated JSON, an argument such as `x=foo` that
is not a JSON value) comes back as plain text plus an entry in `errors`; nothing here raises on model output.
If one call of several is broken, none is returned: a partial plan is not executed. Call-shaped text that
follows prose and runs to the end (`I will check. [get_weather(location="Dublin")]`, a JSON call after a
sentence) is a call, the prose its content, or an error when it does not parse; call-shaped words inside
prose stay prose. After `<|python_tag|>`, a list display opening with a call (`[f("x")]`) is a failed call,
never code for the interpreter.
"""

from __future__ import annotations

import ast
import json
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from keyword import iskeyword
from typing import Any, Literal

from llamasys.core_model.errors import ModelError
from llamasys.core_model.messages import BuiltinTool, ToolCall

__all__ = [
    "CALL_SYNTAX_BUILTINS",
    "CODE_INTERPRETER",
    "ChatFormatError",
    "DecodedCompletion",
    "ToolPromptFormat",
    "TOOL_PROMPT_FORMATS",
    "check_tool_prompt_format",
    "encode_tagged_json_calls",
    "encode_tool_call",
    "encode_tool_call_segments",
    "is_builtin_tool",
    "local_tool_name",
    "parse_llama3_completion",
    "parse_tagged_json_completion",
    "prompt_tool_name",
    "python_literal",
]


class ChatFormatError(ModelError, ValueError):
    """A dialog or tool list the chat format cannot encode (bad tool_choice, an unknown format, ...)."""


ToolPromptFormat = Literal["json", "function_tag", "python_list"]
TOOL_PROMPT_FORMATS: tuple[str, ...] = ("json", "function_tag", "python_list")

CODE_INTERPRETER = BuiltinTool.code_interpreter.value
# Built-ins the model calls as `name.call(query="...")`.
CALL_SYNTAX_BUILTINS = frozenset({BuiltinTool.brave_search.value, BuiltinTool.wolfram_alpha.value})
# Our tool names that Llama 3.1 knows under another name.
_PROMPT_NAMES = {"web_search": BuiltinTool.brave_search.value}

MAX_ERROR_SNIPPET = 80


def check_tool_prompt_format(tool_prompt_format: str) -> None:
    """Raise `ChatFormatError` unless `tool_prompt_format` is one of `TOOL_PROMPT_FORMATS`."""
    if tool_prompt_format not in TOOL_PROMPT_FORMATS:
        raise ChatFormatError(
            f"unknown tool_prompt_format {tool_prompt_format!r}: use one of {', '.join(TOOL_PROMPT_FORMATS)}"
        )


def prompt_tool_name(name: str) -> str:
    """The name a tool has inside a Llama prompt (`web_search` -> `brave_search`, others unchanged)."""
    return _PROMPT_NAMES.get(name, name)


def is_builtin_tool(name: str) -> bool:
    """Whether `name` (or its prompt name) is one of Llama 3.1's built-in tools."""
    return prompt_tool_name(name) in (CALL_SYNTAX_BUILTINS | {CODE_INTERPRETER})


def local_tool_name(decoded_name: str, available: Iterable[str]) -> str:
    """Map a decoded tool name back to the tool registered under our name.

    The model writes `brave_search`; if the caller registered `web_search` (and no `brave_search`),
    this returns `web_search`. Names with no alias come back unchanged.
    """
    names = set(available)
    if decoded_name in names:
        return decoded_name
    for ours, theirs in _PROMPT_NAMES.items():
        if theirs == decoded_name and ours in names:
            return ours
    return decoded_name


# ---------------------------------------------------------------------------------------------- encoding


def python_literal(value: Any) -> str:
    """A JSON value written as a Python literal that `ast` reads back to the same value.

    Strings are double-quoted with JSON escapes (valid Python escapes too), so quotes and newlines inside
    values survive; dicts are Python dict literals (`{"k": 1}`), not the reference's invalid `{k=1}`.
    """
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if value is None or isinstance(value, bool):
        return repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ChatFormatError(f"{value!r} is not a JSON number and cannot be written in a tool call")
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(python_literal(v) for v in value) + "]"
    if isinstance(value, dict):
        return (
            "{" + ", ".join(f"{python_literal(str(k))}: {python_literal(v)}" for k, v in value.items()) + "}"
        )
    raise ChatFormatError(f"{type(value).__name__} is not a JSON value and cannot be written in a tool call")


def _keyword_args(arguments: dict[str, Any]) -> str:
    for key in arguments:
        if not key.isidentifier() or iskeyword(key):
            raise ChatFormatError(
                f"argument name {key!r} cannot be written as a Python keyword argument: "
                "use identifier names or the json / function_tag tool_prompt_format"
            )
    return ", ".join(f"{k}={python_literal(v)}" for k, v in arguments.items())


def _encode_python_call(call: ToolCall) -> str:
    if not call.tool_name.isidentifier() or iskeyword(call.tool_name):
        raise ChatFormatError(
            f"tool name {call.tool_name!r} cannot be written as a Python call: "
            "use identifier names or the json / function_tag tool_prompt_format"
        )
    return f"{call.tool_name}({_keyword_args(call.arguments)})"


def encode_tool_call(call: ToolCall, tool_prompt_format: ToolPromptFormat = "json") -> str:
    """The text of one call as the model writes it (without `<|python_tag|>`).

    Built-ins use their own syntax whatever the format; `tool_prompt_format` picks the custom-tool syntax.
    A `python_list` call is a one-element list; `encode_tool_call_segments` merges several into one list.
    """
    name = prompt_tool_name(call.tool_name)
    if name == CODE_INTERPRETER:
        code = call.arguments.get("code")
        if not isinstance(code, str):
            raise ChatFormatError("a code_interpreter call needs a string 'code' argument")
        return code
    if name in CALL_SYNTAX_BUILTINS:
        return f"{name}.call({_keyword_args(call.arguments)})"
    if tool_prompt_format == "json":
        # Same bytes as the reference encoder (json.dumps defaults).
        return json.dumps({"type": "function", "name": name, "parameters": call.arguments})
    if tool_prompt_format == "function_tag":
        return f"<function={name}>{json.dumps(call.arguments)}</function>"
    check_tool_prompt_format(tool_prompt_format)  # python_list is the only one left
    return f"[{_encode_python_call(call)}]"


@dataclass
class _Segment:
    kind: Literal["code", "lines", "pylist", "tags"]
    parts: list[str]

    @property
    def tagged(self) -> bool:
        return self.kind != "tags"

    def text(self) -> str:
        if self.kind == "pylist":
            return "[" + ", ".join(self.parts) + "]"
        if self.kind == "lines":
            return "\n".join(self.parts)
        return "".join(self.parts)


def encode_tool_call_segments(
    calls: Sequence[ToolCall], tool_prompt_format: ToolPromptFormat = "json"
) -> list[tuple[bool, str]]:
    """Calls of one assistant message as `(starts_with_python_tag, text)` segments, in call order.

    Each segment that is tagged gets its own `<|python_tag|>` token, so code (which runs to the end of its
    segment) never swallows a following call. Rules, chosen to match what the model emits:

    - code_interpreter: its own tagged segment of raw code;
    - built-in search calls and `json` custom calls: tagged, consecutive ones joined by newlines;
    - `python_list` custom calls: tagged, consecutive ones merged into one list `[f(...), g(...)]`;
    - `function_tag` custom calls: untagged (as the Llama 3.1 document shows), concatenated; after a tagged
      segment they are tagged too, so the decoder reads them in the tool body.
    """
    segments: list[_Segment] = []
    for call in calls:
        name = prompt_tool_name(call.tool_name)
        text = encode_tool_call(call, tool_prompt_format)
        last = segments[-1] if segments else None
        if name == CODE_INTERPRETER:
            segments.append(_Segment("code", [text]))
        elif name in CALL_SYNTAX_BUILTINS or tool_prompt_format == "json":
            if last is not None and last.kind == "lines":
                last.parts.append(text)
            else:
                segments.append(_Segment("lines", [text]))
        elif tool_prompt_format == "python_list":
            inner = _encode_python_call(call)
            if last is not None and last.kind == "pylist":
                last.parts.append(inner)
            else:
                segments.append(_Segment("pylist", [inner]))
        elif last is None:  # function_tag, first call: untagged
            segments.append(_Segment("tags", [text]))
        elif last.kind in ("tags", "lines"):
            last.parts.append(text)
        else:  # function_tag after code or a python list: tagged, read from the tool body
            segments.append(_Segment("lines", [text]))
    return [(seg.tagged, seg.text()) for seg in segments]


def encode_tagged_json_calls(calls: Sequence[ToolCall]) -> str:
    """Calls in the template convention: one `<tool_call>` block per call, newline-separated."""
    blocks = []
    for call in calls:
        payload = json.dumps({"name": call.tool_name, "arguments": call.arguments}, ensure_ascii=False)
        blocks.append(f"<tool_call>\n{payload}\n</tool_call>")
    return "\n".join(blocks)


# ---------------------------------------------------------------------------------------------- parsing


@dataclass
class DecodedCompletion:
    """What a completion's text means: the text for the user, the calls, and why any call-like text failed."""

    content: str
    tool_calls: list[ToolCall] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


class _CallSyntaxError(ValueError):
    """The text is not written in any tool-call syntax (it may still be code or prose)."""


class _CallArgumentError(ValueError):
    """The text is a tool call, but an argument is not a JSON value: always reported."""


def _snippet(text: str) -> str:
    text = text.strip()
    return repr(text if len(text) <= MAX_ERROR_SNIPPET else text[:MAX_ERROR_SNIPPET] + "...")


def _reject_constant(name: str) -> Any:
    raise _CallArgumentError(f"{name} is not a JSON value")


_JSON = json.JSONDecoder(parse_constant=_reject_constant, strict=False)
_IDENT = re.compile(r"[A-Za-z_]\w*")
_FUNCTION_OPEN = re.compile(r"<function=([^>\n]*)>")
_FUNCTION_CLOSE = "</function>"
_CALL_KEY = r"""["'](?:name|type|function)["']"""
_JSON_ATTEMPT = re.compile(r"\{\s*" + _CALL_KEY)
_LIST_ATTEMPT = re.compile(r"\[\s*(?:[A-Za-z_]\w*\s*\(|\{\s*" + _CALL_KEY + ")")
_BUILTIN_ATTEMPT = re.compile(r"[A-Za-z_]\w*\.call\s*\(")
_CLOSERS = {"(": ")", "[": "]", "{": "}"}


def _looks_like_call(text: str) -> bool:
    """Whether text (stripped) starts the way a tool call starts."""
    return bool(
        _JSON_ATTEMPT.match(text)
        or _LIST_ATTEMPT.match(text)
        or _BUILTIN_ATTEMPT.match(text)
        or text.startswith("<function=")
    )


def _match_bracket(text: str, start: int) -> int:
    """Index just past the bracket closing `text[start]`, skipping quoted strings; -1 if unterminated."""
    stack: list[str] = []
    i, n = start, len(text)
    while i < n:
        ch = text[i]
        if ch in "\"'":
            i += 1
            while i < n and text[i] != ch:
                i += 2 if text[i] == "\\" else 1
            if i >= n:
                return -1
        elif ch in _CLOSERS:
            stack.append(_CLOSERS[ch])
        elif ch in ")]}":
            if not stack or stack.pop() != ch:
                return -1
            if not stack:
                return i + 1
        i += 1
    return -1


def _check_json_value(value: Any, where: str) -> Any:
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise _CallArgumentError(f"{where}: {value!r} is not a JSON number")
        return value
    if isinstance(value, list):
        return [_check_json_value(v, where) for v in value]
    if isinstance(value, dict):
        for key in value:
            if not isinstance(key, str):
                raise _CallArgumentError(f"{where}: object key {key!r} is not a string")
        return {k: _check_json_value(v, where) for k, v in value.items()}
    raise _CallArgumentError(f"{where}: {type(value).__name__} is not a JSON value")


_PY_NAMES = {"true": True, "false": False, "null": None, "True": True, "False": False, "None": None}


def _literal(node: ast.AST, where: str) -> Any:
    """A Python AST literal as a JSON value; anything else (names, expressions, sets, bytes) is an error."""
    if isinstance(node, ast.Constant):
        return _check_json_value(node.value, where)
    if isinstance(node, ast.Name) and node.id in _PY_NAMES:
        return _PY_NAMES[node.id]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        inner = node.operand
        if isinstance(inner, ast.Constant) and type(inner.value) in (int, float):
            value = -inner.value if isinstance(node.op, ast.USub) else inner.value
            return _check_json_value(value, where)
    if isinstance(node, ast.List | ast.Tuple):
        return [_literal(e, where) for e in node.elts]
    if isinstance(node, ast.Dict):
        out: dict[str, Any] = {}
        for key, value in zip(node.keys, node.values, strict=True):
            if not (isinstance(key, ast.Constant) and isinstance(key.value, str)):
                raise _CallArgumentError(f"{where}: dict keys must be strings")
            out[key.value] = _literal(value, where)
        return out
    raise _CallArgumentError(f"{where}: `{ast.unparse(node)}` is not a JSON value")


def _parse_expression(text: str) -> ast.expr:
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except (SyntaxError, ValueError) as exc:  # ValueError: null bytes
        raise _CallSyntaxError(
            f"not valid call syntax ({exc.msg if isinstance(exc, SyntaxError) else exc})"
        ) from None
    return tree.body


def _is_valid_python(text: str) -> bool:
    try:
        ast.parse(text)
    except (SyntaxError, ValueError):
        return False
    return True


def _normalize_builtin(name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    # A model with custom tools sometimes calls a built-in in custom syntax; the built-in wants `query`.
    if name in CALL_SYNTAX_BUILTINS and "query" not in arguments and len(arguments) == 1:
        return {"query": next(iter(arguments.values()))}
    return arguments


def _make_call(name: Any, arguments: Any) -> ToolCall:
    if not isinstance(name, str) or not name.strip():
        raise _CallArgumentError(f"tool name {name!r} is not a non-empty string")
    name = name.strip()
    if isinstance(arguments, str):
        try:
            arguments = _JSON.decode(arguments) if arguments.strip() else {}
        except (json.JSONDecodeError, _CallArgumentError) as exc:
            raise _CallArgumentError(f"{name}: arguments string is not a JSON object ({exc})") from None
    if arguments is None:
        arguments = {}
    if not isinstance(arguments, dict):
        raise _CallArgumentError(f"{name}: arguments must be an object, got {type(arguments).__name__}")
    arguments = _check_json_value(arguments, name)
    return ToolCall(tool_name=name, arguments=_normalize_builtin(name, arguments))


def _call_from_object(obj: Any) -> ToolCall:
    """`{"type": "function", "name", "parameters"}`, `{"name", "arguments"}` or OpenAI's nested form."""
    if not isinstance(obj, dict):
        raise _CallSyntaxError(f"expected a JSON object for a tool call, got {type(obj).__name__}")
    if isinstance(obj.get("function"), dict) and "name" not in obj:
        inner = obj["function"]
        return _make_call(inner.get("name"), inner.get("arguments", inner.get("parameters")))
    if "name" not in obj:
        raise _CallSyntaxError('JSON object has no "name"')
    if "parameters" in obj:
        return _make_call(obj["name"], obj["parameters"])
    if "arguments" in obj:
        return _make_call(obj["name"], obj["arguments"])
    if obj.get("type") == "function":
        return _make_call(obj["name"], {})
    raise _CallSyntaxError('JSON object has a "name" but no "parameters"/"arguments": not a tool call')


def _read_object(text: str, pos: int) -> tuple[Any, int]:
    """A JSON value at `pos` (or a Python literal in single quotes); returns (value, end)."""
    try:
        return _JSON.raw_decode(text, pos)
    except json.JSONDecodeError as json_error:
        end = _match_bracket(text, pos)
        if end < 0:
            raise _CallSyntaxError(f"unterminated JSON ({json_error.msg})") from None
        try:
            node = _parse_expression(text[pos:end])
        except _CallSyntaxError:
            raise _CallSyntaxError(f"invalid JSON ({json_error.msg})") from None
        return _literal(node, "arguments"), end


def _keyword_values(keywords: list[ast.keyword], callee: str) -> dict[str, Any]:
    """`callee(a=1, b="x")`'s keyword arguments as JSON values."""
    arguments: dict[str, Any] = {}
    for keyword in keywords:
        if keyword.arg is None:
            raise _CallArgumentError(f"{callee}: **kwargs is not a JSON value")
        arguments[keyword.arg] = _literal(keyword.value, f"{callee}({keyword.arg}=...)")
    return arguments


def _calls_from_python_list(node: ast.expr) -> list[ToolCall]:
    if not isinstance(node, ast.List) or not node.elts:
        raise _CallSyntaxError("expected a non-empty list of function calls")
    calls = []
    for element in node.elts:
        if not (isinstance(element, ast.Call) and isinstance(element.func, ast.Name)):
            raise _CallSyntaxError("list element is not a call like f(a=1)")
        if element.args:
            raise _CallSyntaxError(f"{element.func.id}: arguments must be given by keyword")
        calls.append(_make_call(element.func.id, _keyword_values(element.keywords, element.func.id)))
    return calls


def _call_from_builtin_syntax(node: ast.expr) -> ToolCall:
    """`name.call(query="...")` (any keyword arguments)."""
    if not (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "call"
        and isinstance(node.func.value, ast.Name)
    ):
        raise _CallSyntaxError("expected name.call(...)")
    name = node.func.value.id
    if node.args:
        if len(node.args) == 1 and not node.keywords:  # brave_search.call("x")
            return _make_call(name, {"query": _literal(node.args[0], f"{name}.call")})
        raise _CallSyntaxError(f"{name}.call: arguments must be given by keyword")
    return _make_call(name, _keyword_values(node.keywords, f"{name}.call"))


_BUILTIN_FALLBACK = re.compile(r'(\w+)\.call\(query="([^"]*)"\)')


def _parse_function_tag(text: str, pos: int) -> tuple[ToolCall, int]:
    """`<function=name>{json}</function>` at `pos`; the closing tag may be missing. Returns (call, end)."""
    match = _FUNCTION_OPEN.match(text, pos)
    if match is None:
        raise _CallSyntaxError("unterminated <function=...> tag")
    name = match.group(1).strip()
    i = match.end()
    while i < len(text) and text[i].isspace():
        i += 1
    if text.startswith(_FUNCTION_CLOSE, i):
        arguments: Any = {}
    elif i < len(text) and text[i] == "{":
        arguments, i = _read_object(text, i)
    else:
        raise _CallSyntaxError(f"<function={name}> is not followed by a JSON object")
    call = _make_call(name, arguments)
    j = i
    while j < len(text) and text[j].isspace():
        j += 1
    if text.startswith(_FUNCTION_CLOSE, j):
        i = j + len(_FUNCTION_CLOSE)
    return call, i


def _parse_call_sequence(text: str) -> list[ToolCall]:
    """The whole of `text` as one or more calls, separated by whitespace, `;` or `,`."""
    calls: list[ToolCall] = []
    pos, n = 0, len(text)
    while True:
        while pos < n and (text[pos].isspace() or text[pos] in ";,"):
            pos += 1
        if pos >= n:
            break
        ch = text[pos]
        if ch == "{":
            obj, pos = _read_object(text, pos)
            calls.append(_call_from_object(obj))
        elif ch == "[":
            try:
                value, end = _JSON.raw_decode(text, pos)
            except json.JSONDecodeError:
                end = _match_bracket(text, pos)
                if end < 0:
                    raise _CallSyntaxError("unterminated list of calls") from None
                calls.extend(_calls_from_python_list(_parse_expression(text[pos:end])))
            else:
                if not isinstance(value, list) or not value:
                    raise _CallSyntaxError("a JSON list here must hold tool-call objects")
                calls.extend(_call_from_object(v) for v in value)
            pos = end
        elif text.startswith("<function=", pos):
            call, pos = _parse_function_tag(text, pos)
            calls.append(call)
        elif (ident := _IDENT.match(text, pos)) is not None:
            open_paren = ident.end()
            while open_paren < n and text[open_paren] in " \t":
                open_paren += 1
            if not text.startswith(".call", open_paren):
                raise _CallSyntaxError(f"unexpected text {_snippet(text[pos:])}")
            paren = text.find("(", open_paren)
            end = _match_bracket(text, paren) if paren >= 0 else -1
            if end < 0:
                raise _CallSyntaxError(f"unterminated call {_snippet(text[pos:])}")
            try:
                calls.append(_call_from_builtin_syntax(_parse_expression(text[pos:end])))
            except _CallSyntaxError:
                # The reference accepts `name.call(query="...")` by regex; keep that leniency.
                fallback = _BUILTIN_FALLBACK.fullmatch(text[pos:end])
                if fallback is None:
                    raise
                calls.append(_make_call(fallback.group(1), {"query": fallback.group(2)}))
            pos = end
        else:
            raise _CallSyntaxError(f"unexpected text {_snippet(text[pos:])}")
    if not calls:
        raise _CallSyntaxError("no tool call found")
    return calls


def _parse_untagged(text: str) -> DecodedCompletion:
    """Text written without `<|python_tag|>`: prose, `<function=...>` tags in prose, or a bare call."""
    if "<function=" in text:
        calls: list[ToolCall] = []
        pieces: list[str] = []
        pos = 0
        try:
            while (start := text.find("<function=", pos)) >= 0:
                pieces.append(text[pos:start])
                call, pos = _parse_function_tag(text, start)
                calls.append(call)
        except (_CallSyntaxError, _CallArgumentError) as exc:
            return DecodedCompletion(text, [], [f"function tag {_snippet(text[start:])}: {exc}"])
        pieces.append(text[pos:])
        return DecodedCompletion("".join(pieces).strip(), calls)
    stripped = text.strip()
    if stripped[:1] in ("{", "[") or _BUILTIN_ATTEMPT.match(stripped):
        try:
            return DecodedCompletion("", _parse_call_sequence(stripped))
        except _CallArgumentError as exc:
            return DecodedCompletion(text, [], [f"tool call {_snippet(stripped)}: {exc}"])
        except _CallSyntaxError as exc:
            # Complete JSON that is not call-shaped (`{"name": "Bob", "age": 3}`) is an answer, not a failed call.
            if _looks_like_call(stripped) and not _is_complete_json(stripped):
                return DecodedCompletion(text, [], [f"tool call {_snippet(stripped)}: {exc}"])
        return DecodedCompletion(text)
    return _trailing_call(text)


# Where a call may start after prose: after a sentence's end or a colon, or at the start of a line.
_AFTER_PROSE = re.compile(
    r"(?:(?<=[.!?:])[ \t]+|\n\s*)(?=\[\s*[A-Za-z_]\w*\s*\(|\{\s*" + _CALL_KEY + r"|[A-Za-z_]\w*\.call\s*\()"
)


def _trailing_call(text: str) -> DecodedCompletion:
    """Prose followed by call-shaped text running to the end (`I will check. [get_weather(city="X")]`):
    the calls, with the prose as content; when the call-shaped text does not parse, the text unchanged
    and the reason in `errors`. Call-shaped text inside the prose (followed by more prose) stays prose."""
    for match in _AFTER_PROSE.finditer(text):
        tail = text[match.end() :].strip()
        try:
            calls = _parse_call_sequence(tail)
        except _CallArgumentError as exc:
            return DecodedCompletion(text, [], [f"tool call after text {_snippet(tail)}: {exc}"])
        except _CallSyntaxError as exc:
            at_end = _match_bracket(tail, 0) in (-1, len(tail)) if tail[:1] in "[{" else "\n" not in tail
            if at_end and _looks_like_call(tail) and not _is_complete_json(tail):
                return DecodedCompletion(text, [], [f"tool call after text {_snippet(tail)}: {exc}"])
            continue
        return DecodedCompletion(text[: match.start()].strip(), calls)
    return DecodedCompletion(text)


def _is_complete_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def _parse_tagged_body(body: str) -> list[ToolCall]:
    """What follows one `<|python_tag|>`: built-in / custom calls, or else code for the interpreter."""
    stripped = body.strip()
    if not stripped:
        raise _CallSyntaxError("nothing follows <|python_tag|>")
    try:
        return _parse_call_sequence(stripped)
    except _CallSyntaxError:
        if stripped[0] == "{" or stripped.startswith("<function="):
            raise
        if _looks_like_call(stripped) and (not _is_valid_python(stripped) or _is_list_of_calls(stripped)):
            raise  # a malformed call list (`[f("x")]`) is a failed call, not code for the interpreter
    return [ToolCall(tool_name=CODE_INTERPRETER, arguments={"code": body})]


def _is_list_of_calls(text: str) -> bool:
    """`[f(...), ...]` as a whole: a list display opening with a plain call, which code would never be alone
    (a comprehension `[f(x) for x in y]` is code)."""
    try:
        node = ast.parse(text, mode="eval").body
    except (SyntaxError, ValueError):
        return False
    return (
        isinstance(node, ast.List)
        and bool(node.elts)
        and isinstance(node.elts[0], ast.Call)
        and isinstance(node.elts[0].func, ast.Name)
    )


def parse_llama3_completion(prefix: str, tagged_bodies: Sequence[str] = ()) -> DecodedCompletion:
    """Decode a Llama 3.x completion split at its `<|python_tag|>` tokens.

    `prefix` is the text before the first tag, `tagged_bodies` the text after each tag (stop tokens
    already removed). Returns the content (text outside calls, stripped when there are calls; the text
    unchanged when there are none) and the calls; on any failure, the whole text and the error.
    """
    head = (
        _parse_untagged(prefix) if not tagged_bodies or "<function=" in prefix else DecodedCompletion(prefix)
    )
    if not tagged_bodies:
        return head
    full_text = prefix + "".join(tagged_bodies)
    if head.errors:
        return DecodedCompletion(full_text, [], head.errors)
    calls = list(head.tool_calls)
    for body in tagged_bodies:
        try:
            calls.extend(_parse_tagged_body(body))
        except (_CallSyntaxError, _CallArgumentError) as exc:
            return DecodedCompletion(
                full_text, [], [f"tool call after <|python_tag|> {_snippet(body)}: {exc}"]
            )
    return DecodedCompletion(head.content.strip(), calls)


_TOOL_CALL_OPEN = "<tool_call>"
_TOOL_CALL_CLOSE = "</tool_call>"


def parse_tagged_json_completion(text: str) -> DecodedCompletion:
    """Decode the template convention: `<tool_call>{"name": ..., "arguments": {...}}</tool_call>` blocks.

    Text outside the blocks is the content. A block whose closing tag is missing at the very end (the model
    stopped right after the JSON) is accepted. A bare JSON call with no tags is accepted too.
    """
    if _TOOL_CALL_OPEN not in text:
        if text.strip()[:1] in ("{", "["):
            return _parse_untagged(text)
        return _trailing_call(text)  # a bare call after prose
    calls: list[ToolCall] = []
    pieces: list[str] = []
    pos = 0
    while (start := text.find(_TOOL_CALL_OPEN, pos)) >= 0:
        pieces.append(text[pos:start])
        i = start + len(_TOOL_CALL_OPEN)
        while i < len(text) and text[i].isspace():
            i += 1
        try:
            if i >= len(text) or text[i] not in "{[":
                raise _CallSyntaxError("<tool_call> is not followed by a JSON object")
            obj, i = _read_object(text, i)
            if isinstance(obj, list):
                calls.extend(_call_from_object(o) for o in obj)
            else:
                calls.append(_call_from_object(obj))
        except (_CallSyntaxError, _CallArgumentError) as exc:
            return DecodedCompletion(text, [], [f"tool call {_snippet(text[start:])}: {exc}"])
        j = i
        while j < len(text) and text[j].isspace():
            j += 1
        if text.startswith(_TOOL_CALL_CLOSE, j):
            pos = j + len(_TOOL_CALL_CLOSE)
        elif j >= len(text):
            pos = j
        else:
            return DecodedCompletion(text, [], [f"tool call {_snippet(text[start:])}: missing </tool_call>"])
    pieces.append(text[pos:])
    return DecodedCompletion("".join(pieces).strip(), calls)
