"""Shared fixtures of the agent tests: a fresh SQLite file per test and a few small tools."""

import sys
from pathlib import Path

import pytest

from llamasys.agentic import Agent

sys.path.insert(0, str(Path(__file__).parent))  # helpers: `from agent_tools import ...`


@pytest.fixture
def store_url(tmp_path):
    return f"sqlite:///{tmp_path / 'agents.db'}"


@pytest.fixture
def make_agent(store_url):
    """Agent(backend, ...) on the test's store, with no shields unless given."""
    made = []

    def build(backend, **kw):
        kw.setdefault("default_shields", False)
        kw.setdefault("store", store_url)
        agent = Agent(backend, **kw)
        made.append(agent)
        return agent

    yield build
    for agent in made:
        agent.close()
