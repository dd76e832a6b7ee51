"""Document Q&A: attach documents, ask questions; answers cite the passage they come from.

    python -m llamasys.apps.samples.document_qa             # or: llamasys app --sample document_qa

Attached text, Markdown, HTML or PDF files are ingested into this session's memory bank (chunked, embedded
with all-MiniLM-L6-v2, offline); the ingestion shows in the chat as a step. The model searches the bank
with `knowledge_search` (hybrid vector + keyword) and cites the document and passage of each claim.
"""

from __future__ import annotations

from typing import Any

from llamasys.agentic import Agent
from llamasys.tools.memory import MemoryStore

from . import model_backend, run_sample

INSTRUCTIONS = """You answer questions about the user's documents. Always search them first with \
knowledge_search, answer only from the passages it returns, and cite each claim as (document, the \
passage's first words). If the documents do not say, answer that they do not."""


def build_agent(backend: Any = None, *, memory: MemoryStore | None = None, **agent_kwargs: Any) -> Agent:
    return Agent(
        backend if backend is not None else model_backend(),
        instructions=INSTRUCTIONS,
        memory=memory or MemoryStore(),  # each session gets its own bank, and knowledge_search over it
        name="document-qa",
        **agent_kwargs,
    )


def build_app(settings: Any = None, **kwargs: Any) -> Any:
    from llamasys.apps.gradio_app import build_app as agent_app

    backend = kwargs.pop("backend", None) or model_backend(settings)
    return agent_app(
        settings,
        agent=build_agent(backend, **kwargs),
        title="Document Q&A",
        description="Attach documents (📎: PDF, Markdown, HTML, text), then ask about them.",
        examples=["What does the attached document say about vacation days?"],
    )


def main() -> None:
    run_sample(build_app())


if __name__ == "__main__":
    main()
