"""The shield interface, its fail-closed policy, and the plumbing every shield shares.

    ```python
    verdict = await shield.check(messages, touchpoint="user_input")
    verdicts = await run_shields([guard, prompt_guard], messages, touchpoint=Touchpoint.user_input)
    blocked = first_block(verdicts)        # the verdict to act on, or None
    ```

A subclass implements `_check(messages, touchpoint) -> ShieldVerdict`. `check` validates the input,
times the call and turns every failure of the shield's own machinery (`ShieldUnavailableError`, or any
unexpected exception from the model) into an *unavailable* verdict decided by `on_unavailable`
("block", the default, or "warn"). Only caller mistakes (`ShieldInputError`) propagate.

Models load lazily on the first check through `LazyModel`, which reports a failure once with
`logging.error` and then keeps answering "unavailable" without retrying on every message.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Generic, TypeVar

from pydantic import TypeAdapter

from llamasys.core_model.messages import Message

from .errors import ShieldInputError, ShieldUnavailableError
from .verdict import OnUnavailable, OnViolation, Refusals, ShieldVerdict, Touchpoint

__all__ = ["LazyModel", "NoopShield", "Shield", "first_block", "run_shields", "validate_messages"]

log = logging.getLogger(__name__)

_MESSAGES = TypeAdapter(list[Message])
T = TypeVar("T")


def validate_messages(messages: Iterable[Any]) -> list[Any]:
    """Messages as core_model message objects (dicts with a `role` are accepted and converted)."""
    items = list(messages)
    if not items:
        raise ShieldInputError("a shield needs at least one message to judge")
    try:
        return _MESSAGES.validate_python(items)
    except Exception as e:
        raise ShieldInputError(f"not a list of llamasys.core_model.messages messages: {e}") from e


class LazyModel(Generic[T]):
    """Loads something on first use; a failure is logged once (logging.error) and remembered."""

    def __init__(self, what: str, loader: Callable[[], T]) -> None:
        self.what = what
        self._loader = loader
        self._value: T | None = None
        self._error: str | None = None
        self._lock = threading.Lock()

    @classmethod
    def ready(cls, what: str, value: T) -> LazyModel[T]:
        lazy = cls(what, lambda: value)
        lazy._value = value
        return lazy

    @property
    def loaded(self) -> bool:
        return self._value is not None

    def get(self) -> T:
        if self._value is not None:
            return self._value
        with self._lock:
            if self._value is not None:
                return self._value
            if self._error is not None:
                raise ShieldUnavailableError(self._error)
            try:
                self._value = self._loader()
            except Exception as e:
                self._error = f"{self.what} could not be loaded: {e}"
                log.error("%s; every check of this shield reports 'unavailable'", self._error)
                raise ShieldUnavailableError(self._error) from e
            return self._value


class Shield(ABC):
    """Base of every shield. `name` identifies it in verdicts."""

    name: str = "shield"

    def __init__(
        self,
        *,
        on_unavailable: OnUnavailable = "block",
        on_violation: OnViolation = "block",
        refusals: Refusals | None = None,
    ) -> None:
        if on_unavailable not in ("block", "warn"):
            raise ValueError(f"on_unavailable must be 'block' or 'warn', not {on_unavailable!r}")
        if on_violation not in ("block", "warn"):
            raise ValueError(f"on_violation must be 'block' or 'warn', not {on_violation!r}")
        self.on_unavailable: OnUnavailable = on_unavailable
        self.on_violation: OnViolation = on_violation
        self.refusals = refusals or Refusals()

    async def check(self, messages: Sequence[Any], *, touchpoint: Touchpoint | str) -> ShieldVerdict:
        """Judge the conversation `messages` at `touchpoint`; never raises for model trouble."""
        try:
            touchpoint = Touchpoint(touchpoint)
        except ValueError:
            raise ShieldInputError(
                f"unknown touchpoint {touchpoint!r}: use one of {[t.value for t in Touchpoint]}"
            ) from None
        msgs = validate_messages(messages)
        start = time.perf_counter()
        try:
            verdict = await self._check(msgs, touchpoint)
        except ShieldInputError:
            raise
        except ShieldUnavailableError as e:
            verdict = self.unavailable(touchpoint, str(e))
        except Exception as e:  # the model or its runtime failed: fail closed (by policy), loudly
            log.exception("%s failed while checking %s", self.name, touchpoint.value)
            verdict = self.unavailable(touchpoint, f"{self.name} failed: {type(e).__name__}: {e}")
        verdict.latency_s = time.perf_counter() - start
        return verdict

    @abstractmethod
    async def _check(self, messages: list[Any], touchpoint: Touchpoint) -> ShieldVerdict: ...

    def violation(self, touchpoint: Touchpoint, user_message: str, **kw: Any) -> ShieldVerdict:
        """A violation under this shield's `on_violation` policy (blocked with `user_message`, or a warning)."""
        return ShieldVerdict.violation(
            self.name, touchpoint, on_violation=self.on_violation, user_message=user_message, **kw
        )

    def unavailable(self, touchpoint: Touchpoint, reason: str, **kw: Any) -> ShieldVerdict:
        return ShieldVerdict.unavailable_verdict(
            self.name,
            touchpoint,
            reason,
            on_unavailable=self.on_unavailable,
            user_message=self.refusals.unavailable,
            **kw,
        )


class NoopShield(Shield):
    """Allows everything. The baseline of `llamasys bench safety`; never use it to guard anything."""

    name = "noop"

    async def _check(self, messages: list[Any], touchpoint: Touchpoint) -> ShieldVerdict:
        return ShieldVerdict.allow(self.name, touchpoint)


async def run_shields(
    shields: Sequence[Shield], messages: Sequence[Any], *, touchpoint: Touchpoint | str
) -> list[ShieldVerdict]:
    """Run every shield on the same messages concurrently; verdicts come back in the shields' order.
    The messages are never mutated (each shield reads its own validated copy)."""
    return list(await asyncio.gather(*(s.check(messages, touchpoint=touchpoint) for s in shields)))


def first_block(verdicts: Iterable[ShieldVerdict]) -> ShieldVerdict | None:
    """The first verdict that blocks, or None when every shield allowed (warnings included)."""
    return next((v for v in verdicts if not v.allowed), None)
