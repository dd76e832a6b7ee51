"""llamasys.tools: what an agent can call.

    from llamasys.tools import tool, ToolRegistry

    @tool
    def get_weather(city: str, unit: Literal["C", "F"] = "C") -> str:
        '''Current weather for a city.

        Args:
            city: City name, e.g. "Paris".
            unit: Temperature unit.
        '''
        ...

    registry = ToolRegistry([get_weather, WebSearchTool()])
    registry.discover()                                   # plugins: entry-point group "llamasys.tools"
    result = await registry.run("get_weather", {"city": "Paris"})   # ToolResult, never raises

Modules: `base` (Tool, ToolResult, Attachment, ToolError, JSONSchemaTool), `decorator` (@tool),
`registry` (ToolRegistry, plugin discovery), `web_search`, `wolfram_alpha`, `langchain_interop`
(from_langchain / to_langchain), `mcp_interop` (MCP client toolsets and server), `code_interpreter`
and `memory` (knowledge_search). The interop modules, the code interpreter and memory load on first
use: `from llamasys.tools import MCPToolset` imports the MCP SDK only then.
"""

from __future__ import annotations

import importlib
from typing import Any

from .base import Attachment, JSONSchemaTool, Tool, ToolError, ToolResult
from .decorator import FunctionTool, tool
from .registry import (
    ENTRY_POINT_GROUP,
    DiscoveryReport,
    PluginLoadError,
    ToolNameClashError,
    ToolRegistry,
    UnknownToolError,
    builtin_tools,
)
from .web_search import WebSearchTool
from .wolfram_alpha import WolframAlphaTool

__all__ = [
    "ENTRY_POINT_GROUP",
    "Attachment",
    "DiscoveryReport",
    "FunctionTool",
    "JSONSchemaTool",
    "PluginLoadError",
    "Tool",
    "ToolError",
    "ToolNameClashError",
    "ToolRegistry",
    "ToolResult",
    "UnknownToolError",
    "WebSearchTool",
    "WolframAlphaTool",
    "builtin_tools",
    "tool",
    # loaded on first use
    "from_langchain",
    "to_langchain",
    "MCPToolset",
    "MCPTool",
    "connect_stdio",
    "connect_http",
    "build_mcp_server",
    "CodeInterpreter",
    "InterpreterPool",
    "KnowledgeSearchTool",
    "MemoryStore",
]

_LAZY = {
    "from_langchain": ".langchain_interop",
    "to_langchain": ".langchain_interop",
    "MCPToolset": ".mcp_interop",
    "MCPTool": ".mcp_interop",
    "connect_stdio": ".mcp_interop",
    "connect_http": ".mcp_interop",
    "build_mcp_server": ".mcp_interop",
    "CodeInterpreter": ".code_interpreter",
    "InterpreterPool": ".code_interpreter",
    "KnowledgeSearchTool": ".memory",
    "MemoryStore": ".memory",
}


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module_name, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
