"""Custom tools: a plugin tool, a tool of your own that needs approval, and a client-side tool.

    pip install ./apps/samples/weather_plugin               # the plugin (`make run` installs it)
    python -m llamasys.apps.samples.custom_tool_app         # or: llamasys app --sample custom_tool_app

- `get_weather` comes from an installed plugin, found through the `llamasys.tools` entry points;
- `book_table` is a typed function made a tool with `@tool`; it changes the world, so every call waits
  for a person: the chat shows Approve / Deny buttons and the turn goes on with the decision;
- `get_user_location` runs on the client, not the server: the turn pauses until the user answers it
  (type the answer as the next message), then continues with it as the tool's result.
"""

from __future__ import annotations

import logging
from typing import Any

from llamasys.agentic import Agent
from llamasys.core_model.messages import ToolDefinition
from llamasys.tools import ToolRegistry, tool

from . import model_backend, run_sample

log = logging.getLogger(__name__)

INSTRUCTIONS = """You help plan an evening out. Use get_user_location to learn where the user is, \
get_weather for the forecast there, and book_table to reserve a restaurant when the user asks."""

BOOKINGS: list[dict[str, Any]] = []  # what book_table did (a real app would call a booking service)


@tool
def book_table(restaurant: str, people: int, time: str) -> str:
    """Reserve a table at a restaurant.

    Args:
        restaurant: The restaurant's name.
        people: How many people, 1 to 20.
        time: When, as HH:MM (24 h).
    """
    if not 1 <= people <= 20:
        return "Cannot book: people must be between 1 and 20."
    BOOKINGS.append({"restaurant": restaurant, "people": people, "time": time})
    return f"Booked a table for {people} at {restaurant} at {time} (booking #{len(BOOKINGS)})."


USER_LOCATION = ToolDefinition(
    name="get_user_location",
    description="The user's current city, asked from the user's own device.",
    parameters={"type": "object", "properties": {}},
)


def plugin_tools() -> list[Any]:
    """Tools from installed plugins (entry-point group `llamasys.tools`); failures are logged, not fatal."""
    registry = ToolRegistry()
    report = registry.discover()
    for failure in report.failures:
        log.warning("tool plugin %s", failure)
    if "get_weather" not in registry.names():
        log.warning("the weather plugin is not installed: pip install ./apps/samples/weather_plugin")
    return list(registry)


def build_agent(backend: Any = None, *, plugins: list[Any] | None = None, **agent_kwargs: Any) -> Agent:
    return Agent(
        backend if backend is not None else model_backend(),
        instructions=INSTRUCTIONS,
        tools=[*(plugin_tools() if plugins is None else plugins), book_table],
        client_tools=[USER_LOCATION],
        require_approval=["book_table"],
        name="custom-tools",
        **agent_kwargs,
    )


def build_app(settings: Any = None, **kwargs: Any) -> Any:
    from llamasys.apps.gradio_app import build_app as agent_app

    backend = kwargs.pop("backend", None) or model_backend(settings)
    return agent_app(
        settings,
        agent=build_agent(backend, **kwargs),
        title="Custom tools",
        description="A plugin tool (weather), a tool that needs your approval (booking) and one your "
        "side answers (your location).",
        examples=[
            "Where am I, what's the weather there tonight, and book a table for 2 at Luigi's at 20:00."
        ],
    )


def main() -> None:
    run_sample(build_app())


if __name__ == "__main__":
    main()
