"""Per-session tool instances (the code interpreter), attachments, and cancellation that ends the
session's interpreter process. These start real sandboxes (bubblewrap), so there are few of them."""

import asyncio
from pathlib import Path

import pytest
from support import require_in_ci

from llamasys.agentic import ScriptedBackend
from llamasys.core_model.messages import ToolCall
from llamasys.tools.code_interpreter import CodeInterpreter
from llamasys.tools.sandbox import backend_problem


@pytest.fixture
def interpreter_template():
    problem = backend_problem("bwrap", False)
    if problem is not None:
        require_in_ci(f"bubblewrap does not work here: {problem}")
    return CodeInterpreter(backend="bwrap", wall_timeout_s=30, cpu_seconds=20)


def code(call_id, source):
    return ToolCall(call_id=call_id, tool_name="code_interpreter", arguments={"code": source})


async def test_sessions_get_their_own_interpreter_and_attachments_land_in_it(
    make_agent, interpreter_template, tmp_path
):
    data = tmp_path / "sales.csv"
    data.write_text("region,amount\nnorth,3\nsouth,4\n")
    backend = ScriptedBackend(
        [
            code(
                "a1",
                "import csv\nrows = list(csv.DictReader(open('sales.csv')))\nprint(sum(int(r['amount']) for r in rows))",
            ),
            "The total is 7.",
            code("b1", "import os\nprint(sorted(os.listdir('.')))\nprint('rows' in globals())"),
            "Nothing here.",
        ]
    )
    agent = make_agent(backend, tools=[interpreter_template])
    first = agent.create_session("a")
    second = agent.create_session("b")
    try:
        result = await first.arun("Sum the amounts", attachments=[data])
        assert result.steps[1].tool_responses[0].content.startswith("completed")
        assert "7" in result.steps[1].tool_responses[0].content
        assert "sales.csv" in backend.requests[0].messages[-1].content  # the model is told where the file is
        other = await second.arun("What files do you have?")
        out = other.steps[1].tool_responses[0].content
        assert "sales.csv" not in out and "False" in out  # no shared files, no shared variables
        mine = agent._session_tools[first.session_id]["code_interpreter"]
        theirs = agent._session_tools[second.session_id]["code_interpreter"]
        assert mine is not theirs and mine is not interpreter_template
        assert (
            mine.wall_timeout_s == theirs.wall_timeout_s == 30 and mine.limits == interpreter_template.limits
        )
    finally:
        await agent.aclose()


async def test_cancelling_a_turn_ends_the_session_interpreter(make_agent, interpreter_template):
    backend = ScriptedBackend([code("c", "import time\ntime.sleep(120)")])
    agent = make_agent(backend, tools=[interpreter_template])
    session = agent.create_session()
    task = asyncio.create_task(session.arun("sleep"))
    try:
        while session.session_id not in agent._session_tools:
            await asyncio.sleep(0.01)
        interpreter = agent._session_tools[session.session_id]["code_interpreter"]
        while not interpreter.running:
            await asyncio.sleep(0.05)
        pid = interpreter._worker.process.pid
        await asyncio.sleep(0.3)
        assert agent.cancel(session.session_id)
        with pytest.raises(asyncio.CancelledError):
            await task
        assert not interpreter.running
        alive = Path(f"/proc/{pid}").exists() and "Z" not in Path(f"/proc/{pid}/stat").read_text().split()[2]
        assert not alive, f"sandbox process {pid} still runs after the cancel"
        assert agent.store.list_turns(session.session_id)[0].status == "cancelled"
        backend.extend([code("d", "print(6 * 7)"), "42"])  # the session goes on with a fresh interpreter
        again = await session.arun("compute")
        assert (
            again.steps[1].tool_responses[0].content.startswith("completed")
            and "42" in again.steps[1].tool_responses[0].content
        )
    finally:
        await agent.aclose()
