"""The agentic package's one exception family: everything it raises on purpose is an `AgentError`.

Model output never raises (a malformed tool call goes back to the model as an error result); these are
for the caller: a bad configuration, a session that is busy or unknown, a resume that names calls the
store does not hold as pending, a back-end that cannot be reached.
"""

from __future__ import annotations

__all__ = [
    "AgentConfigError",
    "AgentError",
    "BackendError",
    "ResumeError",
    "SessionBusyError",
    "UnknownSessionError",
]


class AgentError(Exception):
    """Base of every exception `llamasys.agentic` raises on purpose."""


class AgentConfigError(AgentError, ValueError):
    """The Agent was built with something it cannot use (a tool that is not a tool, a bad store URL...)."""


class UnknownSessionError(AgentError, LookupError):
    """No session (or turn) with this id in the store."""


class SessionBusyError(AgentError):
    """The session already has a turn running, in this process or another one sharing the store."""


class ResumeError(AgentError):
    """A resume that does not match the paused turn the store holds: no turn awaiting input, a tool
    response for a call that is not pending, an approval for a call that never asked for one."""


class BackendError(AgentError):
    """The inference back-end failed (HTTP error after retries, timeout, engine failure, exhausted script).

    `retriable` says whether trying again later may help (429 / 5xx / connection trouble)."""

    def __init__(self, message: str, *, retriable: bool = False, status_code: int | None = None) -> None:
        super().__init__(message)
        self.retriable = retriable
        self.status_code = status_code
