"""MCP client and server through the official SDK: a real server subprocess over stdio, and our
server talked to in-process by the SDK's own Client."""

import base64
import sys
from pathlib import Path

import pytest
from mcp import Client
from pydantic import BaseModel

from llamasys.tools import Attachment, Tool, ToolRegistry, ToolResult, tool
from llamasys.tools.mcp_interop import MCPConnectionError, build_mcp_server, connect_stdio

DEMO_SERVER = Path(__file__).with_name("mcp_demo_server.py")
RED_PIXEL_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="
)


async def test_tools_of_a_stdio_server_are_listed_and_called():
    async with connect_stdio(
        sys.executable, [str(DEMO_SERVER)], connect_timeout=30, read_timeout=1.5, name_prefix="demo_"
    ) as toolset:
        tools = {t.name: t for t in toolset.tools}
        assert set(tools) == {
            "demo_add",
            "demo_shout",
            "demo_red_pixel",
            "demo_fail",
            "demo_slow",
            "demo_crash",
        }
        add = tools["demo_add"]
        assert add.remote_name == "add"
        assert add.definition.description == "Add two integers."
        assert add.definition.parameters == {
            "type": "object",
            "properties": {"a": {"type": "integer"}, "b": {"type": "integer", "default": 1}},
            "required": ["a"],
        }

        registry = ToolRegistry(toolset.tools)
        result = await registry.run("demo_add", {"a": 2, "b": 40})
        assert result == ToolResult(content="42", metadata={"structured": {"result": 42}})
        assert (await registry.run("demo_shout", {"text": "hi"})).content == "HI!"

        image = await registry.run("demo_red_pixel", {})
        assert not image.error
        assert image.attachments == [
            Attachment(name="image-1.png", mime_type="image/png", data=RED_PIXEL_PNG)
        ]

        failed = await registry.run("demo_fail", {"reason": "testing"})
        assert failed.error and "failing on purpose: testing" in failed.content

        invalid = await registry.run("demo_add", {"a": "two"})
        assert invalid.error and invalid.metadata["kind"] == "invalid_arguments"

        slow = await registry.run("demo_slow", {"seconds": 30})
        assert slow.error and slow.metadata["kind"] == "timeout"

        # the connection survives a timed-out call
        assert (await registry.run("demo_add", {"a": 1})).content == "2"

        # a server that dies mid-call gives error results, and leaving the toolset still works
        crashed = await registry.run("demo_crash", {})
        assert crashed.error and crashed.metadata["kind"] == "mcp_error"
        assert "MCP tool crash failed" in crashed.content
        after_crash = await registry.run("demo_add", {"a": 1})
        assert after_crash.error and after_crash.metadata["kind"] == "mcp_error"

    after = await add.run(a=1)
    assert after.error and after.metadata["kind"] == "mcp_closed"


async def test_a_server_that_exits_is_a_connection_error():
    toolset = connect_stdio(sys.executable, ["-c", "import sys; sys.exit(3)"], connect_timeout=20)
    with pytest.raises(MCPConnectionError, match="MCP server"):
        async with toolset:
            pass


class Plot(Tool):
    name = "plot"
    description = "Draws a plot."

    class Arguments(BaseModel):
        title: str

    async def call(self, title: str) -> ToolResult:
        return ToolResult(
            content=f"plotted {title}",
            attachments=[
                Attachment(name="plot.png", mime_type="image/png", data=RED_PIXEL_PNG),
                Attachment(name="data.csv", mime_type="text/csv", data=b"x,y\n1,2\n"),
            ],
        )


@tool
def add(a: int, b: int = 1) -> int:
    """Add two integers.

    Args:
        a: First.
        b: Second.
    """
    return a + b


async def test_our_server_through_the_sdk_client_in_process():
    server = build_mcp_server(ToolRegistry([add, Plot()]))
    async with Client(server) as client:
        listing = await client.list_tools()
        specs = {t.name: t for t in listing.tools}
        assert set(specs) == {"add", "plot"}
        assert specs["add"].input_schema == add.definition.parameters
        assert specs["add"].description == "Add two integers."

        result = await client.call_tool("add", {"a": 40, "b": 2})
        assert not result.is_error and result.content[0].text == "42"

        drawn = await client.call_tool("plot", {"title": "t"})
        assert [c.type for c in drawn.content] == ["text", "image", "resource"]
        assert base64.b64decode(drawn.content[1].data) == RED_PIXEL_PNG
        assert drawn.content[2].resource.mime_type == "text/csv"

        unknown = await client.call_tool("ad", {"a": 1})
        assert unknown.is_error and "Did you mean: add?" in unknown.content[0].text

        invalid = await client.call_tool("add", {"a": "x"})
        assert invalid.is_error and "Invalid arguments for add" in invalid.content[0].text
