"""Sessions across turns and processes: one writer per session, crash recovery, cancellation."""

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from llamasys.agentic import Agent, ScriptedBackend, SessionBusyError, UnknownSessionError
from llamasys.agentic.store import INTERRUPTED_NOTICE
from llamasys.core_model.messages import ToolCall, ToolResponseMessage
from llamasys.tools import tool

ROOT = Path(__file__).resolve().parents[2]

# Runs a turn whose tool blocks forever on its second call, after the first tool step is stored.
CHILD = r"""
import asyncio, pathlib, sys
from llamasys.agentic import Agent, ScriptedBackend
from llamasys.core_model.messages import ToolCall
from llamasys.tools import tool

url, session_id, marker = sys.argv[1:4]

@tool(timeout=None)
async def step(n: int) -> str:
    '''One step of a long job.

    Args:
        n: Step number.
    '''
    if n == 2:
        pathlib.Path(marker).write_text("blocked in step 2")
        await asyncio.sleep(3600)
    return f"step {n} done"

backend = ScriptedBackend([
    ToolCall(call_id="s1", tool_name="step", arguments={"n": 1}),
    ToolCall(call_id="s2", tool_name="step", arguments={"n": 2}),
    "never reached",
])
agent = Agent(backend, tools=[step], store=url, default_shields=False, instructions="")
agent.run("run the job", session_id=session_id)
"""


def _wait_for(path: Path, proc: subprocess.Popen, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if proc.poll() is not None:
            raise AssertionError(f"child exited early: {proc.stderr.read().decode()[-2000:]}")
        if time.monotonic() > deadline:
            raise AssertionError("child never reached its blocking tool")
        time.sleep(0.05)


def test_sigkill_mid_turn_keeps_completed_steps_and_the_session_continues(tmp_path, store_url):
    seed = Agent(ScriptedBackend([]), store=store_url, default_shields=False)
    session = seed.create_session("job")
    marker = tmp_path / "marker"
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, store_url, session.session_id, str(marker)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        _wait_for(marker, child)
        # another process holds the session: a second turn is refused at once
        started = time.monotonic()
        with pytest.raises(SessionBusyError, match="already has a turn running"):
            seed.run("are you there?", session_id=session.session_id)
        assert time.monotonic() - started < 10
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
    seed.close()

    # a new process (a fresh interpreter) continues the session
    code = r"""
import json, sys
from llamasys.agentic import Agent, ScriptedBackend
backend = ScriptedBackend(["Step 1 finished; step 2 was interrupted."])
agent = Agent(backend, store=sys.argv[1], default_shields=False, instructions="")
result = agent.run("what happened?", session_id=sys.argv[2])
turns = agent.get_session(sys.argv[2]).turns()
print(json.dumps({
    "status": result.status,
    "fed": [m.model_dump(mode="json") for m in backend.requests[0].messages],
    "turns": [(t.status, [s.step_type for s in agent.store.steps(t.turn_id)]) for t in turns],
}))
"""
    done = subprocess.run(
        [sys.executable, "-c", code, store_url, session.session_id],
        cwd=ROOT,
        capture_output=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    report = json.loads(done.stdout.decode().strip().splitlines()[-1])
    assert report["status"] == "completed"
    killed, resumed = report["turns"]
    assert killed == ["interrupted", ["inference", "tool_execution", "inference"]]
    assert resumed == ["completed", ["inference"]]
    fed = report["fed"]
    assert [m["role"] for m in fed] == ["user", "assistant", "tool", "assistant", "tool", "user"]
    assert fed[2] == {"role": "tool", "call_id": "s1", "tool_name": "step", "content": "step 1 done"}
    assert fed[4] == ToolResponseMessage(
        call_id="s2", tool_name="step", content=INTERRUPTED_NOTICE
    ).model_dump(mode="json")


async def test_second_turn_in_the_same_process_is_refused_at_once(make_agent):
    release = asyncio.Event()

    @tool(timeout=None)
    async def wait_for_release() -> str:
        """Waits until the test releases it."""
        await release.wait()
        return "released"

    backend = ScriptedBackend([ToolCall(call_id="w", tool_name="wait_for_release"), "done", "second"])
    agent = make_agent(backend, tools=[wait_for_release])
    session = agent.create_session()
    first = asyncio.create_task(agent.arun("first", session_id=session.session_id))
    while not any(r for r in backend.requests):
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.05)
    with pytest.raises(SessionBusyError, match=session.session_id):
        await agent.arun("second", session_id=session.session_id)
    release.set()
    assert (await first).output == "done"
    assert (await agent.arun("second", session_id=session.session_id)).output == "second"


async def test_cancellation_mid_turn_ends_the_tool_processes(make_agent, tmp_path):
    pids = tmp_path / "pids"

    @tool(timeout=None)
    async def long_job() -> str:
        """Runs a long external process."""
        proc = await asyncio.create_subprocess_exec("sleep", "600")
        pids.write_text(str(proc.pid))
        try:
            await proc.wait()
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        return "finished"

    backend = ScriptedBackend([ToolCall(call_id="j", tool_name="long_job"), "never"])
    agent = make_agent(backend, tools=[long_job])
    session = agent.create_session()
    task = asyncio.create_task(agent.arun("go", session_id=session.session_id))
    while not pids.exists():
        await asyncio.sleep(0.01)
    assert agent.cancel(session.session_id)
    with pytest.raises(asyncio.CancelledError):
        await task
    pid = int(pids.read_text())
    assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2]
    turn = agent.store.list_turns(session.session_id)[0]
    assert turn.status == "cancelled"
    assert agent.store.get_session(session.session_id).running_turn_id is None
    closing = agent.store.messages(session.session_id)[-1]
    assert isinstance(closing, ToolResponseMessage) and "cancelled" in closing.content


def test_sessions_are_stored_listed_and_deleted(make_agent):
    agent = make_agent(ScriptedBackend(["one"]))
    a = agent.create_session("a")
    b = agent.create_session("b")
    a.run("hi")
    assert [s.name for s in agent.list_sessions()] == ["a", "b"]
    assert agent.get_session(a.session_id).messages()[-1].content == "one"
    agent.delete_session(a.session_id)
    assert [s.session_id for s in agent.list_sessions()] == [b.session_id]
    with pytest.raises(UnknownSessionError):
        agent.get_session(a.session_id)
    with pytest.raises(UnknownSessionError):
        agent.run("x", session_id="no-such-session")
