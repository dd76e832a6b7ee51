"""Tools from every source the Agent takes (an entered MCP toolset, a LangChain tool), and calls of one
message running concurrently."""

import asyncio
import sys
from pathlib import Path

import pytest
from langchain_core.tools import tool as lc_tool

from llamasys.agentic import AgentConfigError, ScriptedBackend
from llamasys.core_model.messages import ToolCall
from llamasys.tools import tool
from llamasys.tools.mcp_interop import connect_stdio

DEMO_SERVER = Path(__file__).resolve().parents[1] / "tools" / "mcp_demo_server.py"


async def test_mcp_toolset_and_langchain_tool(make_agent):
    @lc_tool
    def shout_lc(text: str) -> str:
        """Upper-case the text."""
        return text.upper()

    backend = ScriptedBackend(
        [
            [
                ToolCall(call_id="m", tool_name="demo_add", arguments={"a": 2, "b": 40}),
                ToolCall(call_id="l", tool_name="shout_lc", arguments={"text": "hi"}),
            ],
            "42 and HI.",
        ]
    )
    async with connect_stdio(
        sys.executable, [str(DEMO_SERVER)], connect_timeout=60, name_prefix="demo_"
    ) as toolset:
        agent = make_agent(backend, tools=[toolset, shout_lc])
        result = await agent.arun("go")
    offered = {t.name for t in backend.requests[0].tools}
    assert {"demo_add", "demo_shout", "shout_lc"} <= offered
    responses = result.steps[1].tool_responses
    assert [r.content for r in responses] == ["42", "HI"]


def test_an_mcp_toolset_that_was_not_entered_is_refused(make_agent):
    toolset = connect_stdio(sys.executable, [str(DEMO_SERVER)])
    with pytest.raises(AgentConfigError, match="entered first"):
        make_agent(ScriptedBackend([]), tools=[toolset])


async def test_calls_of_one_message_run_concurrently(make_agent):
    started: dict[str, asyncio.Event] = {"a": asyncio.Event(), "b": asyncio.Event()}

    @tool(timeout=20)
    async def rendezvous(me: str, other: str) -> str:
        """Waits until the other call has started too (a sequential runner would time out).

        Args:
            me: This call's name.
            other: The other call's name.
        """
        started[me].set()
        await started[other].wait()
        return f"{me} met {other}"

    calls = [
        ToolCall(call_id="1", tool_name="rendezvous", arguments={"me": "a", "other": "b"}),
        ToolCall(call_id="2", tool_name="rendezvous", arguments={"me": "b", "other": "a"}),
    ]
    result = await make_agent(ScriptedBackend([calls, "done"]), tools=[rendezvous]).arun("go")
    assert [r.content for r in result.steps[1].tool_responses] == ["a met b", "b met a"]
