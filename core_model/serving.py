"""The serving engine: many callers at once, continuous batching, prefix reuse, cancellation, back-pressure.

    >>> server = engine.serve()                              # one per Engine (`AsyncEngine`)
    >>> request = server.submit(prompt_ids, SamplingParams(max_tokens=64))
    >>> async for event in request:                          # TokenEvent per token, then the final one
    ...     print(event.text, end="")
    >>> for event in server.submit(prompt_ids):              # the same object iterates synchronously too
    ...     ...
    >>> request.reused_tokens                                # prompt tokens whose KV came from a cache

How it runs. One scheduler thread owns the model (it holds `Engine._lock` around every model call) and
loops over *steps*. At every step boundary it (1) retires rows whose caller went away, (2) admits waiting
requests into free batch slots (the rows of the static KV cache), (3) prefills one chunk of at most
`prefill_chunk` prompt tokens of one admitted request, so rows that already decode keep decoding between
the chunks of a long prompt, and (4) decodes one token for every decoding row in one step (the C step,
PyTorch eager or a CUDA graph bucket: rows at different positions share a step; the C step computes
exactly the busy cache rows, PyTorch and graph buckets also run the idle rows below the last busy one,
each at a position its slot does not hold). A row that finishes frees its slot at once. The thread starts with the first request and ends after `idle_exit_s` without
work, so an idle engine holds no thread.

Prefix reuse (the idea of vLLM's prefix caching and llama.cpp's slot prompt reuse, on our static cache):
each slot remembers the token ids whose keys/values its cache row holds (the prompt, then every token fed
back). A new request goes to the free slot whose ids share the longest prefix with its prompt and only the
rest is prefilled; when another slot (busy or free) shares a prefix at least `min_copy_tokens` longer, that
prefix's keys/values are copied row to row (a memory copy, far cheaper than recomputing it) — so an
agent's five steps or a session's turns, and many sessions with the same system prompt and tool list,
prefill only what is new. The last prompt token is always recomputed (its logits start the reply).
`TokenEvent`s carry nothing about it; `Request.reused_tokens` and `Completion.reused_tokens` say how many
prompt tokens were not prefilled.

Cancellation: `Request.cancel()` / `close()` / `aclose()`, leaving an `async with` / `with` block, a
cancelled asyncio task waiting on the next event (a closed HTTP connection, a cancelled agent turn), or
dropping the last reference all mark the request cancelled; the scheduler frees its slot at the next
step boundary (what it had computed stays reusable as a cached prefix).

Back-pressure: at most `max_queue` requests wait for a slot; past that `submit` raises `EngineBusyError`
at once (an HTTP server answers 429 or 503). A prompt that cannot fit (`len(prompt) + max_tokens >
max_seq_len`) raises `SequenceTooLongError` at once, a bad token id `ValueError`.

Determinism: each request samples with its own generator (seeded by `SamplingParams.seed`), and every
row of a step is computed independently of the others, so a greedy request gives the same tokens alone,
batched with others, and with or without prefix reuse (float32: exactly; bf16: up to rounding
differences between the prefill and decode kernels).

Where paged KV blocks would go: this cache is one pre-allocated row of `max_seq_len` positions per slot,
which is right for a CPU and a handful of slots. GPU serving at scale would replace the row by a block
table (vLLM's PagedAttention: fixed-size blocks, reference-counted, shared copy-on-write between requests
with a common prefix instead of copied), with the slot's cached ids becoming a hash per full block; the
scheduler below would keep its shape (admit, chunked prefill, one decode step, retire).
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import logging
import threading
import time
import weakref
from collections import deque
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from llamasys.core_model.errors import ModelError
from llamasys.core_model.sampling import SamplingParams, make_generator

# Types of core_model.engine, which imports this module (Engine.serve), named here without importing it.
Engine = Completion = TokenEvent = _Row = Any

__all__ = ["AsyncEngine", "EngineBusyError", "Request", "ServingStats", "ThreadChooser"]

log = logging.getLogger(__name__)

_KV_WINDOW = 256  # batched PyTorch decode attends over the cache rounded up to a multiple of this


class EngineBusyError(ModelError):
    """The serving engine's waiting queue is full: retry later (an HTTP server maps it to 429 or 503)."""


@dataclass
class ServingStats:
    """A snapshot of the scheduler (for tests, benchmarks and health endpoints)."""

    slots: int
    active: int  # requests holding a slot (prefilling or decoding)
    waiting: int  # requests queued for a slot
    cached_tokens: list[int]  # per slot: positions whose keys/values are reusable
    steps: int  # decode steps run so far
    finished: int  # requests that ended (completed, cancelled or failed)
    thread_alive: bool
    threads: int  # CPU threads of the last model call (`ThreadChooser`)
    thread_estimates: dict[str, float]  # "kind/bucket/threads" -> moving average s per row or token
    decode_rows: int = 0  # rows computed by those steps (decoding requests only, no idle rows)
    decode_model_s: float = 0.0  # seconds inside the model's decode calls (the C step, eager or graph)
    decode_step_s: float = 0.0  # seconds of whole decode steps: inputs, model call, sampling, events


class _Done:
    """End-of-stream marker put in a request's queue after its final event."""


_DONE = _Done()


@dataclass
class _State:
    """What the scheduler keeps for a request (only the scheduler thread writes it)."""

    prompt: list[int]
    sampling: SamplingParams
    row: _Row
    stop_ids: frozenset[int]
    generator: torch.Generator | None = None
    slot: int | None = None
    prefilled: int = 0  # prompt positions whose keys/values are in the slot
    pending: int | None = None  # last sampled token, not yet fed to the model
    submitted: float = field(default_factory=time.perf_counter)
    admitted: float = 0.0
    first_token: float = 0.0


class Request:
    """One submitted request: iterate it (`async for` or `for`) for its `TokenEvent`s.

    Every event but the last carries one generated token (`token_id`, its new `text`, maybe empty, and
    `logprob` when asked for); the last has `token_id` None, the text held back, `stop_reason` and the
    `Completion`. Iteration raises the scheduler's error if the request failed. Stop early with
    `cancel()` (or `close()` / `aclose()`, or by leaving `with` / `async with`): the slot is freed at
    the next step. Iterate a request from one consumer only."""

    def __init__(self, server: AsyncEngine, state: _State, request_id: int) -> None:
        self.id = request_id
        self._server = server
        self._state = state
        self._events: deque[Any] = deque()
        self._cond = threading.Condition()
        self._waker: tuple[asyncio.AbstractEventLoop, asyncio.Future] | None = None
        self.cancelled = False
        self.finished = False
        self.reused_tokens = 0  # prompt tokens not prefilled (set when the request gets a slot)
        self.completion: Completion | None = None  # set with the final event

    # -- scheduler side -------------------------------------------------------------------------

    def _put(self, item: Any, wakes: _Wakes | None = None) -> None:
        """Deliver an item; an asyncio reader is woken now, or with `wakes.send()` when given (one
        hand-off per event loop per step instead of one per token)."""
        with self._cond:
            if self.cancelled and item is not _DONE:
                return  # nobody will read it
            self._events.append(item)
            self._cond.notify_all()
            waker, self._waker = self._waker, None
        if waker is not None:
            if wakes is None:
                _Wakes().add(*waker).send()
            else:
                wakes.add(*waker)

    # -- consumer side --------------------------------------------------------------------------

    def cancel(self) -> None:
        """Stop generating; the slot is freed at the next step boundary. Safe from any thread."""
        if not self.cancelled and not self.finished:
            with self._cond:
                self.cancelled = True
                self._cond.notify_all()
            self._server._wake()

    close = cancel

    async def aclose(self) -> None:
        self.cancel()

    def _next_item(self) -> Any:
        if self.cancelled:  # what was computed but not read is dropped
            self._events.clear()
            self.finished = True
            raise StopIteration
        item = self._events.popleft()
        if item is _DONE:
            self.finished = True
            raise StopIteration
        if isinstance(item, BaseException):
            self.finished = True
            raise item
        if item.completion is not None:
            self.completion = item.completion
        return item

    def __iter__(self) -> Iterator[TokenEvent]:
        return self

    def __next__(self) -> TokenEvent:
        with self._cond:
            while not self._events and not self.cancelled:
                if self.finished:
                    raise StopIteration
                self._cond.wait()
            return self._next_item()

    def __aiter__(self) -> AsyncIterator[TokenEvent]:
        return self

    async def __anext__(self) -> TokenEvent:
        while True:
            with self._cond:
                if self._events or self.cancelled:
                    try:
                        return self._next_item()
                    except StopIteration:
                        raise StopAsyncIteration from None
                if self.finished:
                    raise StopAsyncIteration
                loop = asyncio.get_running_loop()
                future = loop.create_future()
                self._waker = (loop, future)
            try:
                await future
            except asyncio.CancelledError:  # the consumer's task was cancelled: so is the request
                self.cancel()
                raise

    def result(self) -> Completion:
        """Wait for the end (blocking) and return the completion."""
        for _ in self:
            pass
        if self.completion is None:
            raise ModelError("the request was cancelled before it completed")
        return self.completion

    async def aresult(self) -> Completion:
        async for _ in self:
            pass
        if self.completion is None:
            raise ModelError("the request was cancelled before it completed")
        return self.completion

    def __enter__(self) -> Request:
        return self

    def __exit__(self, *exc: object) -> None:
        self.cancel()

    async def __aenter__(self) -> Request:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.cancel()

    def __del__(self) -> None:
        if not self.finished and not self.cancelled:
            self.cancelled = True
            server = getattr(self, "_server", None)
            if server is not None:
                server._wake()


def _wake(futures: list[asyncio.Future]) -> None:
    for future in futures:
        if not future.done():
            future.set_result(None)


class _Wakes:
    """Futures of asyncio readers to wake, grouped by event loop: `send()` makes one
    `call_soon_threadsafe` per loop (each one is a write to the loop's self-pipe and a wake-up of its
    thread; four streams on one loop used to cost four of them per step)."""

    def __init__(self) -> None:
        self.by_loop: dict[asyncio.AbstractEventLoop, list[asyncio.Future]] = {}

    def add(self, loop: asyncio.AbstractEventLoop, future: asyncio.Future) -> _Wakes:
        self.by_loop.setdefault(loop, []).append(future)
        return self

    def send(self) -> None:
        for loop, futures in self.by_loop.items():
            with contextlib.suppress(RuntimeError):  # a closed loop: nobody is waiting any more
                loop.call_soon_threadsafe(_wake, futures)
        self.by_loop = {}


@dataclass
class _Slot:
    cached: list[int] = field(default_factory=list)  # ids whose keys/values this cache row holds
    request: Request | None = None


def _common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


_LIVE: weakref.WeakSet[AsyncEngine] = weakref.WeakSet()


@atexit.register
def _shutdown_all() -> None:
    """At interpreter exit, stop every scheduler thread between two steps (a daemon thread still inside
    a model call while the interpreter tears down can crash it)."""
    for server in list(_LIVE):
        server.shutdown(timeout=30.0)


class AsyncEngine:
    """The serving front of an `Engine`: `submit` from any thread or event loop, any number at once.

    Get it with `engine.serve(...)` (one per engine). Options: `max_queue` requests may wait for a slot
    before `submit` raises `EngineBusyError`; `prefill_chunk` prompt tokens are prefilled per step
    boundary; a prefix at least `min_copy_tokens` longer in another slot is copied instead of
    recomputed; the scheduler thread exits after `idle_exit_s` seconds without work; `threads` 0 adapts
    the CPU threads per model call to contention (`ThreadChooser`), N fixes them."""

    def __init__(
        self,
        engine: Engine,
        *,
        max_queue: int = 64,
        prefill_chunk: int = 256,
        min_copy_tokens: int = 16,
        idle_exit_s: float = 2.0,
        threads: int = 0,
    ) -> None:
        self._engine_ref = weakref.ref(engine)
        self._cond = threading.Condition()
        self._most_threads = torch.get_num_threads() if engine.device.type == "cpu" else 1
        self._threads = ThreadChooser(self._most_threads)
        self.configure(
            max_queue=max_queue,
            prefill_chunk=prefill_chunk,
            min_copy_tokens=min_copy_tokens,
            idle_exit_s=idle_exit_s,
            threads=threads,
        )
        self._slots = [_Slot() for _ in range(engine.max_batch_size)]
        self._waiting: deque[Request] = deque()
        self._thread: threading.Thread | None = None
        self._next_id = 0
        self._steps = 0
        self._decode_rows = 0
        self._decode_model_s = 0.0
        self._decode_step_s = 0.0
        self._finished = 0
        self._closed = False
        _LIVE.add(self)

    # -- public API ------------------------------------------------------------------------------

    @property
    def engine(self) -> Engine:
        engine = self._engine_ref()
        if engine is None:
            raise ModelError("the Engine behind this AsyncEngine was garbage-collected")
        return engine

    def submit(
        self, prompt: Sequence[int], sampling: SamplingParams | None = None, *, wait: bool = False
    ) -> Request:
        """Queue `prompt` (token ids) for generation and return its `Request` at once.

        Raises `EngineBusyError` when `max_queue` requests already wait (with `wait=True` it blocks until
        there is room instead), `SequenceTooLongError` when `len(prompt) + sampling.max_tokens` exceeds
        the engine's `max_seq_len`, and `ValueError` for an empty prompt or an id outside the vocabulary."""
        engine = self.engine
        sampling = sampling or SamplingParams()
        ids = engine._check_prompt(prompt, sampling)
        state = _State(
            prompt=ids,
            sampling=sampling,
            row=engine._new_row(ids, sampling),
            stop_ids=engine.stop_ids | frozenset(sampling.stop_token_ids),
        )
        with self._cond:
            if self._closed:
                raise ModelError("this AsyncEngine was shut down: get a new one with engine.serve()")
            while len(self._waiting) >= self.max_queue and self._free_slots_locked() <= 0:
                if not wait:
                    raise EngineBusyError(
                        f"the engine is busy: {len(self._waiting)} requests already wait for one of "
                        f"{len(self._slots)} slots (max_queue={self.max_queue}); retry later"
                    )
                self._cond.wait()
            self._next_id += 1
            request = Request(self, state, self._next_id)
            self._waiting.append(request)
            self._ensure_thread_locked()
            self._cond.notify_all()
        return request

    def configure(
        self,
        *,
        max_queue: int | None = None,
        prefill_chunk: int | None = None,
        min_copy_tokens: int | None = None,
        idle_exit_s: float | None = None,
        threads: int | None = None,
    ) -> None:
        """Change options (None keeps one); they apply from the next step boundary. `threads`: 0 lets
        `ThreadChooser` pick the CPU threads of every model call, N > 0 fixes them at N."""
        checks = {
            "max_queue": (max_queue, 0),
            "prefill_chunk": (prefill_chunk, 1),
            "min_copy_tokens": (min_copy_tokens, 1),
            "idle_exit_s": (idle_exit_s, 0),
            "threads": (threads, 0),
        }
        for name, (value, least) in checks.items():
            if value is None:
                continue
            if value < least:
                raise ValueError(f"{name} must be >= {least}, got {value}")
            setattr(self, name, value)
        if threads is not None:
            self._threads = ThreadChooser(self._most_threads if threads == 0 else threads, fixed=threads > 0)
        self._wake()

    @property
    def closed(self) -> bool:
        """True after `shutdown()`: `engine.serve()` then makes a new one."""
        return self._closed

    def stats(self) -> ServingStats:
        with self._cond:
            return ServingStats(
                slots=len(self._slots),
                active=sum(s.request is not None for s in self._slots),
                waiting=len(self._waiting),
                cached_tokens=[len(s.cached) for s in self._slots],
                steps=self._steps,
                finished=self._finished,
                thread_alive=self._thread is not None and self._thread.is_alive(),
                threads=self._threads.last,
                thread_estimates={"/".join(map(str, k)): v for k, v in self._threads.estimates.items()},
                decode_rows=self._decode_rows,
                decode_model_s=self._decode_model_s,
                decode_step_s=self._decode_step_s,
            )

    def shutdown(self, timeout: float = 10.0) -> None:
        """Cancel every request, stop the scheduler thread and refuse new work."""
        with self._cond:
            self._closed = True
            for request in list(self._waiting) + [s.request for s in self._slots if s.request]:
                request.cancel()  # its reader's iteration ends; the scheduler frees its slot
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def forget_cache(self, rows: int | None = None) -> None:
        """Forget what slots 0..rows-1 (default: all) hold; for whoever writes the cache outside the
        scheduler (`Engine.forward`). Raises ModelError when one of them runs a request."""
        with self._cond:
            slots = self._slots[: rows if rows is not None else len(self._slots)]
            if any(s.request is not None for s in slots):
                raise ModelError(
                    "the serving engine is using these cache rows for requests in flight: wait until "
                    "no request runs (Engine.forward included), or use submit()"
                )
            for slot in slots:
                slot.cached = []

    # -- scheduler ---------------------------------------------------------------------------------

    def _wake(self) -> None:
        with self._cond:
            self._cond.notify_all()

    def _free_slots_locked(self) -> int:
        return sum(s.request is None for s in self._slots) - len(self._waiting)

    def _ensure_thread_locked(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._loop, name="llamasys-serving", daemon=True)
            self._thread.start()

    def _loop(self) -> None:
        idle_since = time.monotonic()
        while True:
            with self._cond:
                while not self._has_work_locked():
                    if self._closed or time.monotonic() - idle_since >= self.idle_exit_s:
                        self._thread = None
                        return
                    self._cond.wait(timeout=max(0.01, self.idle_exit_s - (time.monotonic() - idle_since)))
            try:
                self._step()
            except Exception as exc:  # a bug or a device error: fail the requests in flight, keep serving
                log.exception("serving step failed")
                self._fail_all(exc)
            idle_since = time.monotonic()

    def _has_work_locked(self) -> bool:
        return bool(self._waiting) or any(s.request is not None for s in self._slots)

    def _fail_all(self, exc: Exception) -> None:
        error = ModelError(f"the serving engine failed while running this request: {exc!r}")
        with self._cond:
            for slot in self._slots:
                if slot.request is not None:
                    self._end_locked(slot.request, error)
                slot.cached = []  # the cache rows' contents are unknown now

    def _end_locked(self, request: Request, final: Any, wakes: _Wakes | None = None) -> None:
        """Release `request`'s slot and deliver its last item (an event, an error, or nothing); with
        `wakes`, an asyncio reader is woken when the caller sends them."""
        state = request._state
        if state.slot is not None and self._slots[state.slot].request is request:
            self._slots[state.slot].request = None
        self._finished += 1
        if final is not None:
            request._put(final, wakes)
        request._put(_DONE, wakes)
        self._cond.notify_all()

    def _step(self) -> None:
        engine = self.engine
        with self._cond:
            for slot in self._slots:  # 1. retire rows whose caller went away
                if slot.request is not None and slot.request.cancelled:
                    self._end_locked(slot.request, None)
            copies = self._admit_locked()  # 2. admit waiting requests into free slots
            prefilling = [s.request for s in self._slots if s.request and s.request._state.pending is None]
            decoding = [
                (i, s.request)
                for i, s in enumerate(self._slots)
                if s.request and s.request._state.pending is not None
            ]
        with engine._lock, torch.inference_mode():
            for source, dest, length in copies:
                _copy_prefix(engine, source, dest, length)
            if prefilling:  # 3. one chunk of the request admitted first
                self._prefill_chunk(engine, min(prefilling, key=lambda r: r._state.admitted))
            if decoding:  # 4. one token for every decoding row
                self._decode(engine, decoding)

    def _admit_locked(self) -> list[tuple[int, int, int]]:
        """Give free slots to waiting requests; returns the prefix copies (source, dest, length) to make
        before the next model call."""
        copies = []
        while self._waiting:
            request = self._waiting[0]
            if request.cancelled:
                self._waiting.popleft()
                self._end_locked(request, None)
                continue
            free = [i for i, s in enumerate(self._slots) if s.request is None]
            if not free:
                break
            self._waiting.popleft()
            prompt = request._state.prompt
            usable = len(prompt) - 1  # the last prompt token is always computed: its logits start the reply
            match = {i: min(_common_prefix(s.cached, prompt), usable) for i, s in enumerate(self._slots)}
            dest = max(free, key=lambda i: (match[i], -i))
            source = max(range(len(self._slots)), key=lambda i: (match[i], -i))
            reused = match[dest]
            if match[source] - reused >= self.min_copy_tokens:
                copies.append((source, dest, match[source]))
                reused = match[source]
            slot = self._slots[dest]
            slot.cached = prompt[:reused]
            slot.request = request
            state = request._state
            state.slot, state.prefilled, state.admitted = dest, reused, time.perf_counter()
            request.reused_tokens = reused
            self._cond.notify_all()  # room in the queue for blocked submitters
        return copies

    def _prefill_chunk(self, engine: Engine, request: Request) -> None:
        state = request._state
        slot = self._slots[state.slot]
        start = state.prefilled
        end = min(len(state.prompt), start + self.prefill_chunk)
        tokens = torch.tensor([state.prompt[start:end]], dtype=torch.long, device=engine.device)
        positions = torch.arange(start, end, device=engine.device)[None]
        # From position 0 the chunk is a plain causal prompt (no mask); later chunks and reused prefixes
        # attend to the cached positions through the position mask.
        with self._threads.run("prefill", end - start):
            logits = engine.model(
                tokens, positions, row_start=state.slot, kv_len=end, last_only=True, exact=start == 0
            )
        state.prefilled = end
        slot.cached = state.prompt[:end]
        if end == len(state.prompt):
            self._emit(engine, [request], logits)

    def _decode(self, engine: Engine, decoding: list[tuple[int, Request]]) -> None:
        start = time.perf_counter()
        rows = None
        if engine.cpu_step is not None:  # the C step decodes exactly the busy cache rows
            n = len(decoding)
            tokens = [r._state.pending for _, r in decoding]
            positions = [len(r._state.prompt) + len(r._state.row.tokens) - 1 for _, r in decoding]
            if any(i != k for k, (i, _) in enumerate(decoding)):
                rows = torch.tensor([i for i, _ in decoding], dtype=torch.long)
        else:  # PyTorch and CUDA graphs decode cache rows 0..n-1; rows without a decoding request idle
            n = decoding[-1][0] + 1
            if engine.graphs is not None:  # a graph replays a whole bucket: its padding rows idle too
                n = engine.graphs.bucket(n)
            tokens = [0] * n
            positions = [0] * n
            for i in range(n):  # an idle row writes one harmless key/value just past what it holds
                cached = self._slots[i].cached
                if len(cached) >= engine.max_seq_len:
                    del cached[engine.max_seq_len - 1 :]
                positions[i] = len(cached)
            for i, request in decoding:
                tokens[i] = request._state.pending
                positions[i] = len(request._state.prompt) + len(request._state.row.tokens) - 1
        t = torch.tensor(tokens, dtype=torch.long, device=engine.device)
        p = torch.tensor(positions, dtype=torch.long, device=engine.device)
        exact = n == 1 and not engine.compiled  # one row: attend over exactly its keys, no mask
        kv_len = (
            positions[0] + 1
            if exact
            else min(engine.max_seq_len, -(-(max(positions) + 1) // _KV_WINDOW) * _KV_WINDOW)
        )
        with self._threads.run("decode", n):
            model_start = time.perf_counter()
            logits = engine._decode(t, p, kv_len, exact=exact, rows=rows)
            self._decode_model_s += time.perf_counter() - model_start
        self._steps += 1
        self._decode_rows += len(decoding)
        for i, request in decoding:
            self._slots[i].cached.append(request._state.pending)
        self._emit(
            engine,
            [r for _, r in decoding],
            logits[[i for i, _ in decoding]] if n != len(decoding) else logits,
        )
        self._decode_step_s += time.perf_counter() - start

    def _emit(self, engine: Engine, requests: list[Request], logits: torch.Tensor) -> None:
        """Pick one token per request from its logits row, accept it, deliver the event(s); asyncio
        readers are woken once per event loop, after every row's event is queued."""
        now = time.perf_counter()
        wakes = _Wakes()
        engine._constrain([r._state.row for r in requests], logits)  # each row's own constraint, if any
        greedy_ids = logits.argmax(dim=-1).tolist()  # one host sync for every greedy row
        for k, request in enumerate(requests):
            state = request._state
            row, params = state.row, state.sampling
            if not state.first_token:
                state.first_token = now
            token, logprob = None, None
            if not row.done:  # else its constraint allowed no token at all
                if state.generator is None and not params.greedy:
                    state.generator = make_generator(params, engine.device)
                token, logprob = engine._pick(row, logits[k : k + 1], params, state.generator, greedy_ids[k])
                before = len(row.tokens)
                engine._accept(row, token, state.stop_ids, params.max_tokens)
                if len(row.tokens) > before:  # accepted (a constraint may still refuse it)
                    request._put(engine._token_event(row, token, logprob), wakes)
            if not row.done:
                state.pending = token
                continue
            final = engine._final_event(
                row, state.first_token - state.admitted, now - state.first_token, request.reused_tokens
            )
            with self._cond:
                self._end_locked(request, final, wakes)
        wakes.send()


class ThreadChooser:
    """Picks how many CPU threads each model call uses, from how fast each count has been lately.

    Why: every decode step is a few hundred OpenMP barriers (the C step) or parallel regions (PyTorch).
    On an idle machine all cores win; but when another process takes a core, the OS deschedules one of
    our threads and the others spin at every barrier until it runs again — measured on a 2-core machine
    with other work running, two threads decoded SmolLM2 10-40x slower than one. No fixed setting is
    right for both, so the scheduler measures: for decode steps (by rows) it keeps a moving average of
    seconds per row for every candidate count (all threads, half, one), runs the best one, and every
    `explore_every` calls tries another, so it moves back to all threads once the other work stops. A
    batch size not seen before starts on the count the last decode steps found best.
    Prefill chunks are long and few, so exploring on them is expensive (one chunk on the wrong count can
    cost seconds under contention): they run on the count decode currently finds best (all threads
    before any decode step), and their timings are only recorded for `ServingStats`. OpenMP's own wait policy stays libgomp's default
    (spin, then sleep): a passive policy would add a futex wake-up to each of those barriers on an idle
    machine, and without a second thread there is no barrier to wait at. `most` <= 1 turns it off."""

    def __init__(self, most: int, explore_every: int = 24, alpha: float = 0.4, fixed: bool = False) -> None:
        self.most = max(1, most)
        self.candidates = (
            [self.most] if fixed else sorted({self.most, max(1, self.most // 2), 1}, reverse=True)
        )
        self.explore_every = explore_every
        self.alpha = alpha
        self.estimates: dict[tuple[str, int, int], float] = {}  # (kind, bucket, threads) -> s per unit
        self.calls = 0
        self.last = 0
        self.decode_best: int | None = None

    def choose(self, kind: str, bucket: int) -> int:
        if len(self.candidates) == 1:
            return self.most
        if kind == "prefill":
            return self.decode_best if self.decode_best is not None else self.most
        self.calls += 1
        known = {t: e for t in self.candidates if (e := self.estimates.get((kind, bucket, t))) is not None}
        if self.decode_best is None and len(known) < len(self.candidates):
            return next(t for t in self.candidates if t not in known)  # at first, measure every count
        if not known:  # a new batch size: start from what the others found, explore later
            return self.decode_best
        best = min(known, key=lambda t: known[t])
        self.decode_best = best
        if self.calls % self.explore_every == 0:
            others = [t for t in self.candidates if t != best]
            return others[(self.calls // self.explore_every) % len(others)]
        return best

    def record(self, kind: str, bucket: int, threads: int, per_unit_s: float) -> None:
        key = (kind, bucket, threads)
        old = self.estimates.get(key)
        self.estimates[key] = per_unit_s if old is None else old + self.alpha * (per_unit_s - old)

    @contextlib.contextmanager
    def run(self, kind: str, units: int) -> Iterator[None]:
        """Run the body with the chosen thread count (torch's, which the C step also reads) and time it."""
        bucket = units if kind == "decode" else 1 << max(0, units - 1).bit_length()
        threads = self.choose(kind, bucket)
        if threads != torch.get_num_threads():
            torch.set_num_threads(threads)
        start = time.perf_counter()
        yield
        if len(self.candidates) > 1:
            self.record(kind, bucket, threads, (time.perf_counter() - start) / max(1, units))
        self.last = threads


def _copy_prefix(engine: Engine, source: int, dest: int, length: int) -> None:
    """Copy the keys/values of positions 0..length-1 from cache row `source` to row `dest`."""
    with torch.inference_mode():
        for layer in engine.model.layers:
            attn = layer.attention
            attn.cache_k[dest, :, :length].copy_(attn.cache_k[source, :, :length])
            attn.cache_v[dest, :, :length].copy_(attn.cache_v[source, :, :length])
