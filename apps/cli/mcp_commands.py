"""`llamasys mcp ...`: serve llamasys tools over the Model Context Protocol, and inspect MCP servers.

    llamasys mcp serve                          # stdio (for Claude Desktop, IDEs, other agents)
    llamasys mcp serve --http 8000              # streamable HTTP at http://127.0.0.1:8000/mcp
    llamasys mcp serve --tool web_search        # only some tools (repeat --tool)
    llamasys mcp serve --no-plugins --list      # print the tools it would serve, as JSON, and exit
    llamasys mcp serve --code-interpreter       # add the sandboxed code_interpreter (opt-in)
    llamasys mcp tools http://127.0.0.1:8000/mcp           # list another server's tools
    llamasys mcp tools -- python my_server.py               # ... or one started over stdio

`serve` offers the built-in tools (web_search, wolfram_alpha) and every plugin found in the
entry-point group `llamasys.tools`; a plugin that fails to load is reported on stderr and skipped.
On stdio, stdout carries the protocol only: all logging goes to stderr.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys

import typer

from llamasys.tools import ToolError, ToolRegistry, builtin_tools

from .app import mcp_app

log = logging.getLogger("llamasys.mcp")


def _registry(
    tools: list[str], builtins: bool, plugins: bool, code_interpreter: bool = False
) -> ToolRegistry:
    registry = ToolRegistry(builtin_tools() if builtins else [])
    if code_interpreter:
        from llamasys.tools.code_interpreter import CodeInterpreter

        registry.register(CodeInterpreter())
    if plugins:
        report = registry.discover()
        for failure in report.failures:
            typer.echo(f"warning: tool plugin {failure.entry_point} skipped: {failure.error}", err=True)
    if tools:
        try:
            registry = registry.select(dict.fromkeys(tools))
        except ToolError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from exc
    if not len(registry):
        typer.echo("error: no tools to serve (check --tool, --no-builtins and --no-plugins)", err=True)
        raise typer.Exit(2)
    return registry


@mcp_app.command("serve")
def serve(
    http: int | None = typer.Option(
        None, "--http", metavar="PORT", help="Serve streamable HTTP on this port instead of stdio."
    ),
    host: str = typer.Option("127.0.0.1", help="Interface for --http (0.0.0.0 exposes it to the network)."),
    path: str = typer.Option("/mcp", help="URL path of the MCP endpoint for --http."),
    tool: list[str] = typer.Option([], "--tool", "-t", help="Serve only this tool; repeat for several."),
    builtins: bool = typer.Option(
        True, "--builtins/--no-builtins", help="Offer web_search and wolfram_alpha."
    ),
    plugins: bool = typer.Option(True, "--plugins/--no-plugins", help="Offer tools from installed plugins."),
    code_interpreter: bool = typer.Option(
        False,
        "--code-interpreter",
        help="Also offer the sandboxed code_interpreter (one interpreter, shared by every client of this server).",
    ),
    list_tools: bool = typer.Option(False, "--list", help="Print the tool definitions as JSON and exit."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log at INFO level (to stderr)."),
) -> None:
    """Expose llamasys tools as an MCP server."""
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    registry = _registry(tool, builtins, plugins, code_interpreter)
    if list_tools:
        typer.echo(json.dumps([d.model_dump() for d in registry.definitions()], indent=2))
        return
    from llamasys.tools.mcp_interop import serve_http, serve_stdio

    names = ", ".join(registry.names())
    try:
        if http is None:
            # stdout is the protocol channel; a person who started this in a terminal reads stderr
            typer.echo(
                f"serving {names} over MCP stdio: an MCP client starts this command and talks on its "
                "stdin/stdout (for a server to connect to, pass --http PORT); Ctrl-C stops it",
                err=True,
            )
            asyncio.run(serve_stdio(registry))
        else:
            typer.echo(f"serving {names} at http://{host}:{http}{path}", err=True)
            asyncio.run(serve_http(registry, host=host, port=http, path=path))
    except KeyboardInterrupt:
        pass
    finally:
        asyncio.run(registry.close())


@mcp_app.command("tools")
def list_server_tools(
    server: list[str] = typer.Argument(
        ..., help="An http(s) URL of a streamable-HTTP server, or a command (after --)."
    ),
    timeout: float = typer.Option(30.0, help="Seconds to wait for the server."),
) -> None:
    """List the tools of an MCP server (as the llamasys tool definitions they become)."""
    from llamasys.tools.mcp_interop import MCPConnectionError, connect_http, connect_stdio

    if len(server) == 1 and server[0].startswith(("http://", "https://")):
        toolset = connect_http(server[0], connect_timeout=timeout)
    else:
        toolset = connect_stdio(server[0], server[1:], connect_timeout=timeout)

    async def run() -> list[dict]:
        async with toolset:
            return [t.definition.model_dump() for t in toolset.tools]

    try:
        definitions = asyncio.run(run())
    except MCPConnectionError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(json.dumps(definitions, indent=2))
