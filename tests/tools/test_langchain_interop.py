"""LangChain tools as llamasys tools and back, exercised through each side's own API."""

import asyncio
from typing import Literal

from langchain_core.messages import ToolMessage
from langchain_core.tools import BaseTool, StructuredTool, ToolException
from langchain_core.tools import tool as lc_tool
from pydantic import BaseModel, Field

from llamasys.tools import Attachment, ToolRegistry, ToolResult, from_langchain, to_langchain, tool


@lc_tool
def multiply(a: int, b: int = 2) -> int:
    """Multiply two integers."""
    return a * b


class Filters(BaseModel):
    min_price: float = Field(0, description="Lowest price")
    tags: list[str] = []


class SearchArgs(BaseModel):
    query: str = Field(description="What to look for")
    filters: Filters | None = None


def _search(query: str, filters: Filters | None = None) -> str:
    return f"{query}|{filters.min_price if filters else '-'}|{','.join(filters.tags) if filters else ''}"


async def _asearch(query: str, filters: Filters | None = None) -> str:
    return "async:" + _search(query, filters)


search_products = StructuredTool.from_function(
    func=_search,
    coroutine=_asearch,
    name="search_products",
    description="Search the product catalogue.",
    args_schema=SearchArgs,
)


class Picky(BaseTool):
    name: str = "picky"
    description: str = "Fails on purpose."

    def _run(self, text: str) -> str:
        raise ToolException(f"cannot handle {text}")


@lc_tool(response_format="content_and_artifact")
def chart(title: str) -> tuple[list, dict]:
    """Make a chart."""
    png = "iVBORw0KGgo="
    return [
        {"type": "text", "text": f"chart {title}"},
        {"type": "image", "base64": png, "mime_type": "image/png"},
    ], {"points": 3}


async def test_langchain_tool_keeps_name_description_and_schema():
    ours = from_langchain(multiply)
    d = ours.definition
    assert (d.name, d.description) == ("multiply", "Multiply two integers.")
    assert d.parameters == {
        "type": "object",
        "properties": {"a": {"type": "integer"}, "b": {"type": "integer", "default": 2}},
        "required": ["a"],
    }
    assert await ours.run(a=6, b=7) == ToolResult(content="42")
    bad = await ours.run(a="six")
    assert bad.error and "a: 'six' is not of type 'integer'" in bad.content


async def test_structured_tool_with_nested_args_schema_runs_its_coroutine():
    ours = from_langchain(search_products)
    props = ours.definition.parameters["properties"]
    assert props["query"] == {"type": "string", "description": "What to look for"}
    nested = props["filters"]["anyOf"][0]
    assert nested["properties"]["min_price"] == {
        "type": "number",
        "default": 0,
        "description": "Lowest price",
    }
    result = await ours.run(query="lamp", filters={"min_price": 10, "tags": ["red", "led"]})
    assert result.content == "async:lamp|10.0|red,led" and not result.error


async def test_tool_exception_and_artifacts_map_onto_the_result():
    failed = await from_langchain(Picky()).run(text="this")
    assert failed.error and "cannot handle this" in failed.content

    drawn = await from_langchain(chart).run(title="sales")
    assert drawn.content == "chart sales"
    assert drawn.metadata["artifact"] == {"points": 3}
    assert drawn.attachments == [
        Attachment(name="image-1.png", mime_type="image/png", data=b"\x89PNG\r\n\x1a\n")
    ]


async def test_registry_accepts_langchain_tools_as_is():
    registry = ToolRegistry([multiply])
    assert (await registry.run("multiply", {"a": 3})).content == "6"


@tool
def greet(name: str, style: Literal["short", "long"] = "short") -> str:
    """Greet someone.

    Args:
        name: Who to greet.
        style: How warmly.
    """
    if name == "nobody":
        raise ValueError("there is nobody to greet")
    return f"hi {name}" if style == "short" else f"hello there, dear {name}"


def test_llamasys_tool_as_langchain_tool_sync():
    theirs = to_langchain(greet)
    assert isinstance(theirs, BaseTool)
    assert theirs.name == "greet" and theirs.description.startswith("Greet someone.")
    assert theirs.args["name"]["description"] == "Who to greet."
    assert theirs.args["style"]["enum"] == ["short", "long"]
    assert theirs.invoke({"name": "Ada"}) == "hi Ada"
    message = theirs.invoke(
        {"name": "greet", "args": {"name": "Ada", "style": "long"}, "id": "c1", "type": "tool_call"}
    )
    assert isinstance(message, ToolMessage)
    assert message.content == "hello there, dear Ada" and message.status == "success"
    assert message.artifact == ToolResult(content="hello there, dear Ada")
    failed = theirs.invoke({"name": "greet", "args": {"name": "nobody"}, "id": "c2", "type": "tool_call"})
    assert failed.status == "error" and "there is nobody to greet" in failed.content


async def test_llamasys_tool_as_langchain_tool_async_and_sync_inside_a_loop():
    theirs = to_langchain(greet)
    assert await theirs.ainvoke({"name": "Bo", "style": "long"}) == "hello there, dear Bo"
    # LangChain code calling the sync API from inside a running loop must not deadlock.
    assert await asyncio.to_thread(theirs.invoke, {"name": "Cy"}) == "hi Cy"
    assert theirs.invoke({"name": "Di"}) == "hi Di"


async def test_round_trip_preserves_the_schema():
    back = from_langchain(to_langchain(greet))
    ours = greet.definition
    # The JSON Schema travels as is (additionalProperties: false included).
    assert (back.definition.name, back.definition.description) == (ours.name, ours.description)
    assert back.definition.parameters == ours.parameters
    assert (await back.run(name="Ed")).content == "hi Ed"
    assert (await back.run(name="Ed", style="loud")).error

    there_and_back = to_langchain(from_langchain(multiply))
    assert there_and_back.invoke({"a": 5, "b": 5}) == "25"
    assert there_and_back.args == {"a": {"type": "integer"}, "b": {"type": "integer", "default": 2}}
