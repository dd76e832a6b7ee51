"""`ToolRegistry`: the tools an agent may call, by name, plus plugin discovery through entry points.

    registry = ToolRegistry([web_search_tool, get_stock_price])
    registry.register(other_tool)                 # a clash raises ToolNameClashError; replace=True overrides
    report = registry.discover()                  # plugins in the entry-point group "llamasys.tools"
    report.failures                               # broken plugins: logged and listed, never fatal
    registry.get("web_serch")                     # UnknownToolError: ... Did you mean: web_search?
    result = await registry.run("web_search", {"query": "llama 3.1"})   # never raises: ToolResult
    registry.definitions()                        # the ToolDefinitions for the chat format

A plugin distribution declares, in its pyproject.toml:

    [project.entry-points."llamasys.tools"]
    weather = "llamasys_weather:WeatherTool"

and the entry point may name a `Tool` instance, a `Tool` subclass (built with no arguments), a list of
tools, a LangChain tool, or a factory callable (no arguments) that returns any of these.
"""

from __future__ import annotations

import difflib
import importlib.metadata
import json
import logging
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from pydantic import BaseModel, Field

from llamasys.core_model.messages import ToolDefinition

from .base import Tool, ToolError, ToolResult

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "llamasys.tools"
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$")


class UnknownToolError(ToolError, LookupError):
    """A tool name that is not registered; `suggestions` holds the close matches."""

    def __init__(self, name: str, available: Iterable[str]) -> None:
        self.name = name
        self.available = sorted(available)
        self.suggestions = difflib.get_close_matches(name, self.available, n=3, cutoff=0.6)
        super().__init__(self.message)

    @property
    def message(self) -> str:
        text = f"Unknown tool {self.name!r}."
        if self.suggestions:
            text += " Did you mean: " + ", ".join(self.suggestions) + "?"
        if self.available:
            text += " Available tools: " + ", ".join(self.available) + "."
        else:
            text += " No tools are available."
        return text


class ToolNameClashError(ToolError):
    """Two tools with one name: pass `replace=True` to let the new one win, or rename one."""


class PluginLoadError(ToolError):
    """An entry point that could not be loaded or does not name tools."""


class PluginFailure(BaseModel):
    entry_point: str
    distribution: str | None = None
    error: str


class DiscoveryReport(BaseModel):
    """What `discover` did: tool names per entry point, and the plugins that failed (with why)."""

    loaded: dict[str, list[str]] = Field(default_factory=dict)
    failures: list[PluginFailure] = Field(default_factory=list)

    @property
    def tool_names(self) -> list[str]:
        return [name for names in self.loaded.values() for name in names]


class ToolRegistry:
    """Tools by name. Iteration yields the tools in registration order."""

    def __init__(self, tools: Iterable[Any] = ()) -> None:
        self._tools: dict[str, Tool] = {}
        for item in tools:
            self.register(item)

    # --- registering -----------------------------------------------------------------------------

    def register(self, tool: Any, *, replace: bool = False) -> Tool:
        """Add a tool (a llamasys Tool, or a LangChain tool, which is wrapped). Returns the Tool."""
        wrapped = as_tool(tool)
        name = wrapped.name
        if not isinstance(name, str) or not _NAME.match(name):
            raise ToolError(
                f"invalid tool name {name!r} ({type(wrapped).__name__}): use 1-64 letters, digits, '_' or '-', "
                "starting with a letter or '_'"
            )
        existing = self._tools.get(name)
        if existing is not None and existing is not wrapped and not replace:
            raise ToolNameClashError(
                f"a tool named {name!r} is already registered ({existing!r}); "
                "rename one of them, or register with replace=True to override it"
            )
        if existing is not None and existing is not wrapped:
            log.info("tool %s: %r replaced by %r", name, existing, wrapped)
        self._tools[name] = wrapped
        return wrapped

    def unregister(self, name: str) -> Tool:
        try:
            return self._tools.pop(name)
        except KeyError:
            raise UnknownToolError(name, self._tools) from None

    # --- looking up ------------------------------------------------------------------------------

    def get(self, name: str) -> Tool:
        try:
            return self._tools[name]
        except KeyError:
            raise UnknownToolError(name, self._tools) from None

    __getitem__ = get

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def __iter__(self) -> Iterator[Tool]:
        return iter(list(self._tools.values()))

    def __len__(self) -> int:
        return len(self._tools)

    def names(self) -> list[str]:
        return list(self._tools)

    def definitions(self) -> list[ToolDefinition]:
        return [t.definition for t in self._tools.values()]

    def select(self, names: Iterable[str]) -> ToolRegistry:
        """A new registry holding only `names` (UnknownToolError for a name that is not here)."""
        return ToolRegistry([self.get(name) for name in names])

    # --- running ---------------------------------------------------------------------------------

    async def run(self, name: str, arguments: Mapping[str, Any] | str | None = None) -> ToolResult:
        """Run a tool by name. Unknown names and malformed arguments come back as error results.

        `arguments` may be a mapping or the JSON text a model produced."""
        try:
            tool = self.get(name)
        except UnknownToolError as exc:
            return ToolResult.failure(
                exc.message + " Call one of the available tools instead.",
                kind="unknown_tool",
                suggestions=exc.suggestions,
            )
        if arguments is None or arguments == "":
            arguments = {}
        if isinstance(arguments, str):
            try:
                arguments = json.loads(arguments)
            except json.JSONDecodeError as exc:
                return ToolResult.failure(
                    f"The arguments for {name} are not valid JSON ({exc.msg} at character {exc.pos}). "
                    "Send the arguments as one JSON object.",
                    kind="invalid_arguments",
                )
        if not isinstance(arguments, Mapping):
            return ToolResult.failure(
                f"The arguments for {name} must be a JSON object of named arguments, "
                f"not {type(arguments).__name__}.",
                kind="invalid_arguments",
            )
        bad_keys = [key for key in arguments if not isinstance(key, str)]
        if bad_keys:
            return ToolResult.failure(
                f"The argument names for {name} must be strings.", kind="invalid_arguments"
            )
        try:
            return await tool.run(**arguments)
        except Exception as exc:  # a tool that breaks the never-raise contract still must not crash a turn
            log.warning("tool %s raised out of run()", name, exc_info=True)
            return ToolResult.failure(f"{name} failed: {type(exc).__name__}: {exc}", kind="exception")

    async def close(self) -> None:
        """Close every tool; one tool failing to close does not stop the others."""
        for tool in list(self._tools.values()):
            try:
                await tool.close()
            except Exception:
                log.warning("closing tool %s failed", tool.name, exc_info=True)

    # --- plugins ---------------------------------------------------------------------------------

    def discover(self, group: str = ENTRY_POINT_GROUP, *, replace: bool = False) -> DiscoveryReport:
        """Load every entry point of `group` and register its tools.

        A plugin that fails to import, names something that is not a tool, or clashes with a
        registered name is logged and listed in the report; discovery goes on with the others."""
        report = DiscoveryReport()
        for ep in sorted(importlib.metadata.entry_points(group=group), key=lambda e: e.name):
            label = f"{ep.name} = {ep.value}"
            dist = _distribution_name(ep)
            try:
                tools = load_entry_point(ep)
            except Exception as exc:
                message = f"{type(exc).__name__}: {exc}"
                log.warning(
                    "tool plugin %s (%s) failed to load: %s", label, dist or "unknown distribution", message
                )
                report.failures.append(PluginFailure(entry_point=label, distribution=dist, error=message))
                continue
            names: list[str] = []
            for tool in tools:
                try:
                    names.append(self.register(tool, replace=replace).name)
                except ToolError as exc:
                    log.warning("tool plugin %s: %s", label, exc)
                    report.failures.append(
                        PluginFailure(entry_point=label, distribution=dist, error=str(exc))
                    )
            report.loaded[label] = names
        return report


def load_entry_point(ep: importlib.metadata.EntryPoint) -> list[Tool]:
    """The tools an entry point names (see the module docstring for what it may name)."""
    return _coerce(ep.load(), f"entry point {ep.name!r} ({ep.value})", call_factories=True)


def as_tool(obj: Any) -> Tool:
    """A llamasys Tool as is; a LangChain tool wrapped; anything else is a clear ToolError."""
    if isinstance(obj, Tool):
        return obj
    if _is_langchain_tool(obj):
        from .langchain_interop import from_langchain

        return from_langchain(obj)
    if isinstance(obj, type) and issubclass(obj, Tool):
        raise ToolError(f"{obj.__name__} is a Tool class: register an instance, {obj.__name__}(...)")
    if callable(obj):
        raise ToolError(
            f"{getattr(obj, '__name__', obj)!r} is a plain callable: decorate it with "
            "@llamasys.tools.tool to make it a tool"
        )
    raise ToolError(f"{obj!r} is not a tool: expected a llamasys Tool or a LangChain BaseTool")


def _coerce(obj: Any, where: str, *, call_factories: bool) -> list[Tool]:
    if isinstance(obj, Tool) or _is_langchain_tool(obj):
        return [as_tool(obj)]
    if isinstance(obj, type) and issubclass(obj, Tool):
        try:
            return [obj()]
        except TypeError as exc:
            raise PluginLoadError(
                f"{where} names the class {obj.__name__}, which cannot be built without arguments ({exc}); "
                "point the entry point at an instance or a factory function instead"
            ) from exc
    if isinstance(obj, list | tuple | set | frozenset):
        tools: list[Tool] = []
        for item in obj:
            tools.extend(_coerce(item, where, call_factories=False))
        return tools
    if call_factories and callable(obj):
        return _coerce(obj(), f"{where} (the factory's result)", call_factories=False)
    raise PluginLoadError(
        f"{where} gives {type(obj).__name__} {obj!r}; expected a Tool, a Tool subclass, "
        "a list of tools or a factory returning them"
    )


def _is_langchain_tool(obj: Any) -> bool:
    return any(
        cls.__name__ == "BaseTool" and cls.__module__.startswith("langchain_core.")
        for cls in type(obj).__mro__
    )


def _distribution_name(ep: importlib.metadata.EntryPoint) -> str | None:
    dist = getattr(ep, "dist", None)
    return None if dist is None else dist.metadata["Name"]


def builtin_tools() -> list[Tool]:
    """The built-in tools that need no set-up: `web_search` and `wolfram_alpha` (which reports a
    missing WOLFRAM_ALPHA_API_KEY when called). `code_interpreter` and `knowledge_search` need a
    sandbox or a memory bank and are built by the caller."""
    from .web_search import WebSearchTool
    from .wolfram_alpha import WolframAlphaTool

    return [WebSearchTool(), WolframAlphaTool()]
