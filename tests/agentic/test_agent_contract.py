"""`Agent`'s promises that mutation testing found unpinned (`.ci/mutation.py agent_loop`): a session object
passes its message on and resumes its own turn, `delete_session` closes that session's tool instances (and
only those), `list_sessions` lists this agent's sessions only, and a resumed turn holds its session."""

from __future__ import annotations

from typing import Any

from agent_tools import LOCATION, call

from llamasys.agentic import ScriptedBackend
from llamasys.tools.base import Tool


class Notebook(Tool):
    """A stateful tool: each session gets its own instance (`for_session`), closed with the session."""

    name = "notebook"
    description = "Remembers nothing; records which session used it."

    def __init__(self, session_id: str | None = None, closed: list[str] | None = None) -> None:
        self.session_id = session_id
        self.closed = closed if closed is not None else []

    def for_session(self, session_id: str) -> Notebook:
        return Notebook(session_id, self.closed)

    async def call(self) -> str:
        return f"notebook of {self.session_id}"

    async def close(self) -> None:
        self.closed.append(str(self.session_id))


def test_a_session_object_sends_its_message(make_agent) -> None:
    backend = ScriptedBackend(["Hello to you."])
    agent = make_agent(backend)
    session = agent.create_session("greeting")
    result = session.run("Hello from the session object")
    assert result.session_id == session.session_id and result.output == "Hello to you."
    assert backend.requests[0].messages[-1].content == "Hello from the session object"
    assert session.messages()[0].content == "Hello from the session object"


async def test_session_turn_streams_the_given_message(make_agent) -> None:
    backend = ScriptedBackend(["Streamed."])
    agent = make_agent(backend)
    session = agent.create_session()
    events = [event async for event in session.turn("stream this")]
    assert events[-1].type == "turn_complete"
    assert backend.requests[0].messages[-1].content == "stream this"


def test_a_session_object_resumes_its_paused_turn(make_agent) -> None:
    backend = ScriptedBackend([call("get_location", "loc"), "You are in Paris."])
    agent = make_agent(backend, client_tools=[LOCATION])
    session = agent.create_session()
    paused = session.run("Where am I?")
    assert paused.status == "awaiting_input"
    done = session.resume(tool_responses={"loc": "Paris"})
    assert (done.turn_id, done.status, done.output) == (paused.turn_id, "completed", "You are in Paris.")


def test_delete_session_closes_that_sessions_tool_instances_only(make_agent) -> None:
    template = Notebook()
    backend = ScriptedBackend([call("notebook", "n1"), "Noted.", call("notebook", "n2"), "Noted again."])
    agent = make_agent(backend, tools=[template])
    first = agent.run("Use the notebook.")
    second = agent.run("Use it again, elsewhere.")
    assert first.session_id != second.session_id
    assert template.closed == []
    agent.delete_session(first.session_id)
    assert template.closed == [first.session_id]
    assert [s.session_id for s in agent.list_sessions()] == [second.session_id]


def test_delete_session_of_a_session_that_never_used_a_tool(make_agent) -> None:
    agent = make_agent(ScriptedBackend([]), tools=[Notebook()])
    session = agent.create_session("idle")
    agent.delete_session(session.session_id)
    assert agent.list_sessions() == []


def test_list_sessions_lists_this_agents_sessions_only(make_agent, store_url) -> None:
    ours = make_agent(ScriptedBackend([]), agent_id="ours")
    theirs = make_agent(ScriptedBackend([]), agent_id="theirs")
    a = ours.create_session("a")
    theirs.create_session("t")
    b = ours.create_session("b")
    assert [s.session_id for s in ours.list_sessions()] == [a.session_id, b.session_id]
    assert [s.name for s in theirs.list_sessions()] == ["t"]


def test_a_resumed_turn_holds_its_session_under_its_own_turn_id(make_agent) -> None:
    seen: list[Any] = []

    class Probe(Tool):
        name = "probe"
        description = "Reads the session's lock while the turn runs."

        async def call(self) -> str:
            info = agent.store.get_session(session_id)
            seen.append(info.running_turn_id)
            return "probed"

    backend = ScriptedBackend([call("get_location", "loc"), call("probe", "p"), "Done."])
    agent = make_agent(backend, tools=[Probe()], client_tools=[LOCATION])
    paused = agent.run("Where am I?")
    session_id = paused.session_id
    done = agent.resume(session_id, tool_responses={"loc": "Paris"})
    assert done.status == "completed"
    assert seen == [paused.turn_id]


def test_a_session_object_passes_approvals_on(make_agent) -> None:
    backend = ScriptedBackend([call("notebook", "n1"), "Used it."])
    agent = make_agent(backend, tools=[Notebook()], require_approval=["notebook"])
    session = agent.create_session()
    paused = session.run("Use the notebook, with my approval.")
    assert [(p.call.call_id, p.kind) for p in paused.pending] == [("n1", "approval")]
    done = session.resume(approvals={"n1": True})
    assert (done.turn_id, done.status, done.output) == (paused.turn_id, "completed", "Used it.")
