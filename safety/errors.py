"""The safety exception family. Each message says what was wrong and what to do about it."""

__all__ = ["SafetyError", "ShieldInputError", "ShieldUnavailableError"]


class SafetyError(Exception):
    """Base of everything llamasys.safety raises on purpose."""


class ShieldInputError(SafetyError, ValueError):
    """The caller asked something a shield cannot answer (e.g. a tool_output check with no tool result).
    A programming error in the caller: raised, never turned into a verdict."""


class ShieldUnavailableError(SafetyError):
    """A shield's model is missing or failed to load or run. `Shield.check` turns it into an
    unavailable verdict that the shield's `on_unavailable` policy decides (block by default)."""
