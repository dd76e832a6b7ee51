"""Model Context Protocol interop through the official `mcp` SDK (2.x): use MCP servers' tools, and
serve llamasys tools to any MCP client.

Client — the tools of a server appear as llamasys tools:

    async with connect_stdio("npx", ["-y", "@modelcontextprotocol/server-everything"]) as toolset:
        registry = ToolRegistry(toolset.tools)            # MCPTool instances
        result = await registry.run("echo", {"message": "hi"})

    async with connect_http("http://127.0.0.1:8000/mcp", headers={"Authorization": "Bearer ..."}) as toolset:
        ...

Each `MCPTool` carries the server's `inputSchema` as its JSON Schema (checked with `jsonschema` before
the call). A call's text content becomes the result's content, image and audio content and embedded
binary resources become attachments, `structuredContent` goes into `metadata["structured"]` (and is
the content when there is no text), and `isError` sets the error flag. A server that dies, hangs past
`read_timeout` or answers with a protocol error gives an error result, never an exception. Tool names
can be prefixed (`name_prefix="github_"`) to avoid clashes between servers.

The toolset must be entered and left in the same task (the SDK holds anyio task groups); tools may be
called from any task on that loop while it is open.

Server — registered llamasys tools as an MCP server (this is what `llamasys mcp serve` runs):

    server = build_mcp_server(registry)                     # an mcp.server.lowlevel.Server
    await serve_stdio(registry)                             # JSON-RPC over stdin/stdout
    await serve_http(registry, host="127.0.0.1", port=8000) # streamable HTTP at /mcp

A tool's result is sent as one text block plus one image (or embedded blob) block per attachment,
with `isError` from the result's error flag; unknown tools and bad arguments come back as error
results (with the close matches), as the registry produces them.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import Iterable, Mapping, Sequence
from contextlib import AsyncExitStack
from typing import Any

import mcp_types as mt
from mcp import Client, StdioServerParameters
from mcp.server.lowlevel import Server

from .base import Attachment, JSONSchemaTool, Tool, ToolError, ToolResult, to_json_text
from .registry import ToolRegistry

log = logging.getLogger(__name__)

__all__ = [
    "MCPConnectionError",
    "MCPTool",
    "MCPToolset",
    "build_mcp_server",
    "connect_http",
    "connect_stdio",
    "mcp_result_to_tool_result",
    "serve_http",
    "serve_stdio",
    "tool_result_to_mcp",
]


class MCPConnectionError(ToolError):
    """An MCP server could not be started, reached or initialised."""


class MCPTool(JSONSchemaTool):
    """One tool of an MCP server; `call` forwards to the server through its toolset."""

    def __init__(self, toolset: MCPToolset, spec: mt.Tool, *, name: str, timeout: float | None) -> None:
        super().__init__(name, spec.description or spec.title or "", spec.input_schema, timeout=timeout)
        self.toolset = toolset
        self.remote_name = spec.name
        self.spec = spec

    async def call(self, /, **arguments: Any) -> ToolResult:
        return await self.toolset.call(self.remote_name, arguments)


class MCPToolset:
    """A connection to one MCP server and the llamasys tools it offers. Use `async with`."""

    def __init__(
        self,
        server: StdioServerParameters | str,
        *,
        headers: Mapping[str, str] | None = None,
        name_prefix: str = "",
        include: Iterable[str] | None = None,
        connect_timeout: float = 30.0,
        read_timeout: float | None = 60.0,
    ) -> None:
        self.server = server
        self.headers = dict(headers or {})
        self.name_prefix = name_prefix
        self.include = None if include is None else set(include)
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.tools: list[MCPTool] = []
        self._client: Client | None = None
        self._stack: AsyncExitStack | None = None

    @property
    def description(self) -> str:
        if isinstance(self.server, str):
            return self.server
        return " ".join([self.server.command, *self.server.args])

    async def __aenter__(self) -> MCPToolset:
        stack = AsyncExitStack()
        try:
            async with asyncio.timeout(self.connect_timeout):
                transport: Any = self.server
                if isinstance(self.server, str) and self.headers:
                    import httpx2
                    from mcp.client.streamable_http import streamable_http_client

                    http = await stack.enter_async_context(
                        httpx2.AsyncClient(headers=self.headers, timeout=httpx2.Timeout(30.0, read=300.0))
                    )
                    transport = streamable_http_client(self.server, http_client=http)
                client = Client(transport, read_timeout_seconds=self.read_timeout)
                self._client = await stack.enter_async_context(client)
                self.tools = await self._list_tools()
        except BaseException as exc:
            await stack.aclose()
            self._client = None
            if isinstance(exc, TimeoutError):
                raise MCPConnectionError(
                    f"MCP server {self.description} did not answer within {self.connect_timeout:g} s"
                ) from exc
            if isinstance(exc, Exception):
                raise MCPConnectionError(
                    f"could not connect to MCP server {self.description}: {_describe(exc)}"
                ) from exc
            raise
        self._stack = stack
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        stack, self._stack, self._client = self._stack, None, None
        if stack is not None:
            try:
                await stack.aclose()
            except Exception:
                log.debug("closing MCP connection to %s failed", self.description, exc_info=True)

    async def _list_tools(self) -> list[MCPTool]:
        assert self._client is not None
        specs: list[mt.Tool] = []
        cursor: str | None = None
        for _ in range(100):  # a server whose pagination never ends cannot hang us
            page = await self._client.list_tools(cursor=cursor)
            specs.extend(page.tools)
            cursor = page.next_cursor
            if not cursor:
                break
        tools = []
        for spec in specs:
            if self.include is not None and spec.name not in self.include:
                continue
            tools.append(MCPTool(self, spec, name=self.name_prefix + spec.name, timeout=self.read_timeout))
        return tools

    async def call(self, name: str, arguments: Mapping[str, Any]) -> ToolResult:
        """Call a server tool by its server-side name; every failure is an error result."""
        if self._client is None:
            return ToolResult.failure(
                f"the MCP server {self.description} is not connected (use the toolset inside `async with`).",
                kind="mcp_closed",
            )
        try:
            result = await self._client.call_tool(name, dict(arguments))
        except Exception as exc:
            return ToolResult.failure(
                f"MCP tool {name} failed: {_describe(exc)}", kind="mcp_error", server=self.description
            )
        return mcp_result_to_tool_result(result)


def connect_stdio(
    command: str,
    args: Sequence[str] = (),
    *,
    env: Mapping[str, str] | None = None,
    cwd: str | None = None,
    **options: Any,
) -> MCPToolset:
    """A toolset for a server started as a subprocess speaking MCP over stdin/stdout.

    The server inherits only the SDK's safe default variables (HOME, PATH, USER, ...) with `env`
    merged over them, so API keys in this process reach the server only when passed in `env`."""
    params = StdioServerParameters(command=command, args=list(args), env=dict(env) if env else None, cwd=cwd)
    return MCPToolset(params, **options)


def connect_http(url: str, *, headers: Mapping[str, str] | None = None, **options: Any) -> MCPToolset:
    """A toolset for a server at a streamable-HTTP endpoint (usually ending in /mcp)."""
    return MCPToolset(url, headers=headers, **options)


def mcp_result_to_tool_result(result: mt.CallToolResult) -> ToolResult:
    texts: list[str] = []
    attachments: list[Attachment] = []
    for block in result.content:
        if isinstance(block, mt.TextContent):
            texts.append(block.text)
        elif isinstance(block, mt.ImageContent | mt.AudioContent):
            kind = "image" if isinstance(block, mt.ImageContent) else "audio"
            attachments.append(
                Attachment(
                    name=f"{kind}-{len(attachments) + 1}{_extension(block.mime_type)}",
                    mime_type=block.mime_type,
                    data=base64.b64decode(block.data),
                )
            )
        elif isinstance(block, mt.EmbeddedResource):
            resource = block.resource
            if isinstance(resource, mt.TextResourceContents):
                texts.append(resource.text)
            elif isinstance(resource, mt.BlobResourceContents):
                name = str(resource.uri).rstrip("/").rsplit("/", 1)[-1] or f"resource-{len(attachments) + 1}"
                attachments.append(
                    Attachment(
                        name=name,
                        mime_type=resource.mime_type or "application/octet-stream",
                        data=base64.b64decode(resource.blob),
                    )
                )
        elif isinstance(block, mt.ResourceLink):
            texts.append(f"[resource {block.name}: {block.uri}]")
    metadata: dict[str, Any] = {}
    if result.structured_content is not None:
        metadata["structured"] = result.structured_content
        if not texts:
            texts.append(to_json_text(result.structured_content))
    if result.is_error and not texts:
        texts.append("the MCP tool reported an error without a message")
    return ToolResult(
        content="\n".join(texts), attachments=attachments, metadata=metadata, error=result.is_error
    )


def _extension(mime: str | None) -> str:
    if not mime or "/" not in mime:
        return ""
    sub = mime.split("/", 1)[1].split(";")[0].split("+")[0]
    return "." + {"jpeg": "jpg", "svg": "svg", "mpeg": "mp3"}.get(sub, sub)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, BaseExceptionGroup):
        inner = [_describe(e) for e in exc.exceptions]
        return "; ".join(inner) or type(exc).__name__
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


# --- serving llamasys tools --------------------------------------------------------------------


def tool_result_to_mcp(result: ToolResult) -> mt.CallToolResult:
    content: list[Any] = [mt.TextContent(type="text", text=result.content)]
    for attachment in result.attachments:
        data = base64.b64encode(attachment.data).decode("ascii")
        if attachment.mime_type.startswith("image/"):
            content.append(mt.ImageContent(type="image", data=data, mime_type=attachment.mime_type))
        elif attachment.mime_type.startswith("audio/"):
            content.append(mt.AudioContent(type="audio", data=data, mime_type=attachment.mime_type))
        else:
            content.append(
                mt.EmbeddedResource(
                    type="resource",
                    resource=mt.BlobResourceContents(
                        uri=f"attachment:///{attachment.name}", mime_type=attachment.mime_type, blob=data
                    ),
                )
            )
    return mt.CallToolResult(content=content, is_error=result.error)


def build_mcp_server(
    tools: ToolRegistry | Iterable[Tool],
    *,
    name: str = "llamasys",
    version: str = "",
    instructions: str | None = None,
) -> Server[Any]:
    """A low-level MCP `Server` listing and calling `tools`."""
    registry = tools if isinstance(tools, ToolRegistry) else ToolRegistry(tools)
    if not version:
        version = _package_version()

    async def on_list_tools(ctx: Any, params: mt.PaginatedRequestParams | None) -> mt.ListToolsResult:
        specs = []
        for tool in registry:
            definition = tool.definition
            specs.append(
                mt.Tool(
                    name=definition.name,
                    description=definition.description,
                    input_schema=definition.parameters,
                )
            )
        return mt.ListToolsResult(tools=specs)

    async def on_call_tool(ctx: Any, params: mt.CallToolRequestParams) -> mt.CallToolResult:
        result = await registry.run(params.name, params.arguments or {})
        return tool_result_to_mcp(result)

    return Server(
        name,
        version=version,
        instructions=instructions,
        on_list_tools=on_list_tools,
        on_call_tool=on_call_tool,
    )


async def serve_stdio(tools: ToolRegistry | Iterable[Tool], **server_options: Any) -> None:
    """Serve over stdin/stdout until the client closes the stream. Log to stderr only."""
    from mcp.server.stdio import stdio_server

    server = build_mcp_server(tools, **server_options)
    async with stdio_server() as (read_stream, write_stream):
        await server.run(read_stream, write_stream, server.create_initialization_options())


async def serve_http(
    tools: ToolRegistry | Iterable[Tool],
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    path: str = "/mcp",
    log_level: str = "warning",
    **server_options: Any,
) -> None:
    """Serve streamable HTTP at http://host:port/path (uvicorn) until cancelled."""
    import uvicorn

    server = build_mcp_server(tools, **server_options)
    app = server.streamable_http_app(streamable_http_path=path, host=host)
    config = uvicorn.Config(app, host=host, port=port, log_level=log_level, lifespan="on")
    await uvicorn.Server(config).serve()


def _package_version() -> str:
    import importlib.metadata

    try:
        return importlib.metadata.version("llamasys")
    except importlib.metadata.PackageNotFoundError:
        return "0"
