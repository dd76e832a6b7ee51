"""Client-side tools and approvals: the turn pauses as awaiting_input, resume continues the same turn,
and the paused state lives in the store (a resume that does not match it is refused)."""

import pytest
from agent_tools import LOCATION, call, get_weather, multiply

from llamasys.agentic import ResumeError, ScriptedBackend
from llamasys.core_model.messages import ToolResponseMessage


def test_client_tool_pauses_and_resume_continues_the_same_turn(make_agent):
    backend = ScriptedBackend(
        [call("get_location", "loc"), call("get_weather", "w", city="Paris"), "Sunny in Paris."]
    )
    agent = make_agent(backend, tools=[get_weather], client_tools=[LOCATION])
    paused = agent.run("Weather here?")
    assert paused.status == "awaiting_input"
    assert [(p.call.call_id, p.kind) for p in paused.pending] == [("loc", "client")]
    assert agent.store.get_turn(paused.turn_id).status == "awaiting_input"
    assert agent.store.get_session(paused.session_id).running_turn_id is None

    done = agent.resume(paused.session_id, tool_responses={"loc": "Paris"})
    assert done.turn_id == paused.turn_id and done.status == "completed"
    assert done.output == "Sunny in Paris."
    client_step = next(s for s in done.steps if s.step_type == "tool_execution")
    assert client_step.tool_responses[0].source == "client"
    assert (
        ToolResponseMessage(call_id="loc", tool_name="get_location", content="Paris")
        in backend.requests[1].messages
    )
    assert [t.turn_id for t in agent.get_session(done.session_id).turns()] == [done.turn_id]


def test_approval_pauses_before_the_tool_runs(make_agent):
    ran = []

    from llamasys.tools import tool

    @tool
    def delete_file(path: str) -> str:
        """Delete a file.

        Args:
            path: The file.
        """
        ran.append(path)
        return f"deleted {path}"

    backend = ScriptedBackend(
        [[call("delete_file", "d1", path="a.txt"), call("delete_file", "d2", path="b.txt")], "Done."]
    )
    agent = make_agent(backend, tools=[delete_file], require_approval=["delete_file"])
    paused = agent.run("Delete a.txt and b.txt")
    assert paused.status == "awaiting_input" and ran == []
    assert [(p.call.call_id, p.kind) for p in paused.pending] == [("d1", "approval"), ("d2", "approval")]

    done = agent.resume(paused.session_id, approvals={"d1": True, "d2": False})
    assert ran == ["a.txt"]
    responses = next(s for s in done.steps if s.step_type == "tool_execution").tool_responses
    assert [r.content for r in responses][0] == "deleted a.txt"
    assert "did not approve" in responses[1].content
    assert done.status == "completed"


def test_mixed_message_runs_server_tools_now_and_feeds_results_in_order(make_agent):
    backend = ScriptedBackend([[call("multiply", "m", a=2, b=3), call("get_location", "loc")], "ok"])
    agent = make_agent(backend, tools=[multiply], client_tools=[LOCATION])
    paused = agent.run("both")
    assert [p.call.call_id for p in paused.pending] == ["loc"]
    done = agent.resume(paused.session_id, tool_responses={"loc": {"city": "Oslo"}})
    fed = [m for m in backend.requests[1].messages if isinstance(m, ToolResponseMessage)]
    assert [(m.call_id, m.content) for m in fed] == [("m", "6"), ("loc", '{"city": "Oslo"}')]
    assert done.status == "completed"


def test_resume_naming_a_call_that_is_not_pending_is_refused(make_agent):
    agent = make_agent(ScriptedBackend([call("get_location", "loc"), "x"]), client_tools=[LOCATION])
    paused = agent.run("where")
    with pytest.raises(ResumeError, match="no pending client-side call 'forged'"):
        agent.resume(paused.session_id, tool_responses={"loc": "Paris", "forged": "x"})
    with pytest.raises(ResumeError, match="never asked approval for call 'loc'"):
        agent.resume(paused.session_id, approvals={"loc": True})
    with pytest.raises(ResumeError, match="still waits on loc"):
        agent.resume(paused.session_id, tool_responses={})
    assert agent.resume(paused.session_id, tool_responses={"loc": "Paris"}).status == "completed"
    with pytest.raises(ResumeError, match="no turn awaiting input"):
        agent.resume(paused.session_id, tool_responses={"loc": "Paris"})


def test_new_message_instead_of_resume_closes_the_pending_calls(make_agent):
    backend = ScriptedBackend([call("get_location", "loc"), "Fine."])
    agent = make_agent(backend, client_tools=[LOCATION])
    paused = agent.run("where")
    result = agent.run("never mind", session_id=paused.session_id)
    assert agent.store.get_turn(paused.turn_id).status == "cancelled"
    fed = backend.requests[1].messages
    closing = [m for m in fed if isinstance(m, ToolResponseMessage)]
    assert closing[0].call_id == "loc" and "was not run" in closing[0].content
    assert result.output == "Fine."


def test_another_agent_on_the_same_store_resumes_the_paused_turn(make_agent):
    paused = make_agent(ScriptedBackend([call("get_location", "loc")]), client_tools=[LOCATION]).run("where")
    # e.g. another worker of a web service: it knows nothing but the store
    backend = ScriptedBackend(["You are in Lima."])
    other = make_agent(backend, client_tools=[LOCATION])
    with pytest.raises(ResumeError, match="no pending client-side call 'nope'"):
        other.resume(paused.session_id, tool_responses={"nope": "x"})
    done = other.resume(paused.session_id, tool_responses={"loc": "Lima"})
    assert (done.turn_id, done.status, done.output) == (paused.turn_id, "completed", "You are in Lima.")
    assert (
        ToolResponseMessage(call_id="loc", tool_name="get_location", content="Lima")
        in backend.requests[0].messages
    )
