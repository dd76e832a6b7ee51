"""Fitting the conversation into the model's context window.

History that no longer fits is dropped oldest-first, in whole units: a user message, an assistant
answer, or an assistant message with tool calls together with all its tool results (a call is never
separated from its result). The system prompt and the current turn are never dropped. The number of
messages dropped is reported in the inference step (`trimmed_messages`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from llamasys.core_model.messages import AssistantMessage, Message, ToolResponseMessage

__all__ = ["fit_to_window", "history_units"]


def history_units(messages: Sequence[Message]) -> list[list[Message]]:
    """Split messages into droppable units (tool results stay with the assistant message that called)."""
    units: list[list[Message]] = []
    for message in messages:
        if isinstance(message, ToolResponseMessage) and units:
            head = units[-1][0]
            if isinstance(head, AssistantMessage) and head.tool_calls:
                units[-1].append(message)
                continue
        units.append([message])
    return units


def fit_to_window(
    system: Sequence[Message],
    history: Sequence[Message],
    current: Sequence[Message],
    *,
    budget: int | None,
    count: Callable[[Sequence[Message]], int],
) -> tuple[list[Message], int]:
    """`system + kept history + current` and how many history messages were dropped to fit `budget`
    tokens (None: no limit). When even no history does not fit, the history is dropped entirely and the
    back-end reports the overflow."""
    full = [*system, *history, *current]
    if budget is None or count(full) <= budget:
        return full, 0
    units = history_units(history)
    dropped = 0
    while units:
        dropped += len(units.pop(0))
        kept = [m for unit in units for m in unit]
        candidate = [*system, *kept, *current]
        if count(candidate) <= budget:
            return candidate, dropped
    return [*system, *current], dropped
