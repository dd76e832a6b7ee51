"""Small tools the agent tests call."""

import asyncio
from typing import Any

from llamasys.core_model.messages import ToolCall, ToolDefinition
from llamasys.tools import tool

LOCATION = ToolDefinition(
    name="get_location",
    description="Where the user is (runs on the user's device).",
    parameters={"type": "object", "properties": {}},
)
"""A client-side tool: the agent pauses for the caller to run it."""


def call(tool_name: str, call_id: str, /, **arguments: Any) -> ToolCall:
    """A scripted tool call (positional-only names, so `name=` can be one of the arguments)."""
    return ToolCall(call_id=call_id, tool_name=tool_name, arguments=arguments)


@tool
def multiply(a: int, b: int) -> int:
    """Multiply two integers.

    Args:
        a: The first factor.
        b: The second factor.
    """
    return a * b


@tool
def get_weather(city: str) -> str:
    """Current weather for a city.

    Args:
        city: City name.
    """
    return f"Sunny, 21 C in {city}"


@tool
def explode(reason: str) -> str:
    """Always fails.

    Args:
        reason: Why.
    """
    raise RuntimeError(f"boom: {reason}")


@tool(timeout=0.2)
async def slow(seconds: float) -> str:
    """Sleeps.

    Args:
        seconds: How long.
    """
    await asyncio.sleep(seconds)
    return "woke up"
