"""Fitting the conversation into the model's context window.

History that no longer fits is dropped oldest-first, in whole exchanges: a user message with everything
up to the next one (the answer, every tool call with its results), so a call is never separated from its
result and the kept history still starts with a user message. The system prompt and the current turn are never dropped. The number of
messages dropped is reported in the inference step (`trimmed_messages`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from llamasys.core_model.messages import Message, UserMessage

__all__ = ["fit_to_window", "history_units"]


def history_units(messages: Sequence[Message]) -> list[list[Message]]:
    """Split messages into droppable units: one exchange each, from a user message up to the next one
    (its answer, and every tool call with its results). Messages before the first user message (a
    history that was trimmed before) form a unit of their own."""
    units: list[list[Message]] = []
    for message in messages:
        if isinstance(message, UserMessage) or not units:
            units.append([message])
        else:
            units[-1].append(message)
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
