"""A small MCP server for the tests, written with the official SDK's MCPServer (FastMCP in mcp 1.x).

Run as a script it serves over stdio. Tools: `add` (structured int result), `shout` (text),
`red_pixel` (an image), `fail` (the tool raises: the client sees isError), `slow` (sleeps), `crash` (the process exits).
"""

import asyncio
import base64
import os

from mcp.server.mcpserver import Image, MCPServer
from mcp.server.mcpserver.exceptions import ToolError

# A 1x1 red PNG.
RED_PIXEL_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="
)

server = MCPServer("llamasys-test-server")


@server.tool()
def add(a: int, b: int = 1) -> int:
    """Add two integers."""
    return a + b


@server.tool()
def shout(text: str) -> str:
    """Upper-case the text."""
    return text.upper() + "!"


@server.tool()
def red_pixel() -> Image:
    """A 1x1 red PNG."""
    return Image(data=RED_PIXEL_PNG, format="png")


@server.tool()
def fail(reason: str) -> str:
    """Always fails (a ToolError's message reaches the client; other exceptions are hidden)."""
    raise ToolError(f"failing on purpose: {reason}")


@server.tool()
async def slow(seconds: float) -> str:
    """Sleep, then answer."""
    await asyncio.sleep(seconds)
    return "done"


@server.tool()
def crash() -> str:
    """The server process dies mid-call."""
    os._exit(7)


if __name__ == "__main__":
    server.run()
