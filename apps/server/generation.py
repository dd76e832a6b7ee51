"""The one place the server meets the engine: submit prompt ids, iterate token events, cancel.

    >>> gen = Generator(engine, max_queue=16)
    >>> request = gen.submit(prompt_ids, SamplingParams(max_tokens=64))   # may raise EngineBusyError
    >>> async for event in request:      # event.token_id / .text / .logprob, then a final event
    ...     ...                          # with .stop_reason and .completion
    >>> request.cancel()                 # a client that went away: the engine stops at its next step

With the serving engine (`engine.serve()`, `llamasys.core_model.serving`) requests are batched
continuously and share cached prefixes; `EngineBusyError` comes from its bounded queue. An engine
without `serve()` (an older build) runs `Engine.stream` in a worker thread, one request at a time
behind the engine's lock, with at most `max_queue` requests waiting before `submit` raises
`EngineBusyError` here. Either way `submit` raises `SequenceTooLongError` for a prompt plus budget that
does not fit, and `ValueError` for a bad token id, before anything runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Sequence
from typing import Any

from llamasys.core_model.errors import ModelError

try:  # the serving engine's back-pressure error; the fallback below raises the same type
    from llamasys.core_model.serving import EngineBusyError
except ImportError:  # pragma: no cover - an engine build without the serving module

    class EngineBusyError(ModelError):  # type: ignore[no-redef]
        """Too many requests wait for the engine: retry later (HTTP 429)."""


__all__ = ["EngineBusyError", "Generator", "GenerationRequest"]

_END = object()


class GenerationRequest:
    """One running generation: an async iterator of token events; `cancel()` stops it."""

    def __init__(self, inner: Any = None) -> None:
        self._inner = inner  # a serving-engine Request, or None for the thread fallback
        self._queue: asyncio.Queue[Any] | None = None
        self._cancel = threading.Event()

    def cancel(self) -> None:
        self._cancel.set()
        if self._inner is not None:
            self._inner.cancel()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def __aiter__(self) -> AsyncIterator[Any]:
        return self._events()

    async def _events(self) -> AsyncIterator[Any]:
        try:
            if self._inner is not None:
                async for event in self._inner:
                    yield event
                return
            assert self._queue is not None
            while True:
                item = await self._queue.get()
                if item is _END:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:  # the consumer stopped early (client gone, exception): stop the engine too
            self.cancel()


class Generator:
    """Submits prompts to an `Engine` (see the module docstring). `max_queue`: requests allowed to wait."""

    def __init__(self, engine: Any, *, max_queue: int = 16) -> None:
        self.engine = engine
        self.max_queue = max_queue
        self._serving = engine.serve(max_queue=max_queue) if hasattr(engine, "serve") else None
        self._lock = threading.Lock()
        self._pending = 0  # fallback: requests submitted and not finished (one runs, the rest wait)

    @property
    def batched(self) -> bool:
        """True when requests go through the serving engine (continuous batching)."""
        return self._serving is not None

    def submit(self, prompt: Sequence[int], sampling: Any) -> GenerationRequest:
        if self._serving is not None:
            return GenerationRequest(self._serving.submit(prompt, sampling))
        ids = self.engine._check_prompt(prompt, sampling)  # the same checks Engine.stream makes, now
        with self._lock:
            if self._pending > self.max_queue:
                raise EngineBusyError(
                    f"the engine is busy: {self._pending - 1} requests already wait (max_queue="
                    f"{self.max_queue}); retry later"
                )
            self._pending += 1
        request = GenerationRequest()
        loop = asyncio.get_running_loop()
        request._queue = asyncio.Queue()
        thread = threading.Thread(
            target=self._run, args=(request, loop, ids, sampling), name="llamasys-generate", daemon=True
        )
        thread.start()
        return request

    def _run(self, request: GenerationRequest, loop: asyncio.AbstractEventLoop, ids, sampling) -> None:
        def put(item: Any) -> None:
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody listens any more
                loop.call_soon_threadsafe(request._queue.put_nowait, item)  # type: ignore[union-attr]

        try:
            if request.cancelled:
                return
            stream = self.engine.stream(ids, sampling)
            try:
                for event in stream:
                    put(event)
                    if request.cancelled:
                        break
            finally:
                stream.close()  # releases the engine's lock at once when cancelled
        except BaseException as exc:  # delivered to the consumer, which raises it
            put(exc)
        finally:
            with self._lock:
                self._pending -= 1
            put(_END)

    def shutdown(self) -> None:
        """Stop the serving engine's scheduler (only for an engine this process loaded for the server: one
        handed in may serve others too)."""
        if self._serving is not None:
            self._serving.shutdown()
