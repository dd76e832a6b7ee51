"""The serving engine (`core_model/serving.py`): continuous batching, prefix reuse, cancellation,
back-pressure — tiny random-weight model, float32, CPU, both decode paths (the C step and PyTorch)."""

from __future__ import annotations

import asyncio
import gc
import random
import threading
import time
import weakref
from types import SimpleNamespace

import pytest
import torch

from llamasys.core_model import SamplingParams
from llamasys.core_model.engine import Engine
from llamasys.core_model.errors import ModelError, SequenceTooLongError
from llamasys.core_model.messages import StopReason
from llamasys.core_model.serving import AsyncEngine, EngineBusyError, ThreadChooser
from llamasys.core_model.testing import random_meta_state_dict, tiny_args


class Bytes:
    """Ids < 256 are bytes; everything else prints as a letter. No stop tokens unless given."""

    def __init__(self, stop_ids=()):
        self.stop_ids = frozenset(stop_ids)

    def special_id(self, tok: str) -> int:
        raise KeyError(tok)

    def decode_bytes(self, ids) -> bytes:
        return b"".join(bytes([i]) if i < 256 else bytes([97 + i % 26]) for i in ids)


def make_engine(*, slots: int = 4, max_seq_len: int = 160, cpu_kernels: bool | None = None, **kw) -> Engine:
    args = tiny_args()
    ckpt = SimpleNamespace(
        args=args,
        state_dict=random_meta_state_dict(args, 0),
        tokenizer=Bytes(kw.pop("stop_ids", ())),
        chat_template=None,
        path=None,
    )
    return Engine.from_checkpoint(
        ckpt,
        dtype=torch.float32,
        max_seq_len=max_seq_len,
        max_batch_size=slots,
        cpu_kernels=cpu_kernels,
        **kw,
    )


def prompts(n: int, seed: int = 1) -> list[list[int]]:
    rng = random.Random(seed)
    return [[1] + [rng.randrange(2, 250) for _ in range(rng.randrange(3, 30))] for _ in range(n)]


def cold(server: AsyncEngine, prompt, params) -> list[int]:
    """The tokens of `prompt` run alone with nothing cached."""
    server.forget_cache()
    return server.submit(prompt, params).result().tokens


def wait_until(predicate, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.005)


@pytest.fixture(params=["c", "torch"])
def engine(request) -> Engine:
    """The same model decoding through the C step and through PyTorch eager."""
    return make_engine(max_seq_len=512, cpu_kernels=None if request.param == "c" else False)


def test_concurrent_greedy_requests_equal_one_by_one(engine):
    server = engine.serve()
    params = SamplingParams(max_tokens=10)
    ps = prompts(9)  # 9 requests, 4 slots: rows join and leave the batch as others finish
    alone = [cold(server, p, params) for p in ps]
    server.forget_cache()
    results: dict[int, list[int]] = {}

    def run(i: int) -> None:
        results[i] = server.submit(ps[i], params).result().tokens

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(ps))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [results[i] for i in range(len(ps))] == alone
    assert all(len(t) == 10 for t in alone)


def test_async_consumers_share_the_batch():
    engine = make_engine()
    server = engine.serve()
    params = SamplingParams(max_tokens=8)
    ps = prompts(5, seed=2)
    alone = [cold(server, p, params) for p in ps]

    async def consume(p):
        tokens = []
        async for event in server.submit(p, params):
            if event.token_id is not None:
                tokens.append(event.token_id)
            else:
                assert event.completion.tokens == tokens
                assert event.stop_reason == StopReason.out_of_tokens
        return tokens

    async def main():
        return await asyncio.gather(*(consume(p) for p in ps))

    server.forget_cache()
    assert asyncio.run(main()) == alone
    assert server.stats().steps > 0


def test_prefix_reuse_gives_identical_tokens_and_counts_reused(engine):
    server = engine.serve()
    params = SamplingParams(max_tokens=6)
    first = prompts(1, seed=3)[0] * 2  # a few dozen tokens
    c1 = server.submit(first, params).result()
    assert c1.reused_tokens == 0
    # The next agent step: the whole conversation so far plus something new.
    second = first + c1.tokens + [7, 8, 9, 10, 11]
    c2 = server.submit(second, params).result()
    # The slot holds the prompt and every fed token (the last generated token was never fed back).
    assert c2.reused_tokens == len(first) + len(c1.tokens) - 1
    assert c2.tokens == cold(server, second, params)

    # The same prompt again reuses all but its last token.
    again = server.submit(second, params)
    assert again.result().tokens == c2.tokens and again.reused_tokens == len(second) - 1


def test_prefix_is_copied_from_a_busy_slot(engine):
    server = engine.serve()
    shared = prompts(1, seed=4)[0] * 3
    server.submit(shared, SamplingParams(max_tokens=1)).result()
    long_runner = server.submit(shared + [5], SamplingParams(max_tokens=60))  # takes the slot with `shared`
    next(iter(long_runner))  # it is decoding now
    params = SamplingParams(max_tokens=8)
    other = server.submit(shared + [6, 7], params)  # a free slot holds nothing: copy from the busy one
    tokens = other.result().tokens
    assert other.reused_tokens == len(shared)
    long_runner.cancel()
    wait_until(lambda: server.stats().active == 0)
    assert tokens == cold(server, shared + [6, 7], params)


def test_chunked_prefill_gives_the_same_tokens():
    engine = make_engine()
    params = SamplingParams(max_tokens=8)
    long_prompt = prompts(1, seed=5)[0] * 4
    whole = cold(engine.serve(), long_prompt, params)
    chunked = make_engine()
    server = chunked.serve(prefill_chunk=7)
    # A decoding row keeps decoding while the long prompt is prefilled 7 tokens at a time.
    runner = server.submit(prompts(1, seed=6)[0], SamplingParams(max_tokens=40))
    next(iter(runner))
    assert server.submit(long_prompt, params).result().tokens == whole
    runner.cancel()


def test_sampled_requests_are_reproducible_alone_and_batched():
    engine = make_engine()
    server = engine.serve()
    params = SamplingParams(temperature=1.0, top_p=0.9, seed=5, max_tokens=12, logprobs=2)
    p = prompts(1, seed=7)[0]
    alone = cold(server, p, params)
    server.forget_cache()
    batch = [server.submit(q, params) for q in (prompts(3, seed=8) + [p])]
    completion = batch[-1].result()
    assert completion.tokens == alone
    assert len(completion.logprobs) == 12 and len(completion.logprobs[0].top) == 2
    for r in batch[:-1]:
        r.result()


def test_cancellation_frees_the_slot(engine):
    server = engine.serve()
    request = server.submit(prompts(1)[0], SamplingParams(max_tokens=450))
    events = iter(request)
    next(events), next(events)
    with engine._lock:  # the model waits while we look
        assert server.stats().active == 1
        request.cancel()
    wait_until(lambda: server.stats().active == 0)
    assert list(events) == []  # the stream just ends
    assert request.completion is None
    with pytest.raises(ModelError, match="cancelled"):
        request.result()


def test_a_cancelled_task_and_a_dropped_request_free_their_slots():
    engine = make_engine()
    server = engine.serve()

    async def reader(started: asyncio.Event):
        async for _ in server.submit(prompts(1)[0], SamplingParams(max_tokens=120)):
            started.set()

    async def main():
        started = asyncio.Event()
        task = asyncio.create_task(reader(started))
        await started.wait()
        task.cancel()  # e.g. the HTTP client hung up
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    wait_until(lambda: server.stats().active == 0)

    request = server.submit(prompts(1)[0], SamplingParams(max_tokens=120))
    next(iter(request))
    del request  # nobody can read it any more
    gc.collect()
    wait_until(lambda: server.stats().active == 0)


def test_full_queue_fails_fast_with_the_busy_error():
    engine = make_engine(slots=2, max_seq_len=2048)
    server = engine.serve(max_queue=1)
    running = [server.submit(p, SamplingParams(max_tokens=2000)) for p in prompts(2)]
    wait_until(lambda: server.stats().active == 2)  # both slots decode (for seconds)
    with engine._lock:  # hold the model: nothing finishes while we look
        queued = server.submit(prompts(1, seed=9)[0], SamplingParams(max_tokens=2))
        with pytest.raises(EngineBusyError, match="engine is busy.*max_queue=1"):
            server.submit(prompts(1, seed=10)[0], SamplingParams(max_tokens=2))
        assert server.stats().waiting == 1
        for r in running:
            r.cancel()
    assert issubclass(EngineBusyError, ModelError)
    assert len(queued.result().tokens) == 2  # the queued one runs once a slot frees


def test_too_long_and_bad_requests_are_refused_at_submit():
    engine = make_engine(max_seq_len=32)
    server = engine.serve()
    with pytest.raises(
        SequenceTooLongError, match=r"prompt of 30 tokens \+ max_tokens 8 = 38 exceeds max_seq_len 32"
    ):
        server.submit([1] * 30, SamplingParams(max_tokens=8))
    with pytest.raises(ValueError, match="at least one token"):
        server.submit([])
    with pytest.raises(ValueError, match="outside the vocabulary"):
        server.submit([1, 10**6])
    assert server.stats().waiting == 0
    assert len(server.submit([1] * 24, SamplingParams(max_tokens=8)).result().tokens) == 8  # exactly fits


def test_stop_tokens_and_strings_work_per_row():
    engine = make_engine()
    server = engine.serve()
    p = prompts(2, seed=11)
    free = [server.submit(q, SamplingParams(max_tokens=12)).result() for q in p]
    stop_id = free[0].tokens[3]
    stop_text = free[1].text[4:6]
    a = server.submit(p[0], SamplingParams(max_tokens=12, stop_token_ids=[stop_id]))
    b = server.submit(p[1], SamplingParams(max_tokens=12, stop=[stop_text]))
    ca, cb = a.result(), b.result()
    assert ca.tokens == free[0].tokens[: free[0].tokens.index(stop_id) + 1]
    assert ca.stop_reason == StopReason.end_of_turn and ca.stop_token_id == stop_id
    assert cb.stop_string == stop_text and cb.text == free[1].text[: free[1].text.index(stop_text)]


def test_no_slot_or_memory_leak_after_1000_short_requests_with_random_cancellations():
    engine = make_engine(slots=3, max_seq_len=64)
    server = engine.serve(max_queue=10_000, idle_exit_s=0.2)
    rng = random.Random(0)
    alive: weakref.WeakSet = weakref.WeakSet()
    finished = cancelled = 0

    def consume(request, cut: int | None) -> None:
        nonlocal finished, cancelled
        for k, _ in enumerate(request):
            if cut is not None and k >= cut:
                request.cancel()
                break
        if request.completion is not None:
            finished += 1
        else:
            cancelled += 1

    pending = []
    for i in range(1000):
        prompt = [1] + [rng.randrange(2, 250) for _ in range(rng.randrange(1, 12))]
        request = server.submit(prompt, SamplingParams(max_tokens=rng.randrange(1, 5)))
        alive.add(request)
        cut = rng.choice([None, None, 0, 1])
        if cut == 0 and rng.random() < 0.5:
            request.cancel()  # cancelled while still waiting for a slot
        pending.append((request, cut))
        if len(pending) >= 8 or i == 999:
            for r, c in pending:
                consume(r, c)
            pending.clear()
    del request, r
    assert finished + cancelled == 1000 and finished > 300 and cancelled > 100
    wait_until(lambda: server.stats().active == 0 and server.stats().waiting == 0)
    stats = server.stats()
    assert stats.finished == 1000
    assert all(n <= engine.max_seq_len for n in stats.cached_tokens)
    wait_until(lambda: not server.stats().thread_alive)  # the idle scheduler thread exits
    gc.collect()
    assert len(alive) == 0  # no request object is kept alive by the engine
    assert not any(s.request for s in server._slots) and not server._waiting


def test_generate_and_stream_run_on_the_serving_core():
    engine = make_engine()
    params = SamplingParams(max_tokens=6)
    ps = prompts(3, seed=12)
    completions = engine.generate(ps, params)
    streamed = [e.token_id for e in engine.stream(ps[0], params)][:-1]
    assert streamed == completions[0].tokens
    assert engine.serve().stats().finished == 4


def test_forward_refuses_rows_in_use_and_forgets_what_it_overwrote():
    engine = make_engine(slots=2)
    server = engine.serve()
    p = prompts(1, seed=13)[0]
    server.submit(p, SamplingParams(max_tokens=3)).result()
    assert server.stats().cached_tokens[0] > 0
    engine.forward([1, 2, 3])
    assert server.stats().cached_tokens[0] == 0
    running = server.submit(p, SamplingParams(max_tokens=50))
    next(iter(running))
    with pytest.raises(ModelError, match="requests in flight"):
        engine.forward([1, 2, 3])
    running.cancel()


def test_thread_chooser_follows_the_faster_count_and_comes_back():
    chooser = ThreadChooser(2, explore_every=4)
    assert chooser.candidates == [2, 1]
    # Each count is measured once, then the faster one runs and the other is tried every 4th call.
    first = [chooser.choose("decode", 1) for _ in range(2)]
    assert first == [2, 2]  # nothing recorded yet: still measuring 2
    chooser.record("decode", 1, 2, 0.050)  # contention: two threads spin at every barrier
    assert chooser.choose("decode", 1) == 1
    chooser.record("decode", 1, 1, 0.010)
    picks = [chooser.choose("decode", 1) for _ in range(8)]
    assert picks.count(1) == 6 and picks.count(2) == 2
    for _ in range(4):  # the other work stopped: two threads measure faster when tried
        chooser.record("decode", 1, 2, 0.004)
    assert chooser.choose("decode", 1) == 2 or chooser.choose("decode", 1) == 2
    assert chooser.choose("decode", 2) == 2  # another batch size is measured on its own
    chooser.record("decode", 1, 2, 0.050)
    chooser.record("decode", 1, 2, 0.050)
    chooser.choose("decode", 1)
    assert chooser.decode_best == 1 and chooser.choose("prefill", 256) == 1  # prefill follows decode
    assert ThreadChooser(4).candidates == [4, 2, 1]
    assert ThreadChooser(1).candidates == [1] and ThreadChooser(8, fixed=True).candidates == [8]


def test_fixed_and_adaptive_threads_are_applied_to_model_calls():
    engine = make_engine()
    server = engine.serve(threads=1)
    server.submit(prompts(1)[0], SamplingParams(max_tokens=4)).result()
    assert server.stats().threads == 1
    with pytest.raises(ValueError, match="threads must be >= 0"):
        server.configure(threads=-1)
    server.configure(threads=0)  # adaptive again: every candidate gets measured
    server.submit(prompts(1, seed=2)[0], SamplingParams(max_tokens=8)).result()
    if torch.get_num_threads() > 1:
        assert any(key.startswith("decode/1/") for key in server.stats().thread_estimates)
    else:  # OMP_NUM_THREADS=1: one candidate, nothing to choose or measure
        assert server.stats().thread_estimates == {} and server.stats().threads == 1


def test_shutdown_ends_every_reader_and_a_new_server_replaces_it():
    engine = make_engine(slots=1, max_seq_len=512)
    server = engine.serve()
    running = server.submit(prompts(1)[0], SamplingParams(max_tokens=400))
    waiting = server.submit(prompts(1, seed=2)[0], SamplingParams(max_tokens=4))
    next(iter(running))
    server.shutdown()
    assert list(running) == [] and list(waiting) == []
    assert not server.stats().thread_alive and server.stats().active == 0
    with pytest.raises(ModelError, match="shut down"):
        server.submit([1, 2])
    assert engine.serve() is not server  # engine.serve() makes a new one
    assert len(engine.generate([[1, 2, 3]], SamplingParams(max_tokens=2))[0].tokens) == 2


def test_the_c_step_decodes_only_the_busy_cache_rows(monkeypatch):
    """A request left alone in slot 2 decodes one row into cache row 2 (not rows 0..2 with two idle
    ones), and gives the tokens it gives alone in slot 0; the stats count rows and model time."""
    engine = make_engine(slots=3, max_seq_len=256)
    calls = []
    step = engine.cpu_step

    def recording(tokens, positions, rows=None):
        calls.append((tokens.shape[0], None if rows is None else rows.tolist()))
        return step(tokens, positions, rows)

    monkeypatch.setattr(engine, "cpu_step", recording)
    server = engine.serve()
    short, long = SamplingParams(max_tokens=2), SamplingParams(max_tokens=24)
    p = prompts(3, seed=5)
    alone = cold(server, p[2], long)
    server.forget_cache()
    calls.clear()
    requests = [server.submit(p[0], short), server.submit(p[1], short), server.submit(p[2], long)]
    assert requests[2].result().tokens == alone
    assert [r._state.slot for r in requests] == [0, 1, 2]
    assert (1, [2]) in calls  # slot 2 alone after the short ones ended
    assert all(n == (len(rows) if rows else n) for n, rows in calls)
    stats = server.stats()
    assert stats.decode_rows >= 23 + 2 and 0 < stats.decode_model_s <= stats.decode_step_s


def test_the_c_step_writes_the_cache_rows_it_is_given():
    """rows=[2, 0] decodes entry 0 into cache row 2 and entry 1 into row 0: the same logits as the
    same tokens at the same positions in rows 0 and 1; repeated or out-of-range rows are refused."""
    engine = make_engine(slots=3, max_seq_len=64)
    step, model = engine.cpu_step, engine.model
    p = prompts(2, seed=6)
    with torch.inference_mode():
        for row, prompt in enumerate(p):
            n = len(prompt)
            model(torch.tensor([prompt]), torch.arange(n)[None], row_start=row, kv_len=n, exact=True)
        tokens, positions = torch.tensor([5, 6]), torch.tensor([len(p[0]), len(p[1])])
        plain = step(tokens, positions)
        for layer in model.layers:  # move row 0's cache to row 2 and row 1's to row 0
            for cache in (layer.attention.cache_k, layer.attention.cache_v):
                cache[2] = cache[0]
                cache[0] = cache[1]
        moved = step(tokens, positions, torch.tensor([2, 0]))
        assert torch.equal(plain, moved)
        for bad in ([1, 1], [0, 3], [-1, 0]):
            with pytest.raises(ValueError, match="cache rows"):
                step(tokens, positions, torch.tensor(bad))


class FakeGraphs:
    """Stands in for `DecodeGraphs` on the CPU (buckets 1, 2, 4): a step must be a whole bucket, every
    row of it (padding included) at the position one past what its slot holds, so no replay writes a
    key/value over a cached prefix or a prompt being prefilled; it runs the eager step over the whole
    cache with the position mask, as the captured graph does."""

    def __init__(self, engine: Engine) -> None:
        self.engine, self.buckets, self.calls = engine, [1, 2, 4], []

    def bucket(self, n: int) -> int:
        return next(b for b in self.buckets if b >= n)

    def step(self, tokens, positions):
        n = tokens.shape[0]
        assert n in self.buckets, f"a step over {n} rows is not a whole bucket"
        held = [len(slot.cached) for slot in self.engine._server._slots[:n]]
        assert positions.tolist() == held, (positions.tolist(), held)
        self.calls.append(n)
        return self.engine._eager_step(tokens, positions, self.engine.max_seq_len, False)


def test_the_cuda_graph_path_replays_whole_buckets_with_idle_rows_where_they_write_nothing_held():
    """The scheduler logic of the CUDA-graph path, on the CPU: rows at different positions and idle
    rows (free slots with cached prefixes, a prompt prefilled in chunks) share bucketed steps, and every
    greedy request gives the tokens it gives alone on the plain PyTorch step."""
    plain = make_engine(max_seq_len=256, cpu_kernels=False)
    engine = make_engine(max_seq_len=256, cpu_kernels=False)
    graphs = engine.graphs = FakeGraphs(engine)
    server = engine.serve(prefill_chunk=8)
    params = SamplingParams(max_tokens=10)
    p = prompts(3, seed=7)
    first = [server.submit(q, params) for q in p]  # 3 rows decode in bucket 4: row 3 pads
    done = [r.result().tokens for r in first]
    assert done == [cold(plain.serve(), q, params) for q in p]
    # Next turns: each reuses its slot's prefix; a long new prompt prefills in chunks beside them.
    later = [q + t + [40, 41, 42] for q, t in zip(p, done, strict=True)] + [prompts(1, seed=8)[0] * 3]
    requests = [server.submit(q, params) for q in later]
    assert [r.result().tokens for r in requests] == [cold(plain.serve(), q, params) for q in later]
    assert requests[0].reused_tokens > 0 and set(graphs.calls) <= {1, 2, 4} and 4 in graphs.calls
