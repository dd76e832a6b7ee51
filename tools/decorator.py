"""`@tool`: a typed Python function becomes a llamasys `Tool`.

    @tool
    def get_stock_price(ticker: str, currency: Literal["USD", "EUR"] = "USD") -> dict:
        '''Look up the latest price of a stock.

        Args:
            ticker: The stock symbol, e.g. "META".
            currency: Currency of the returned price.
        '''
        ...

    get_stock_price.definition        # name, description and JSON Schema the model sees
    await get_stock_price.run(ticker="META")   # -> ToolResult (validated, timed out, never raises)
    get_stock_price("META")           # still the plain function

- name: the function's name (or `@tool(name=...)`); description: the docstring's text before its
  first section (or `@tool(description=...)`).
- argument schema: built by pydantic (`create_model`) from the signature, so `Optional`, defaults,
  `Literal`, `Enum`, lists, dicts and nested pydantic models all work; parameter descriptions come
  from Google (`Args:`), NumPy (`Parameters` + dashes) or Sphinx (`:param x:`) docstring sections, or
  from `Annotated[int, Field(description=...)]` / `Annotated[int, "text"]`.
- sync functions run in a worker thread so they never block the event loop; `timeout` (seconds,
  default 60, `None` for none) bounds every call. Past the timeout the model gets an error result;
  a sync function's thread cannot be killed and finishes in the background.
- the return value: a `ToolResult` as is, a `str` as the content, anything else as compact JSON.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import re
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, overload

from pydantic import BaseModel, ConfigDict, Field, create_model
from pydantic.fields import FieldInfo

from .base import Tool

log = logging.getLogger(__name__)

__all__ = ["FunctionTool", "ParsedDocstring", "parse_docstring", "tool"]


class FunctionTool(Tool):
    """A tool made from a function by `@tool`; calling it directly calls the function."""

    def __init__(
        self,
        fn: Callable[..., Any],
        *,
        name: str | None = None,
        description: str | None = None,
        timeout: float | None = 60.0,
    ) -> None:
        if not callable(fn):
            raise TypeError(f"@tool needs a function, got {type(fn).__name__}")
        if inspect.isasyncgenfunction(fn) or inspect.isgeneratorfunction(fn):
            raise TypeError(f"@tool cannot wrap the generator {fn.__name__}: return the whole result instead")
        docs = parse_docstring(inspect.getdoc(fn))
        self.fn = fn
        self.name = name or fn.__name__
        self.description = description if description is not None else docs.description
        self.timeout = timeout
        self.Arguments, self._parameter_of = _arguments_model(fn, self.name, docs.params)
        self._is_async = inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(
            getattr(fn, "__call__", None)  # noqa: B004 (async callable objects)
        )
        if not self.description:
            log.warning(
                "tool %s has no description: give it a docstring so the model knows when to use it", self.name
            )
        functools.update_wrapper(self, fn)  # type: ignore[arg-type]

    async def call(self, /, **arguments: Any) -> Any:
        # `run` hands over the model's fields by their internal names; the function gets its own names.
        arguments = {self._parameter_of.get(key, key): value for key, value in arguments.items()}
        if self._is_async:
            return await self.fn(**arguments)
        return await asyncio.to_thread(self.fn, **arguments)

    def __call__(self, /, *args: Any, **kwargs: Any) -> Any:
        return self.fn(*args, **kwargs)


@overload
def tool(fn: Callable[..., Any], /) -> FunctionTool: ...


@overload
def tool(
    fn: None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    timeout: float | None = 60.0,
) -> Callable[[Callable[..., Any]], FunctionTool]: ...


def tool(
    fn: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    timeout: float | None = 60.0,
) -> FunctionTool | Callable[[Callable[..., Any]], FunctionTool]:
    """Make a tool from a typed function: `@tool`, or `@tool(name=..., description=..., timeout=...)`."""
    if fn is not None:
        return FunctionTool(fn, name=name, description=description, timeout=timeout)

    def decorate(func: Callable[..., Any]) -> FunctionTool:
        return FunctionTool(func, name=name, description=description, timeout=timeout)

    return decorate


def _arguments_model(
    fn: Callable[..., Any], tool_name: str, param_docs: dict[str, str]
) -> tuple[type[BaseModel], dict[str, str]]:
    """The pydantic model of `fn`'s arguments, and its field names -> the function's parameter names.

    Every parameter becomes a field named `p0`, `p1`, ... whose alias is the parameter's own name, so any
    valid Python name works — also those pydantic reserves or refuses as field names (`model_config`,
    `model_fields`, `schema`, `json`, `copy`, `_private`, `__dunder__`): the schema shows the real name
    and validation reads it."""
    try:
        hints = typing.get_type_hints(fn, include_extras=True)
    except Exception as exc:
        raise TypeError(
            f"cannot resolve the type hints of {tool_name}: {type(exc).__name__}: {exc}. "
            "Define the types it uses at module level (or import them there)."
        ) from exc
    fields: dict[str, Any] = {}
    parameter_of: dict[str, str] = {}
    for pname, param in inspect.signature(fn).parameters.items():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise TypeError(
                f"tool {tool_name} takes *{pname}: a tool needs named, typed parameters so the model "
                "knows what to pass; replace it with explicit parameters (a list[...] if need be)"
            )
        if param.kind is param.POSITIONAL_ONLY:
            raise TypeError(
                f"tool {tool_name}: parameter {pname} is positional-only; tools are called by keyword"
            )
        key = f"p{len(fields)}"
        parameter_of[key] = pname
        annotation = hints.get(pname, Any)
        annotation, has_description = _with_text_metadata(annotation)
        default = param.default
        if isinstance(default, FieldInfo):
            if default.description is None and not has_description and pname in param_docs:
                default.description = param_docs[pname]
            fields[key] = (annotation, _aliased(default, pname))
            continue
        value = ... if default is param.empty else default
        if has_description:  # the Annotated Field carries it; a second description would blank it out
            fields[key] = (annotation, Field(value, alias=pname, title=_title(pname)))
        else:
            fields[key] = (
                annotation,
                Field(value, alias=pname, title=_title(pname), description=param_docs.get(pname)),
            )
    model = create_model(  # type: ignore[call-overload]
        f"{tool_name}_arguments", __config__=ConfigDict(extra="forbid", populate_by_name=False), **fields
    )
    return model, parameter_of


def _title(name: str) -> str:
    return name.replace("_", " ").strip().title() or name


def _aliased(info: FieldInfo, alias: str) -> FieldInfo:
    """A copy of a `param: int = Field(...)` default whose alias is the parameter's name."""
    alias = info.alias or alias  # `from_: str = Field(alias="from")` keeps the name its author chose
    label = Field(alias=alias, title=info.title or _title(alias))
    return FieldInfo.merge_field_infos(info, label)  # type: ignore[no-any-return]


def _with_text_metadata(annotation: Any) -> tuple[Any, bool]:
    """`Annotated[int, "text"]` -> `Annotated[int, Field(description="text")]`; says whether one is set."""
    if typing.get_origin(annotation) is not Annotated:
        return annotation, False
    base, *metadata = typing.get_args(annotation)
    has_description = False
    converted = []
    for item in metadata:
        if isinstance(item, str):
            item = Field(description=item)
        if isinstance(item, FieldInfo) and item.description:
            has_description = True
        converted.append(item)
    return Annotated[(base, *converted)], has_description  # type: ignore[return-value]


# --- docstrings ----------------------------------------------------------------------------------


@dataclass
class ParsedDocstring:
    """A docstring split into its description (text before the first section) and parameter texts."""

    description: str = ""
    params: dict[str, str] = field(default_factory=dict)


_PARAM_SECTIONS = {
    "args",
    "arguments",
    "parameters",
    "params",
    "keyword args",
    "keyword arguments",
    "other parameters",
}
_KNOWN_SECTIONS = _PARAM_SECTIONS | {
    "returns",
    "return",
    "yields",
    "yield",
    "raises",
    "raise",
    "examples",
    "example",
    "notes",
    "note",
    "attributes",
    "see also",
    "warnings",
    "warning",
    "warns",
    "todo",
    "references",
    "methods",
}
_GOOGLE_HEADER = re.compile(r"^\s*([A-Za-z][A-Za-z ]*?)\s*:\s*$")
_NUMPY_RULE = re.compile(r"^\s*-{3,}\s*$")
_SPHINX_FIELD = re.compile(r"^\s*:([A-Za-z]+)([^:]*):\s*(.*)$")
_SPHINX_PARAM_KINDS = {"param", "parameter", "arg", "argument", "key", "keyword"}
_GOOGLE_ENTRY = re.compile(r"^\*{0,2}(\w+)\s*(?:\((?:[^()]|\([^()]*\))*\))?\s*:\s*(.*)$")
_NUMPY_ENTRY = re.compile(r"^(\w+(?:\s*,\s*\w+)*)\s*(?::\s*.*)?$")


def parse_docstring(doc: str | None) -> ParsedDocstring:
    """Parse a Google-, NumPy- or Sphinx-style docstring (the styles may not be mixed in one section)."""
    if not doc or not doc.strip():
        return ParsedDocstring()
    lines = inspect.cleandoc(doc).splitlines()
    result = ParsedDocstring()
    i = 0
    intro: list[str] = []
    while i < len(lines) and _section_kind(lines, i) is None:
        intro.append(lines[i])
        i += 1
    result.description = _join_paragraphs(intro)
    while i < len(lines):
        kind = _section_kind(lines, i)
        if kind is None:
            i += 1
            continue
        if kind == "sphinx":
            i = _read_sphinx_field(lines, i, result.params)
            continue
        title = lines[i].strip().rstrip(":").strip().lower()
        i += 2 if kind == "numpy" else 1
        body: list[str] = []
        while i < len(lines) and _section_kind(lines, i) is None:
            line = lines[i]
            if kind == "google" and line.strip() and not line[:1].isspace():
                break  # back at the left margin: the section is over
            body.append(line)
            i += 1
        if title in _PARAM_SECTIONS:
            result.params.update(_read_entries(body, kind))
    return result


def _section_kind(lines: list[str], i: int) -> str | None:
    line = lines[i]
    if _SPHINX_FIELD.match(line) and not line[:1].isspace():
        return "sphinx"
    if line[:1].isspace():
        return None
    if i + 1 < len(lines) and _NUMPY_RULE.match(lines[i + 1]) and line.strip().lower() in _KNOWN_SECTIONS:
        return "numpy"
    header = _GOOGLE_HEADER.match(line)
    if header and header.group(1).lower() in _KNOWN_SECTIONS:
        return "google"
    return None


def _read_sphinx_field(lines: list[str], i: int, params: dict[str, str]) -> int:
    match = _SPHINX_FIELD.match(lines[i])
    assert match is not None
    kind, rest, text = match.group(1).lower(), match.group(2).split(), match.group(3)
    parts = [text.strip()]
    i += 1
    while i < len(lines) and lines[i][:1].isspace() and lines[i].strip():
        parts.append(lines[i].strip())
        i += 1
    if kind in _SPHINX_PARAM_KINDS and rest:
        params[rest[-1]] = " ".join(p for p in parts if p)
    return i


def _read_entries(body: list[str], kind: str) -> dict[str, str]:
    content = [line for line in body if line.strip()]
    if not content:
        return {}
    margin = min(len(line) - len(line.lstrip()) for line in content)
    entries: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in content:
        indent = len(line) - len(line.lstrip())
        text = line.strip()
        if indent == margin:
            pattern = _GOOGLE_ENTRY if kind == "google" else _NUMPY_ENTRY
            match = pattern.match(text)
            if match is None:
                current = None
                continue
            current = []
            first = match.group(2) if kind == "google" else None
            if first:
                current.append(first.strip())
            for name in re.split(r"\s*,\s*", match.group(1)):
                entries[name] = current
        elif current is not None:
            current.append(text)
    return {name: " ".join(parts) for name, parts in entries.items() if parts}


def _join_paragraphs(lines: list[str]) -> str:
    paragraphs: list[str] = []
    current: list[str] = []
    for line in [*lines, ""]:
        if line.strip():
            current.append(line.strip())
        elif current:
            paragraphs.append(" ".join(current))
            current = []
    return "\n\n".join(paragraphs)
