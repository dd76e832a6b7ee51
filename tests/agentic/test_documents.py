"""A document attached to a turn goes into the session's memory bank (a memory_retrieval step) and the
model can search it with knowledge_search."""

from llamasys.agentic import ScriptedBackend
from llamasys.core_model.messages import ToolCall
from llamasys.tools.memory import HashingEmbedder, MemoryStore

POLICY = (
    "# Vacation policy\n\nNew staff get 25 vacation days per year, taken in blocks of at least two days.\n"
)


async def test_attached_document_is_ingested_and_searchable(make_agent, tmp_path):
    backend = ScriptedBackend(
        [
            ToolCall(
                call_id="k", tool_name="knowledge_search", arguments={"query": "vacation days new staff"}
            ),
            "25 days.",
        ]
    )
    with MemoryStore(tmp_path / "memory.sqlite", embedder=HashingEmbedder()) as memory:
        agent = make_agent(backend, memory=memory)
        session = agent.create_session()
        events = [
            e async for e in session.turn("How many vacation days?", attachments=[("policy.md", POLICY)])
        ]
        result = events[-1].result
        assert [s.step_type for s in result.steps] == [
            "memory_retrieval",
            "inference",
            "tool_execution",
            "inference",
        ]
        ingest = result.steps[0]
        assert ingest.ingested_documents == ["policy.md"] and ingest.memory_bank_ids == [
            f"session-{session.session_id}"
        ]
        assert [s.step_type for s in agent.store.steps(result.turn_id)][0] == "memory_retrieval"
        assert "knowledge_search" in [t.name for t in backend.requests[0].tools]
        assert "policy.md" in backend.requests[0].messages[-1].content
        found = result.steps[2].tool_responses[0]
        assert not found.error and "25 vacation days" in found.content
        assert result.output == "25 days."
        assert [e.type for e in events[:3]] == ["turn_start", "step_start", "step_complete"]
