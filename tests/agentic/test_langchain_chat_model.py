"""LlamasysChatModel: invoke, stream and bind_tools over a llamasys back-end."""

from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.tools import tool as lc_tool

from llamasys.agentic import LlamasysChatModel, ScriptedBackend
from llamasys.core_model.messages import AssistantMessage, ToolCall, ToolResponseMessage, UserMessage
from llamasys.core_model.messages import SystemMessage as OurSystem


@lc_tool
def get_weather(city: str) -> str:
    """Current weather for a city."""
    return f"sunny in {city}"


def test_invoke_and_stream():
    backend = ScriptedBackend(["Hello there.", "Once upon a time."])
    chat = LlamasysChatModel(backend=backend)
    reply = chat.invoke([SystemMessage("Be nice."), HumanMessage("Hi")])
    assert isinstance(reply, AIMessage) and reply.content == "Hello there."
    assert reply.usage_metadata["output_tokens"] >= 1
    assert backend.requests[0].messages == [OurSystem(content="Be nice."), UserMessage(content="Hi")]
    pieces = [chunk.content for chunk in chat.stream("Tell me a story")]
    assert "".join(pieces) == "Once upon a time." and len(pieces) > 2


def test_bind_tools_round_trip():
    backend = ScriptedBackend(
        [ToolCall(call_id="c1", tool_name="get_weather", arguments={"city": "Oslo"}), "Sunny."]
    )
    chat = LlamasysChatModel(backend=backend).bind_tools([get_weather])
    first = chat.invoke("Weather in Oslo?")
    assert first.tool_calls == [
        {"name": "get_weather", "args": {"city": "Oslo"}, "id": "c1", "type": "tool_call"}
    ]
    assert [t.name for t in backend.requests[0].tools] == ["get_weather"]
    assert backend.requests[0].tools[0].parameters["properties"]["city"]["type"] == "string"
    history = [
        HumanMessage("Weather in Oslo?"),
        first,
        ToolMessage("sunny in Oslo", tool_call_id="c1", name="get_weather"),
    ]
    assert chat.invoke(history).content == "Sunny."
    fed = backend.requests[1].messages
    assert fed[1] == AssistantMessage(
        tool_calls=[ToolCall(call_id="c1", tool_name="get_weather", arguments={"city": "Oslo"})]
    )
    assert fed[2] == ToolResponseMessage(call_id="c1", tool_name="get_weather", content="sunny in Oslo")


async def test_async_twins():
    chat = LlamasysChatModel(backend=ScriptedBackend(["a b c", "x"]))
    streamed = [c.content async for c in chat.astream("go")]
    assert "".join(streamed) == "a b c"
    assert (await chat.ainvoke("go")).content == "x"
