"""`llamasys bench serve`: the serving engine under load — continuous batching, prefix reuse, contention.

    llamasys bench serve --model smollm2-135m-instruct --json
    llamasys bench serve --contention 1 --json        # the whole run beside one busy-looping process

Everything is measured in one run against a baseline of the same run, with the load average next to
every figure (this machine may be shared):

- `concurrency`: for N = 1, 4, 8 (`--streams`), N greedy requests with distinct prompts submitted at
  once to `engine.serve()`, against the same N requests served one at a time. Per side: aggregate
  tokens/s (all tokens / wall time), aggregate decode tokens/s (tokens generated while every stream was
  decoding / that time; one at a time: tokens after each first token / decode time), time to first token
  and inter-token latency p50/p95; `speedup` = batched / one-at-a-time aggregate decode tokens/s.
  Beside them, where the time of a step goes: `engine_step` times the engine's own decode step over N
  rows called directly (no scheduler), and each side's `steps` says how long its scheduler's decode
  steps took inside the model call and in all (inputs, model call, sampling, events), per step.
- `agent`: an agent-shaped conversation: a `--agent-prompt` token prompt, then four steps, each adding
  the reply and `--agent-step` new tokens; time to first token of steps 2-5 with prefix reuse against
  the same steps with the cache forgotten before each (`ratio` = with / without).
- `llama_cpp`: llama-cpp-python's server (`python -m llama_cpp.server`, in a subprocess, on the same
  GGUF) sent the 4-stream run's prompts (as text) at once, greedy, exactly `--new-tokens` each, when
  llama-cpp-python is installed; otherwise why not. Never fatal. That server runs one request at a time
  (no slots; see `LLAMA_CPP_SERVER`), so its 4 streams queue: `streams_decoding_at_once` says how many
  it decoded together (1), `aggregate_tok_s` is what the 4 concurrent clients got (all tokens / wall),
  and `targets.aggregate_4_streams_vs_llama_cpp` is ours batched over that.
- `contention`: one stream's decode tokens/s on the C step and on the PyTorch path, idle and then with
  `--contention K` busy-looping processes (at least 1 for this section), with the adaptive thread
  count and with all threads fixed; `kept` = busy / idle. The same for llama.cpp's server on all
  threads (`llama_cpp`, unless `--no-llama-cpp`).

`--threads N` fixes the CPU threads of every model call (the serving engine's and `engine_step`'s) at N;
0 (the default) lets the serving engine adapt them (`ThreadChooser`) and times `engine_step` on all of
PyTorch's threads.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from typing import Any

import typer

__all__ = ["SECTIONS", "bench_serve", "run_serve_benchmark"]

SECTIONS = ("concurrency", "agent", "llama_cpp", "contention")


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def _progress(message: str) -> None:
    print(f"bench serve: {message} (load average {_load()[0]})", file=sys.stderr, flush=True)


@contextmanager
def _busy_processes(k: int):
    """K processes that spin on a core each (`while True: pass`) for the duration."""
    procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(k)]
    try:
        time.sleep(0.5 if k else 0)
        yield
    finally:
        for p in procs:
            p.kill()
        for p in procs:
            p.wait()


def _prompt(rng: random.Random, n: int, vocab: int, bos: int | None) -> list[int]:
    ids = [rng.randrange(200, min(vocab, 20_000)) for _ in range(n)]
    return ([bos] if bos is not None else []) + ids[: n - (bos is not None)]


async def _consume(request: Any, t0: float) -> dict[str, Any]:
    times = []
    async for event in request:
        if event.token_id is not None:
            times.append(time.perf_counter())
    return {"submitted": t0, "times": times, "completion": request.completion}


def _percentiles(values: list[float]) -> dict[str, float] | None:
    from .timing import percentiles

    return percentiles(values) if values else None


def _summarise(runs: list[dict[str, Any]], wall: float, concurrent: bool) -> dict[str, Any]:
    tokens = sum(len(r["times"]) for r in runs)
    ttft = [r["times"][0] - r["submitted"] for r in runs if r["times"]]
    gaps = [b - a for r in runs for a, b in zip(r["times"], r["times"][1:], strict=False)]
    if concurrent:  # while every stream decodes: from the last first token to the last token
        start = max(r["times"][0] for r in runs)
        end = max(r["times"][-1] for r in runs)
        decoded = sum(sum(1 for t in r["times"] if start < t <= end) for r in runs)
        decode = decoded / (end - start) if end > start else 0.0
    else:
        decoded = sum(len(r["times"]) - 1 for r in runs)
        spent = sum(r["times"][-1] - r["times"][0] for r in runs)
        decode = decoded / spent if spent > 0 else 0.0
    return {
        "tokens": tokens,
        "wall_s": round(wall, 3),
        "aggregate_tok_s": round(tokens / wall, 2),
        "aggregate_decode_tok_s": round(decode, 2),
        "ttft": _percentiles(ttft),
        "inter_token": _percentiles(gaps),
        "load_avg": _load(),
    }


def _engine_step(engine: Any, rows: int, position: int, repeats: int = 8) -> dict[str, Any]:
    """The engine's own decode step over `rows` cache rows at about `position`, called directly (what a
    scheduler step costs at the least): median and best wall ms per step, CPU ms per step."""
    import torch

    tokens = torch.full((rows,), 200, dtype=torch.long, device=engine.device)
    positions = torch.arange(position, position + rows, dtype=torch.long, device=engine.device)
    kv_len = min(engine.max_seq_len, -(-(position + rows) // 256) * 256)
    server = engine.serve()
    with engine._lock, torch.inference_mode():
        server.forget_cache(rows)  # the step writes these rows' caches
        engine._decode(tokens, positions, kv_len)  # warm-up
        wall, cpu = [], []
        for _ in range(repeats):
            w, c = time.perf_counter(), time.process_time()
            engine._decode(tokens, positions, kv_len)
            wall.append(time.perf_counter() - w)
            cpu.append(time.process_time() - c)
    wall.sort()
    return {
        "rows": rows,
        "threads": torch.get_num_threads(),
        "wall_ms_p50": round(wall[len(wall) // 2] * 1e3, 2),
        "wall_ms_min": round(wall[0] * 1e3, 2),
        "cpu_ms_mean": round(sum(cpu) / len(cpu) * 1e3, 2),
        "load_avg": _load(),
    }


def _step_times(server: Any, before: Any) -> dict[str, Any]:
    """The scheduler's decode steps since `before` (a ServingStats): per step, ms inside the model call
    and ms in all; rows per step."""
    after = server.stats()
    steps = after.steps - before.steps
    if steps <= 0:
        return {"steps": 0}
    return {
        "steps": steps,
        "rows_per_step": round((after.decode_rows - before.decode_rows) / steps, 2),
        "model_ms_per_step": round((after.decode_model_s - before.decode_model_s) / steps * 1e3, 2),
        "step_ms_per_step": round((after.decode_step_s - before.decode_step_s) / steps * 1e3, 2),
    }


def _concurrency(engine: Any, streams: list[int], new_tokens: int, prompt_tokens: int, seed: int) -> list:
    from llamasys.core_model import SamplingParams

    server = engine.serve()
    params = SamplingParams(max_tokens=new_tokens)
    vocab, bos = engine.args.vocab_size, getattr(engine.tokenizer, "bos_id", None)
    out = []
    for n in streams:
        _progress(f"{n} concurrent streams, then one at a time")
        rng = random.Random(seed + n)
        prompts = [_prompt(rng, prompt_tokens, vocab, bos) for _ in range(n)]

        async def together(prompts=prompts) -> list[dict[str, Any]]:
            t0 = time.perf_counter()
            return await asyncio.gather(*(_consume(server.submit(p, params), t0) for p in prompts))

        async def one_by_one(prompts=prompts) -> list[dict[str, Any]]:
            runs = []
            for p in prompts:
                runs.append(await _consume(server.submit(p, params), time.perf_counter()))
            return runs

        step = _engine_step(engine, n, prompt_tokens + new_tokens // 2)
        server.forget_cache()
        before, start = server.stats(), time.perf_counter()
        batched = _summarise(asyncio.run(together()), time.perf_counter() - start, concurrent=n > 1)
        batched["steps"] = _step_times(server, before)
        server.forget_cache()
        before, start = server.stats(), time.perf_counter()
        single = _summarise(asyncio.run(one_by_one()), time.perf_counter() - start, concurrent=False)
        single["steps"] = _step_times(server, before)
        server.forget_cache()
        speedup = batched["aggregate_decode_tok_s"] / max(single["aggregate_decode_tok_s"], 1e-9)
        out.append(
            {
                "streams": n,
                "engine_step": step,
                "batched": batched,
                "one_at_a_time": single,
                "speedup": round(speedup, 2),
            }
        )
    return out


def _agent(engine: Any, prompt_tokens: int, step_tokens: int, reply_tokens: int, seed: int) -> dict[str, Any]:
    from llamasys.core_model import SamplingParams

    server = engine.serve()
    params = SamplingParams(max_tokens=reply_tokens)
    rng = random.Random(seed)
    vocab, bos = engine.args.vocab_size, getattr(engine.tokenizer, "bos_id", None)
    first = _prompt(rng, prompt_tokens, vocab, bos)
    news = [[rng.randrange(200, min(vocab, 20_000)) for _ in range(step_tokens)] for _ in range(4)]
    sides: dict[str, Any] = {}
    for side in ("without_reuse", "with_reuse"):
        _progress(f"agent-shaped conversation, {side.replace('_', ' ')}")
        server.forget_cache()
        prompt, steps = list(first), []
        for k in range(5):
            if side == "without_reuse":
                server.forget_cache()
            t0 = time.perf_counter()
            request = server.submit(prompt, params)
            events = iter(request)
            next(events)
            ttft = time.perf_counter() - t0
            completion = request.result()
            steps.append(
                {
                    "step": k + 1,
                    "prompt_tokens": len(prompt),
                    "reused_tokens": request.reused_tokens,
                    "reply_tokens": len(completion.tokens),
                    "ttft_s": round(ttft, 4),
                    "load_avg": _load(),
                }
            )
            if k < 4:
                prompt = prompt + completion.tokens + news[k]
        sides[side] = steps
    later = [sum(s["ttft_s"] for s in sides[side][1:]) for side in ("with_reuse", "without_reuse")]
    return sides | {"ttft_steps_2_5_ratio": round(later[0] / max(later[1], 1e-9), 4)}


def _decode_rate(server: Any, prompt: list[int], params: Any, threads: int, cap_s: float) -> dict[str, Any]:
    """One stream's decode tokens/s with `threads` (0: adaptive); stops after `cap_s` seconds."""
    server.configure(threads=threads)
    server.forget_cache()
    request = server.submit(prompt, params)
    times, start = [], time.perf_counter()
    for event in request:
        if event.token_id is not None:
            times.append(time.perf_counter())
        if time.perf_counter() - start > cap_s:  # a starved configuration: enough to say how slow
            request.cancel()
            break
    while server.stats().active:  # a cancelled request leaves its slot at the next step
        time.sleep(0.01)
    rate = (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 else 0.0
    return {
        "decode_tok_s": round(rate, 2),
        "tokens": len(times),
        "threads_last": server.stats().threads,
        "load_avg": _load(),
    }


def _gguf_of(engine: Any) -> str | None:
    source = getattr(engine, "source", None)
    return str(source) if source and str(source).endswith(".gguf") else None


def _as_text(engine: Any, ids: list[int]) -> str:
    """A prompt of token ids as text for a server that takes text (llama.cpp's tokenizes it back; BOS is
    its own to add)."""
    bos = getattr(engine.tokenizer, "bos_id", None)
    return engine.tokenizer.decode([i for i in ids if i != bos])


def _contention(
    model: str, quantization: str | None, k: int, new_tokens: int, cap_s: float, llama_cpp: bool = True
) -> dict[str, Any]:
    import torch

    from llamasys.core_model import SamplingParams, load_model

    most = torch.get_num_threads()
    out: dict[str, Any] = {"busy_processes": max(k, 1), "cpu_count": os.cpu_count(), "all_threads": most}
    params = SamplingParams(max_tokens=new_tokens)
    for path, cpu_kernels in (("c_step", None), ("pytorch", False)):
        _progress(f"contention: {path}, idle then beside {max(k, 1)} busy process(es)")
        engine = load_model(
            model, quantization=quantization, max_seq_len=1024, max_batch_size=1, cpu_kernels=cpu_kernels
        )
        if cpu_kernels is None and engine.cpu_step is None:
            out[path] = {"skipped": "the C decode step is not available here"}
            continue
        server = engine.serve()
        prompt = _prompt(
            random.Random(1), 64, engine.args.vocab_size, getattr(engine.tokenizer, "bos_id", None)
        )

        server.submit(prompt, SamplingParams(max_tokens=4)).result()  # warm-up
        result = {
            "idle_adaptive": _decode_rate(server, prompt, params, 0, cap_s),
            "idle_all_threads": _decode_rate(server, prompt, params, most, cap_s),
        }
        with _busy_processes(max(k, 1)):
            result["busy_adaptive"] = _decode_rate(server, prompt, params, 0, cap_s)
            result["busy_all_threads"] = _decode_rate(server, prompt, params, most, cap_s)
        idle = max(result["idle_adaptive"]["decode_tok_s"], result["idle_all_threads"]["decode_tok_s"])
        result["kept_adaptive"] = round(result["busy_adaptive"]["decode_tok_s"] / max(idle, 1e-9), 3)
        result["kept_all_threads"] = round(result["busy_all_threads"]["decode_tok_s"] / max(idle, 1e-9), 3)
        out[path] = result
        server.shutdown()
    if llama_cpp:  # the same prompt and tokens on llama.cpp's server, on all threads
        _progress(f"contention: llama.cpp's server, idle then beside {max(k, 1)} busy process(es)")
        prompt = _prompt(
            random.Random(1), 64, engine.args.vocab_size, getattr(engine.tokenizer, "bos_id", None)
        )
        out["llama_cpp"] = _llama_cpp_contention(
            _gguf_of(engine), _as_text(engine, prompt), max(k, 1), new_tokens, most
        )
    return out


# What llama-cpp-python's server (`python -m llama_cpp.server`, 0.3.x) is, read from its source
# (llama_cpp/server/app.py): one `Llama` object per model behind a lock (`get_llama_proxy`'s two anyio
# locks), so it runs ONE request at a time -- no slots, no batching of streams; concurrent requests wait.
# And by default (`interrupt_requests=True`) a streaming request is cut off as soon as another one is
# waiting for the lock: the server sends `data: [DONE]` and cancels the response without the final empty
# chunk, which a client sees as "peer closed connection without sending complete message body
# (incomplete chunked read)". With four concurrent streams every stream but the last was cut that way.
# The bench therefore starts it with `--interrupt_requests False` and measures what it does: it queues.
# The wheel ships libllama/libggml only, not the C++ `llama-server` (which has real parallel slots).
LLAMA_CPP_SERVER = (sys.executable, "-m", "llama_cpp.server")

_LLAMA_CPP_CLIENT = r"""
import asyncio, json, sys, time, httpx
job = json.load(sys.stdin)
url, tokens = job["url"], job["new_tokens"]
async def one(client, prompt):
    # min_tokens = max_tokens: every request generates exactly `tokens` tokens, like the engine's side
    body = {"prompt": prompt, "max_tokens": tokens, "min_tokens": tokens, "temperature": 0, "stream": True}
    t0 = time.perf_counter(); times = []; finish = None
    try:
        async with client.stream("POST", url + "/v1/completions", json=body) as r:
            if r.status_code != 200:
                await r.aread()
                return {"submitted": t0, "times": times, "error": f"HTTP {r.status_code}: {r.text[:200]}"}
            async for line in r.aiter_lines():
                if not line.startswith("data: ") or line == "data: [DONE]":
                    continue
                choice = json.loads(line[6:])["choices"][0]
                if choice.get("finish_reason") is None:  # one chunk per generated token
                    times.append(time.perf_counter())
                else:
                    finish = choice["finish_reason"]
    except httpx.HTTPError as exc:
        return {"submitted": t0, "times": times, "error": f"{type(exc).__name__}: {exc}"}
    return {"submitted": t0, "times": times, "finish_reason": finish}
async def main():
    async with httpx.AsyncClient(timeout=httpx.Timeout(job["timeout_s"])) as client:
        t0 = time.perf_counter()
        runs = await asyncio.gather(*(one(client, p) for p in job["prompts"]))
        print(json.dumps({"runs": runs, "wall": time.perf_counter() - t0}))
asyncio.run(main())
"""


def _most_at_once(runs: list[dict[str, Any]]) -> int:
    """How many requests were streaming tokens at the same moment at most: the largest overlap of the
    intervals [first token, last token]. 1 means the server served them one after another."""
    edges = sorted(
        edge for r in runs if r["times"] for edge in ((r["times"][0], 1), (r["times"][-1], -1))
    )  # at a tie the end (-1) sorts first: touching intervals do not overlap
    most = now = 0
    for _, step in edges:
        now += step
        most = max(most, now)
    return most


def _llama_cpp_summary(data: dict[str, Any], new_tokens: int) -> dict[str, Any]:
    """The client's raw runs as the engine's sides are summarised, plus how many streams llama.cpp decoded
    at once and what failed. The decode figure of a server that never overlaps streams is its one-at-a-time
    rate: all tokens after each first token / all decode time."""
    runs = data["runs"]
    errors = [r["error"] for r in runs if r.get("error")]
    complete = [r for r in runs if r["times"]]
    at_once = _most_at_once(complete)
    out: dict[str, Any] = {"streams": len(runs), "requests_complete": len(runs) - len(errors)}
    if errors:
        out["errors"] = errors
    if not complete:
        return out | {"error": errors[0] if errors else "no tokens came back"}
    out |= _summarise(complete, data["wall"], concurrent=at_once > 1)
    out["streams_decoding_at_once"] = at_once
    out["tokens_expected"] = new_tokens * len(runs)
    return out


class LlamaCppServer:
    """llama-cpp-python's server on `gguf` in a subprocess on 127.0.0.1 (a free port), as a context manager;
    `run(prompts, new_tokens)` sends the prompts at once as streaming completions and returns the
    summary (`_llama_cpp_summary`). `command` replaces `python -m llama_cpp.server` (the tests use a
    stand-in speaking the same flags and protocol). Raises RuntimeError when the server exits or does
    not listen within `start_timeout_s`, with the tail of its log."""

    def __init__(
        self,
        gguf: str,
        threads: int,
        *,
        n_ctx: int = 2048,
        command: tuple[str, ...] = LLAMA_CPP_SERVER,
        start_timeout_s: float = 120.0,
        request_timeout_s: float = 600.0,
    ) -> None:
        self.gguf, self.threads, self.n_ctx = gguf, threads, n_ctx
        self.command, self.start_timeout_s, self.request_timeout_s = (
            command,
            start_timeout_s,
            request_timeout_s,
        )
        self.port = 0
        self._process: subprocess.Popen | None = None
        self._log: Any = None

    def argv(self, port: int) -> list[str]:
        """The server's command line. One sequence of `n_ctx` tokens is all it uses (it runs one request
        at a time); `--interrupt_requests False` makes a waiting request queue instead of cutting off the
        stream in flight (see LLAMA_CPP_SERVER's comment); `--logits_all False` spares it the logits of
        every prompt position (its default, kept for logprobs, which the bench does not ask for): with
        it, the output layer would run over the whole prompt and the prefill would be slower than
        llama.cpp's own."""
        return [*self.command, "--model", self.gguf, "--host", "127.0.0.1", "--port", str(port)] + [
            "--n_threads", str(self.threads), "--n_threads_batch", str(self.threads),
            "--n_ctx", str(self.n_ctx), "--interrupt_requests", "False", "--logits_all", "False",
            "--verbose", "False",
        ]  # fmt: skip

    def __enter__(self) -> LlamaCppServer:
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        # llama.cpp logs tens of KB while it loads: into a file, since an unread pipe fills and stalls it
        self._log = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 - closed in __exit__
        self._process = subprocess.Popen(
            self.argv(self.port), stdout=self._log, stderr=subprocess.STDOUT, text=True
        )
        try:
            deadline = time.monotonic() + self.start_timeout_s
            while True:
                if self._process.poll() is not None:
                    raise RuntimeError(
                        f"llama_cpp.server exited ({self._process.returncode}): {self.log_tail()}"
                    )
                try:
                    with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                        return self
                except OSError:
                    if time.monotonic() > deadline:
                        raise RuntimeError(
                            f"llama_cpp.server did not listen within {self.start_timeout_s:.0f} s: {self.log_tail()}"
                        ) from None
                    time.sleep(0.2)
        except BaseException:
            self.__exit__(None, None, None)
            raise

    def __exit__(self, *exc: Any) -> None:
        if self._process is not None:
            self._process.kill()
            self._process.wait()
            self._process = None
        if self._log is not None:
            self._log.close()
            self._log = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def run(self, prompts: list[str], new_tokens: int) -> dict[str, Any]:
        """Send `prompts` at once (greedy, exactly `new_tokens` tokens each) from a client subprocess and
        summarise what came back; a request the server dropped is listed under `errors`."""
        job = {
            "url": self.url,
            "prompts": prompts,
            "new_tokens": new_tokens,
            "timeout_s": self.request_timeout_s,
        }
        client = subprocess.run(
            [sys.executable, "-c", _LLAMA_CPP_CLIENT],
            input=json.dumps(job),
            capture_output=True,
            text=True,
            timeout=self.request_timeout_s * len(prompts) + 60,
        )
        if client.returncode != 0:
            raise RuntimeError(f"the llama.cpp client failed: {client.stderr[-500:]}")
        return _llama_cpp_summary(json.loads(client.stdout), new_tokens)

    def log_tail(self, chars: int = 500) -> str:
        if self._log is None:
            return ""
        self._log.flush()
        self._log.seek(0)
        return self._log.read()[-chars:]


def _llama_cpp_unavailable(gguf: str | None) -> dict[str, Any] | None:
    if importlib.util.find_spec("llama_cpp") is None:
        return {
            "available": False,
            "reason": "llama-cpp-python is not installed (pip install 'llama-cpp-python[server]')",
        }
    if gguf is None:
        return {"available": False, "reason": "the model is not a GGUF file"}
    return None


def _llama_cpp_server(
    gguf: str | None,
    prompts: list[str],
    new_tokens: int,
    threads: int,
    command: tuple[str, ...] | None = None,
) -> dict[str, Any]:
    """llama.cpp's server on the same GGUF in a subprocess, the prompts sent as concurrent streams.
    Never raises: a failure is reported under `error`."""
    if command is None and (why := _llama_cpp_unavailable(gguf)):
        return why
    try:
        with LlamaCppServer(str(gguf), threads, command=command or LLAMA_CPP_SERVER) as server:
            server.run(["Warm up."], 2)  # its first call sets up buffers; a prompt none of the others share
            result = server.run(prompts, new_tokens)
        return {
            "available": True,
            "server": "llama_cpp.server (llama-cpp-python)",
            "threads": threads,
        } | result
    except Exception as exc:  # a benchmark of someone else's server must never end ours
        return {"available": True, "error": f"{type(exc).__name__}: {exc}"}


def _llama_cpp_contention(
    gguf: str | None,
    prompt: str,
    k: int,
    new_tokens: int,
    threads: int,
    command: tuple[str, ...] | None = None,
) -> dict[str, Any]:
    """One stream's decode tokens/s on llama.cpp's server idle and beside `k` busy processes (the same
    server process for both); `kept` = busy / idle. Never raises."""
    if command is None and (why := _llama_cpp_unavailable(gguf)):
        return why
    try:
        with LlamaCppServer(str(gguf), threads, command=command or LLAMA_CPP_SERVER) as server:
            server.run(["Warm up."], 2)
            idle = server.run([prompt], new_tokens)
            with _busy_processes(k):
                busy = server.run([prompt], new_tokens)
    except Exception as exc:  # never fatal, as above
        return {"available": True, "error": f"{type(exc).__name__}: {exc}"}
    rate = {side: r.get("aggregate_decode_tok_s", 0.0) for side, r in (("idle", idle), ("busy", busy))}
    return {
        "available": True,
        "threads": threads,
        "idle": idle,
        "busy": busy,
        "kept": round(rate["busy"] / max(rate["idle"], 1e-9), 3),
    }


def run_serve_benchmark(
    model: str = "smollm2-135m-instruct",
    *,
    quantization: str | None = "int8",
    streams: tuple[int, ...] = (1, 4, 8),
    new_tokens: int = 32,
    prompt_tokens: int = 64,
    agent_prompt: int = 1000,
    agent_step: int = 60,
    contention: int = 0,
    contention_section: bool = True,
    llama_cpp: bool = True,
    seed: int = 0,
    sections: tuple[str, ...] = SECTIONS,
    threads: int = 0,
) -> dict[str, Any]:
    """The whole report (see the module docstring). With `contention` > 0 the whole run happens beside
    that many busy-looping processes; the contention section always compares idle with busy. `sections`:
    which of "concurrency", "agent", "llama_cpp", "contention" to run; each one's result is also printed
    to stderr as it completes (a run cut short keeps what it measured). `threads`: CPU threads of every
    model call, 0 = the serving engine adapts them."""
    if threads < 0:
        raise ValueError(f"threads must be >= 0 (0 = adaptive), got {threads}")
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        raise ValueError(f"unknown sections {sorted(unknown)}: choose from {', '.join(SECTIONS)}")
    import torch

    all_threads = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        return _run(
            model,
            quantization=quantization,
            streams=streams,
            new_tokens=new_tokens,
            prompt_tokens=prompt_tokens,
            agent_prompt=agent_prompt,
            agent_step=agent_step,
            contention=contention,
            contention_section=contention_section,
            llama_cpp=llama_cpp,
            seed=seed,
            sections=sections,
            threads=threads,
        )
    finally:
        torch.set_num_threads(all_threads)  # the caller's process keeps its own setting


def _run(
    model: str,
    *,
    quantization: str | None,
    streams: tuple[int, ...],
    new_tokens: int,
    prompt_tokens: int,
    agent_prompt: int,
    agent_step: int,
    contention: int,
    contention_section: bool,
    llama_cpp: bool,
    seed: int,
    sections: tuple[str, ...],
    threads: int,
) -> dict[str, Any]:
    import torch

    from llamasys.core_model import load_model

    report: dict[str, Any] = {
        "model": model,
        "quantization": quantization,
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "threads": threads or "adaptive",
        "load_avg_start": _load(),
        "contention": contention,
    }
    engine = load_model(model, quantization=quantization, max_seq_len=2048, max_batch_size=max(streams))
    engine.serve(threads=threads)
    report["decode_path"] = (
        "c_step" if engine.cpu_step is not None else ("cuda" if engine.device.type == "cuda" else "pytorch")
    )
    with _busy_processes(contention):
        if "concurrency" in sections:
            report["concurrency"] = _concurrency(engine, list(streams), new_tokens, prompt_tokens, seed)
            _progress("concurrency: " + json.dumps(report["concurrency"]))
        if "agent" in sections:
            report["agent"] = _agent(engine, agent_prompt, agent_step, 8, seed)
            _progress("agent: " + json.dumps(report["agent"]))
        if llama_cpp and "llama_cpp" in sections:
            _progress("llama.cpp's server")
            # the prompts of the concurrency run's 4 streams, as text
            rng = random.Random(seed + 4)
            vocab, bos = engine.args.vocab_size, getattr(engine.tokenizer, "bos_id", None)
            prompts = [_as_text(engine, _prompt(rng, prompt_tokens, vocab, bos)) for _ in range(4)]
            report["llama_cpp"] = _llama_cpp_server(
                _gguf_of(engine), prompts, new_tokens, torch.get_num_threads()
            )
        else:
            report["llama_cpp"] = {"available": False, "reason": "--no-llama-cpp"}
    engine.serve().shutdown()
    del engine
    if contention_section and "contention" in sections:
        report["contention_decode"] = _contention(
            model, quantization, contention, new_tokens, cap_s=20.0, llama_cpp=llama_cpp
        )
        _progress("contention: " + json.dumps(report["contention_decode"]))
    four = next((r for r in report.get("concurrency", []) if r["streams"] == 4), None)
    theirs = report["llama_cpp"].get("aggregate_tok_s")
    report["targets"] = {
        "decode_4_streams_vs_one_at_a_time": four["speedup"] if four else None,
        # all tokens / wall time of the same 4 concurrent requests, ours batched against llama.cpp's server
        "aggregate_4_streams_vs_llama_cpp": round(four["batched"]["aggregate_tok_s"] / theirs, 3)
        if four and theirs
        else None,
        "ttft_steps_2_5_with_vs_without_reuse": report.get("agent", {}).get("ttft_steps_2_5_ratio"),
        "contention_kept_c_step": report.get("contention_decode", {}).get("c_step", {}).get("kept_adaptive"),
        "contention_kept_pytorch": report.get("contention_decode", {})
        .get("pytorch", {})
        .get("kept_adaptive"),
        "contention_kept_llama_cpp": report.get("contention_decode", {}).get("llama_cpp", {}).get("kept"),
    }
    report["load_avg_end"] = _load()
    return report


def bench_serve(
    model: str = typer.Option("smollm2-135m-instruct", help="Catalogue id, checkpoint folder or .gguf file."),
    quantization: str = typer.Option("int8", help="int8, fp8, fp8-all or none."),
    streams: str = typer.Option("1,4,8", help="Concurrent stream counts, comma-separated."),
    new_tokens: int = typer.Option(32, min=2, help="Tokens generated per request."),
    prompt_tokens: int = typer.Option(64, min=2, help="Prompt length of the concurrency runs."),
    agent_prompt: int = typer.Option(1000, min=2, help="First prompt of the agent-shaped conversation."),
    agent_step: int = typer.Option(60, min=1, help="New tokens each later agent step adds."),
    contention: int = typer.Option(0, min=0, help="Busy-looping processes running beside the whole run."),
    no_contention_section: bool = typer.Option(False, "--no-contention-section", help="Skip idle-vs-busy."),
    no_llama_cpp: bool = typer.Option(False, "--no-llama-cpp", help="Skip llama.cpp's server."),
    only: str = typer.Option(",".join(SECTIONS), help="Sections to run, comma-separated."),
    threads: int = typer.Option(
        0, min=0, help="CPU threads of every model call; 0 = the serving engine adapts them to contention."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print only the JSON report."),
) -> None:
    """The serving engine under load: N concurrent streams, prefix reuse over an agent's steps, llama.cpp's
    server, and decode speed beside busy processes — all in one run, with the load average."""
    try:
        levels = tuple(int(n) for n in streams.split(",") if n.strip())
    except ValueError:
        raise typer.BadParameter(f"--streams takes numbers separated by commas, not {streams!r}") from None
    if not levels or min(levels) < 1:
        raise typer.BadParameter("--streams needs at least one count >= 1")
    report = run_serve_benchmark(
        model,
        quantization=None if quantization == "none" else quantization,
        streams=levels,
        new_tokens=new_tokens,
        prompt_tokens=prompt_tokens,
        agent_prompt=agent_prompt,
        agent_step=agent_step,
        contention=contention,
        contention_section=not no_contention_section,
        llama_cpp=not no_llama_cpp,
        sections=tuple(x.strip() for x in only.split(",") if x.strip()),
        threads=threads,
    )
    if not as_json:
        t = report["targets"]
        typer.echo(
            f"4 streams {t['decode_4_streams_vs_one_at_a_time']}x one at a time; agent steps 2-5 TTFT "
            f"{t['ttft_steps_2_5_with_vs_without_reuse']}x without reuse; decode kept under contention: "
            f"C {t['contention_kept_c_step']}, PyTorch {t['contention_kept_pytorch']}",
            err=True,
        )
    typer.echo(json.dumps(report, indent=2))
