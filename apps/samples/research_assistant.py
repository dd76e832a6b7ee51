"""Research assistant: answers from a web search, citing the pages it used.

    python -m llamasys.apps.samples.research_assistant      # or: llamasys app --sample research_assistant

The agent gets one tool, `web_search` (DuckDuckGo, no key; Brave or Tavily with BRAVE_SEARCH_API_KEY /
TAVILY_API_KEY), and instructions to cite every claim as [n] with the page's URL. Each search shows in the
chat as a step with the query and the results the model read.
"""

from __future__ import annotations

from typing import Any

from llamasys.agentic import Agent
from llamasys.tools import WebSearchTool

from . import model_backend, run_sample

INSTRUCTIONS = """You are a research assistant. For any question about facts, search the web first with \
web_search, then answer in a few sentences using only what the results say. Cite each claim with [n] and \
end with a "Sources:" list of "[n] title - url". If the results do not answer the question, say so."""


def build_agent(backend: Any = None, *, search: WebSearchTool | None = None, **agent_kwargs: Any) -> Agent:
    return Agent(
        backend if backend is not None else model_backend(),
        instructions=INSTRUCTIONS,
        tools=[search or WebSearchTool(top_k=5)],
        name="research-assistant",
        **agent_kwargs,
    )


def build_app(settings: Any = None, **kwargs: Any) -> Any:
    from llamasys.apps.gradio_app import build_app as agent_app

    backend = kwargs.pop("backend", None) or model_backend(settings)
    return agent_app(
        settings,
        agent=build_agent(backend, **kwargs),
        title="Research assistant",
        description="Web search with citations.",
        examples=["What is the latest stable release of Python, and what does it add?"],
    )


def main() -> None:
    run_sample(build_app())


if __name__ == "__main__":
    main()
