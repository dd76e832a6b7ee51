"""The agent store on PostgreSQL: turns, steps, the session lock and a paused turn, as on SQLite.

Runs where LLAMASYS_TEST_POSTGRES_URL names a server (`.ci/run` starts one); each run uses a database
of its own and drops it."""

import uuid

import pytest
from agent_tools import get_weather
from support import postgres_url

from llamasys.agentic import AgentStore, ScriptedBackend, SessionBusyError
from llamasys.core_model.messages import ToolCall, ToolDefinition


@pytest.fixture(scope="module")
def pg_url():
    from sqlalchemy import create_engine, make_url, text

    url = postgres_url()
    name = f"llamasys_agentic_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    yield make_url(url).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE {name} WITH (FORCE)"))
    admin.dispose()


def test_turns_steps_lock_and_resume_on_postgres(make_agent, pg_url):
    store = AgentStore(pg_url)
    assert store.engine.dialect.name == "postgresql"
    where = ToolDefinition(name="get_location", description="Where the user is.")
    backend = ScriptedBackend(
        [
            ToolCall(call_id="w", tool_name="get_weather", arguments={"city": "Oslo"}),
            "Sunny in Oslo.",
            ToolCall(call_id="loc", tool_name="get_location"),
            "You are in Rome.",
        ]
    )
    agent = make_agent(backend, tools=[get_weather], client_tools=[where], store=store)
    first = agent.run("Weather in Oslo?")
    assert first.status == "completed" and first.output == "Sunny in Oslo."
    assert [s.step_type for s in store.steps(first.turn_id)] == ["inference", "tool_execution", "inference"]

    other = AgentStore(pg_url)  # another orchestrator sharing the database
    other.claim(first.session_id, "someone-else", "otherhost:1:x")
    with pytest.raises(SessionBusyError):
        agent.run("again", session_id=first.session_id)
    other.release(first.session_id, "otherhost:1:x")

    paused = agent.run("Where am I?", session_id=first.session_id)
    assert paused.status == "awaiting_input"
    done = agent.resume(first.session_id, tool_responses={"loc": "Rome"})
    assert done.output == "You are in Rome." and done.turn_id == paused.turn_id
    assert [t.status for t in store.list_turns(first.session_id)] == ["completed", "completed"]
    assert len(store.messages(first.session_id)) == 8
    other.close()
