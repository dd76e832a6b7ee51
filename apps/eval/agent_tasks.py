"""Held-out agent tasks: run through the `Agent` with real tools, never used for training.

Each task names the tool the agent should choose (or none) and, for interpreter tasks, the value the
final answer must contain. Interpreter tasks are checked by value, search and retrieval tasks by the tool
chosen, small talk by the absence of any call. The data generator refuses to emit any of these prompts.
"""

from __future__ import annotations

from pydantic import BaseModel

__all__ = ["AGENT_TASKS", "AgentTask", "held_out_prompts"]


class AgentTask(BaseModel):
    prompt: str
    tool: str | None  # the tool that should be called first; None: no call at all
    value: str | None = None  # must appear in the final answer


AGENT_TASKS: list[AgentTask] = [
    AgentTask(prompt="What is 1234 * 5678? Use Python.", tool="code_interpreter", value="7006652"),
    AgentTask(prompt="Use Python to compute 2 ** 64.", tool="code_interpreter", value="18446744073709551616"),
    AgentTask(prompt="What is 987654 + 123456789? Use the code interpreter.", tool="code_interpreter", value="124444443"),
    AgentTask(prompt="How many prime numbers are there below 10000? Run code for it.", tool="code_interpreter", value="1229"),
    AgentTask(prompt="Compute the factorial of 25 with Python.", tool="code_interpreter", value="15511210043330985984000000"),
    AgentTask(prompt="What is the sum of the integers from 1 to 12345? Use Python.", tool="code_interpreter", value="76205685"),
    AgentTask(prompt="What is 7777777 - 1234567? Please compute it with Python.", tool="code_interpreter", value="6543210"),
    AgentTask(prompt="Use Python: what is the median of [12, 7, 3, 19, 44, 8, 21]?", tool="code_interpreter", value="12"),
    AgentTask(prompt="Search the web for the latest news about the James Webb telescope.", tool="web_search"),
    AgentTask(prompt="What is the current price of bitcoin?", tool="web_search"),
    AgentTask(prompt="Who won the most recent Tour de France? Search the web.", tool="web_search"),
    AgentTask(prompt="What is the weather forecast for Reykjavik this weekend?", tool="web_search"),
    AgentTask(prompt="According to my documents, what is the refund policy for damaged items?", tool="knowledge_search"),
    AgentTask(prompt="Check my notes: when is the quarterly planning meeting?", tool="knowledge_search"),
    AgentTask(prompt="What does our handbook say about parental leave?", tool="knowledge_search"),
    AgentTask(prompt="Hi, how are you?", tool=None),
    AgentTask(prompt="Thanks, that was helpful!", tool=None),
    AgentTask(prompt="Good evening! What's up?", tool=None),
    AgentTask(prompt="What is the capital of Germany?", tool=None),
    AgentTask(prompt="Tell me a fun fact about octopuses.", tool=None),
]  # fmt: skip


def held_out_prompts() -> set[str]:
    """The prompts of the held-out tasks (the generator drops any example whose user message is one)."""
    return {t.prompt for t in AGENT_TASKS}
