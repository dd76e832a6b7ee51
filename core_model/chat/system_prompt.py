"""The Llama 3.1 / 3.2 tool prompts: the system-prompt header, custom-tool instructions, tool_choice.

    ```python
    from datetime import date
    from llamasys.core_model.chat.system_prompt import build_system_prompt, prepare_tool_dialog
    print(build_system_prompt(tools=[web_search_def], instructions="You are a helpful assistant.",
                              today=date(2026, 11, 26)))
    # -> Environment: ipython
    # -> Tools: brave_search
    # -> Cutting Knowledge Date: December 2023
    # -> Today Date: 26 November 2026
    # -> <BLANKLINE>
    # -> You are a helpful assistant.
    # -> <BLANKLINE>
    prepare_tool_dialog(messages, tools, tool_prompt_format="json")   # -> new message list
    ```

Layout (reproduces the system messages of Meta's Llama 3.1 / 3.2 prompt-format documents byte for byte):

- `Environment: ipython` when any tool is offered (python_list: only with built-ins); it alone turns on the
  code interpreter, which is never listed on the `Tools:` line.
- `Tools: brave_search, wolfram_alpha` for the search built-ins (`web_search` is offered as brave_search);
  with no such line, a blank line follows `Environment: ipython`.
- `Cutting Knowledge Date: December 2023` / `Today Date: 26 November 2026` (day month-name year).
- then a blank line, the caller's instructions (the dialog's first system message), the Llama 3.2 function
  list for `python_list`, and the tool_choice sentence, separated by blank lines, and a final newline.

Custom tools in `json` and `function_tag` format are described in a separate user message placed right
after the system message (Llama 3.1 document); in `python_list` format they go into the system message
(Llama 3.2 document). tool_choice: "auto" (default), "required" (the model must call some tool), "none"
(tools are not offered at all: the dialog is returned unchanged), or a tool name (it must call that one).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date
from typing import Any

from llamasys.core_model.chat.tool_call_codec import (
    CALL_SYNTAX_BUILTINS,
    ChatFormatError,
    ToolPromptFormat,
    check_tool_prompt_format,
    is_builtin_tool,
    prompt_tool_name,
)
from llamasys.core_model.messages import Message, SystemMessage, ToolDefinition, UserMessage

__all__ = [
    "KNOWLEDGE_CUTOFF",
    "build_system_prompt",
    "check_tool_choice",
    "format_code_interpreter_result",
    "format_prompt_date",
    "function_schema",
    "function_tag_tools_prompt",
    "json_tools_prompt",
    "prepare_tool_dialog",
    "python_list_tools_prompt",
    "split_tools",
    "tool_choice_instruction",
]

KNOWLEDGE_CUTOFF = "December 2023"
_MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]

_JSON_TOOLS_HEAD = (
    "Answer the user's question by making use of the following functions if needed.\n"
    "If none of the function can be used, please say so.\n"
    "Here is a list of functions in JSON format:\n"
)
_JSON_TOOLS_TAIL = "\n\nReturn function calls in JSON format."

_FUNCTION_TAG_HEAD = "You have access to the following functions:\n\n"
_FUNCTION_TAG_TAIL = (
    "Think very carefully before calling functions.\n"
    "If you choose to call a function ONLY reply in the following format with no prefix or suffix:\n"
    "\n"
    '<function=example_function_name>{"example_name": "example_value"}</function>\n'
    "\n"
    "Reminder:\n"
    "- If looking for real time information use relevant functions before falling back to brave_search\n"
    "- Function calls MUST follow the specified format, start with <function= and end with </function>\n"
    "- Required parameters MUST be specified\n"
    "- Only call one function at a time\n"
    "- Put the entire function call reply on one line"
)

_PYTHON_LIST_HEAD = (
    "You are an expert in composing functions. You are given a question and a set of possible functions.\n"
    "Based on the question, you will need to make one or more function/tool calls to achieve the purpose.\n"
    "If none of the function can be used, point it out. If the given question lacks the parameters required "
    "by the function,\n"
    "also point it out. You should only return the function call in tools call sections.\n"
    "\n"
    "If you decide to invoke any of the function(s), you MUST put it in the format of "
    "[func_name1(params_name1=params_value1, params_name2=params_value2...), func_name2(params)]\n"
    "You SHOULD NOT include any other text in the response.\n"
    "\n"
    "Here is a list of functions in JSON format that you can invoke.\n"
    "\n"
)

_PARAM_TYPES = {
    "string": "str",
    "integer": "int",
    "number": "float",
    "boolean": "bool",
    "array": "list",
    "object": "dict",
    "null": "None",
}


def format_prompt_date(day: date) -> str:
    """`26 November 2026`: the date style of Meta's prompts, independent of the process locale."""
    return f"{day.day:02d} {_MONTHS[day.month - 1]} {day.year}"


def split_tools(tools: Sequence[ToolDefinition]) -> tuple[list[str], list[ToolDefinition]]:
    """(built-in prompt names in order, without duplicates; custom tool definitions)."""
    builtins: list[str] = []
    custom: list[ToolDefinition] = []
    for tool in tools:
        if is_builtin_tool(tool.name):
            name = prompt_tool_name(tool.name)
            if name not in builtins:
                builtins.append(name)
        else:
            custom.append(tool)
    return builtins, custom


def _schema_properties(tool: ToolDefinition) -> tuple[dict[str, Any], list[str]]:
    properties = tool.parameters.get("properties") or {}
    if not isinstance(properties, dict):
        properties = {}
    required = tool.parameters.get("required") or []
    return properties, [r for r in required if isinstance(r, str)]


def _param_type(schema: Any) -> str:
    kind = schema.get("type") if isinstance(schema, dict) else None
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    return _PARAM_TYPES.get(kind, str(kind) if kind else "any")


def function_schema(tool: ToolDefinition) -> dict[str, Any]:
    """`{"type": "function", "function": {name, description, parameters}}`: the OpenAI / Hugging Face envelope."""
    return {
        "type": "function",
        "function": {"name": tool.name, "description": tool.description, "parameters": tool.parameters},
    }


def json_tools_prompt(tools: Sequence[ToolDefinition]) -> str:
    """The Llama 3.1 user message describing custom tools for `json` calls."""
    blocks = [json.dumps(function_schema(t), indent=4, ensure_ascii=False) for t in tools]
    return _JSON_TOOLS_HEAD + "\n".join(blocks) + _JSON_TOOLS_TAIL


def function_tag_tools_prompt(tools: Sequence[ToolDefinition]) -> str:
    """The Llama 3.1 user message describing custom tools for `<function=...>` calls."""
    sections = []
    for tool in tools:
        properties, required = _schema_properties(tool)
        params = {}
        for name in sorted(properties):
            schema = properties[name] if isinstance(properties[name], dict) else {}
            entry: dict[str, Any] = {
                "description": schema.get("description", ""),
                "param_type": _param_type(schema),
                "required": name in required,
            }
            if "default" in schema:
                entry["default"] = schema["default"]
            params[name] = dict(sorted(entry.items()))
        line = json.dumps(
            {"name": tool.name, "description": tool.description, "parameters": params}, ensure_ascii=False
        )
        sections.append(f"Use the function '{tool.name}' to '{tool.description}':\n{line}\n\n")
    return _FUNCTION_TAG_HEAD + "".join(sections) + _FUNCTION_TAG_TAIL


def python_list_tools_prompt(tools: Sequence[ToolDefinition]) -> str:
    """The Llama 3.2 system-message section listing functions for `[f(a=1)]` calls."""
    entries = []
    for tool in tools:
        properties, required = _schema_properties(tool)
        params: dict[str, Any] = {"type": "dict", "required": required, "properties": properties}
        params.update(
            {k: v for k, v in tool.parameters.items() if k not in ("type", "required", "properties")}
        )
        entries.append({"name": tool.name, "description": tool.description, "parameters": params})
    return _PYTHON_LIST_HEAD + json.dumps(entries, indent=4, ensure_ascii=False)


def check_tool_choice(
    tool_choice: str, tools: Sequence[ToolDefinition], *, prompt_names: bool = False
) -> None:
    """Raise `ChatFormatError` unless tool_choice is "auto", "none", or "required" / a tool name with tools
    offered. `prompt_names` also accepts a tool's Llama prompt name (`brave_search` for `web_search`)."""
    if tool_choice in ("auto", "none"):
        return
    if not tools:
        raise ChatFormatError(f"tool_choice={tool_choice!r} needs at least one tool in `tools`")
    offered = {t.name for t in tools}
    if prompt_names:
        offered |= {prompt_tool_name(t.name) for t in tools}
    if tool_choice != "required" and tool_choice not in offered:
        raise ChatFormatError(
            f"tool_choice names {tool_choice!r}, which is not among the offered tools "
            f"({', '.join(sorted(t.name for t in tools))}): pass it in `tools` or use 'auto'/'required'"
        )


def tool_choice_instruction(tool_choice: str) -> str | None:
    """The sentence that enforces tool_choice ("required" or a tool name, written as given); None for
    "auto" / "none"."""
    if tool_choice in ("auto", "none"):
        return None
    if tool_choice == "required":
        return "You MUST use one of the provided functions/tools to answer the user query."
    return f"You MUST use the tool `{tool_choice}` to answer the user query."


def build_system_prompt(
    *,
    tools: Sequence[ToolDefinition] = (),
    tool_prompt_format: ToolPromptFormat = "json",
    instructions: str | None = None,
    tool_choice: str = "auto",
    today: date | None = None,
    include_date: bool = True,
) -> str:
    """The system message text for `tools` (see the module docstring for the exact layout).

    `today` defaults to `date.today()`; pass it for reproducible prompts. `include_date=False` drops the
    knowledge-cutoff and date lines (the Llama 3.2 function-calling document shows a prompt without them).
    Custom tools appear here only in `python_list` format; use `prepare_tool_dialog` for the whole dialog.
    """
    builtins, custom = split_tools(tools)
    search = [b for b in builtins if b in CALL_SYNTAX_BUILTINS]
    python_list = tool_prompt_format == "python_list"
    environment = bool(builtins) or (bool(custom) and not python_list)
    head = ""
    if environment:
        head += "Environment: ipython\n"
    if search:
        head += "Tools: " + ", ".join(search) + "\n"
    elif environment:
        head += "\n"
    if include_date:
        day = today if today is not None else date.today()
        head += f"Cutting Knowledge Date: {KNOWLEDGE_CUTOFF}\nToday Date: {format_prompt_date(day)}\n"
    body = [part for part in (instructions,) if part]
    if python_list and custom:
        body.append(python_list_tools_prompt(custom))
    choice = tool_choice_instruction(prompt_tool_name(tool_choice))
    if choice:
        body.append(choice)
    text = "\n\n".join(body)
    if not head:
        return text
    return head + ("\n" + text + "\n" if text else "")


def prepare_tool_dialog(
    messages: Sequence[Message],
    tools: Sequence[ToolDefinition],
    *,
    tool_prompt_format: ToolPromptFormat = "json",
    tool_choice: str = "auto",
    today: date | None = None,
    include_date: bool = True,
) -> list[Message]:
    """The dialog with the tool prompts applied: a new system message (the dialog's own leading system
    message becomes its instructions), then for `json` / `function_tag` custom tools a user message
    describing them, then the rest of the dialog. With no tools and tool_choice "auto", or with
    tool_choice "none", the messages come back unchanged.
    """
    messages = list(messages)
    check_tool_prompt_format(tool_prompt_format)
    check_tool_choice(tool_choice, tools, prompt_names=True)
    if tool_choice == "none" or not tools:
        return messages
    instructions = None
    if messages and isinstance(messages[0], SystemMessage):
        instructions = messages.pop(0).content
    system = build_system_prompt(
        tools=tools,
        tool_prompt_format=tool_prompt_format,
        instructions=instructions,
        tool_choice=tool_choice,
        today=today,
        include_date=include_date,
    )
    prepared: list[Message] = [SystemMessage(content=system)]
    _, custom = split_tools(tools)
    if custom and tool_prompt_format == "json":
        prepared.append(UserMessage(content=json_tools_prompt(custom)))
    elif custom and tool_prompt_format == "function_tag":
        prepared.append(UserMessage(content=function_tag_tools_prompt(custom)))
    return prepared + messages


def format_code_interpreter_result(*, stdout: str = "", stderr: str = "", success: bool = True) -> str:
    """A code-interpreter result as Llama 3.1's tool message shows it.

    `completed[stdout]7\\n[/stdout]` on success, `failed[stderr]Traceback...[/stderr]` on failure; each block
    only when not empty (Meta's `tool_message` template). Send it as a ToolResponseMessage's content.
    """
    text = "completed" if success else "failed"
    if stdout:
        text += f"[stdout]{stdout}[/stdout]"
    if stderr:
        text += f"[stderr]{stderr}[/stderr]"
    return text
