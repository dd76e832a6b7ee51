"""Engine benchmark: this engine against transformers' `generate` on the same weights, in one run.

    >>> report = run_engine_benchmark("smollm2-135m-instruct", quantization="int8", new_tokens=128)
    >>> report["ratios"]["decode_vs_transformers"], report["ratios"]["decode_vs_roofline"]

Measured, greedy, a fixed prompt of `prompt_tokens` tokens, `batch` copies of it decoded together
(default 1; tokens/s are then summed over the rows):
- engine: prefill tokens/s (prompt / prefill time), decode tokens/s (tokens after the first / decode
  time, best of `repeats` runs), weight bytes, bytes read per decoded token, peak resident memory;
- transformers: `LlamaForCausalLM` built from the same Meta-layout tensors (q/k rows permuted back to
  Hugging Face's layout), same dtype, `generate(do_sample=False, min_new_tokens=max_new_tokens=N)`;
  a streamer timestamps each new token: prefill = up to the first, decode = first to last;
- the two sides run alternately, `repeats` times each, and each reports its best run (so a burst of
  load from elsewhere is unlikely to favour one side);
- the memory-bandwidth roofline: bytes per decoded token over the copy bandwidth of this machine
  (best of several copies of a 256 MiB tensor, counting the bytes read and written), and the same
  over its read bandwidth (best of several sums of that tensor: a decode step only reads);
- llama.cpp on the same GGUF file when the `llama_cpp` package is importable, else a note.

The report says the figures were taken on whatever else the machine was doing; compare ratios.
"""

from __future__ import annotations

import logging
import os
import platform
import resource
import time
from typing import Any

import torch

from .checkpoint_hf import meta_state_dict_to_hf

__all__ = ["copy_bandwidth", "read_bandwidth", "run_engine_benchmark", "transformers_model"]

log = logging.getLogger(__name__)

PROMPT_TEXT = (
    "The history of computing is a story of people finding ways to make machines do arithmetic faster. "
    "Early mechanical calculators gave way to relays, then vacuum tubes, transistors and integrated "
    "circuits, and each step made memory larger and cheaper. Today a small language model can run on "
    "an ordinary laptop, and the speed at which it writes is set mostly by how fast the processor can "
    "read the model's weights from memory. "
)


def copy_bandwidth(device: torch.device | str = "cpu", nbytes: int = 256 << 20, repeats: int = 8) -> float:
    """Bytes per second moved by `dst.copy_(src)` of a large tensor (read + write), best of `repeats`."""
    device = torch.device(device)
    src = torch.ones(nbytes // 4, dtype=torch.float32, device=device)
    dst = torch.empty_like(src)
    return 2 * nbytes / _best_seconds(lambda: dst.copy_(src), device, repeats)


def read_bandwidth(device: torch.device | str = "cpu", nbytes: int = 256 << 20, repeats: int = 8) -> float:
    """Bytes per second read by summing a large tensor, best of `repeats`: the ceiling of a decode step,
    which reads its weights and writes next to nothing."""
    device = torch.device(device)
    src = torch.ones(nbytes // 4, dtype=torch.float32, device=device)
    return nbytes / _best_seconds(src.sum, device, repeats)


def _best_seconds(fn, device: torch.device, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        _sync(device)
        start = time.perf_counter()
        fn()
        _sync(device)
        best = min(best, time.perf_counter() - start)
    return best


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def _rss_mb() -> float:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / (1 << 20)
    except OSError:  # not Linux
        return float("nan")


def transformers_model(checkpoint: Any, dtype: torch.dtype, device: str | torch.device = "cpu"):
    """transformers' LlamaForCausalLM holding the checkpoint's tensors (Meta layout converted back)."""
    import dataclasses

    from transformers import LlamaConfig, LlamaForCausalLM

    a = checkpoint.args
    rope_scaling = None
    if a.rope_scaling is not None:
        rope_scaling = {"rope_type": "llama3"} | dataclasses.asdict(a.rope_scaling)
    tied = checkpoint.state_dict["output.weight"] is checkpoint.state_dict["tok_embeddings.weight"]
    config = LlamaConfig(
        hidden_size=a.dim,
        intermediate_size=a.ffn_hidden_dim,
        num_hidden_layers=a.n_layers,
        num_attention_heads=a.n_heads,
        num_key_value_heads=a.n_kv_heads,
        vocab_size=a.vocab_size,
        rms_norm_eps=a.norm_eps,
        rope_theta=a.rope_theta,
        rope_scaling=rope_scaling,
        max_position_embeddings=a.max_position_embeddings,
        tie_word_embeddings=tied,
        head_dim=a.head_dim,
        bos_token_id=getattr(checkpoint.tokenizer, "bos_id", None),
        eos_token_id=None,
        pad_token_id=0,
    )
    hf = meta_state_dict_to_hf(checkpoint.state_dict, a, tied=tied)
    model = LlamaForCausalLM(config)
    missing, unexpected = model.load_state_dict(hf, strict=False)
    if unexpected or set(missing) - {"lm_head.weight"}:
        raise RuntimeError(
            f"transformers baseline: weights did not map (missing {missing}, unexpected {unexpected})"
        )
    return model.to(device=device, dtype=dtype).eval()


class _TokenClock:
    """A transformers streamer that only timestamps: `put` gets the prompt first, then each new token."""

    def __init__(self) -> None:
        self.times: list[float] = []

    def put(self, value) -> None:
        self.times.append(time.perf_counter())

    def end(self) -> None:
        pass


class _TransformersRunner:
    """One timed run = one generate of `new_tokens`; the streamer's timestamps split prefill (up to
    the first new token) from decode (first to last new token)."""

    def __init__(self, model, prompt: list[int], new_tokens: int, batch: int = 1) -> None:
        device = next(model.parameters()).device
        self.model, self.n_prompt, self.new_tokens, self.batch = model, len(prompt), new_tokens, batch
        self.ids = torch.tensor([prompt] * batch, device=device)
        self.kw = dict(attention_mask=torch.ones_like(self.ids), do_sample=False, pad_token_id=0)
        self.tokens: list[int] = []
        self._generate(2, None)  # warm-up

    def _generate(self, n: int, streamer) -> torch.Tensor:
        with torch.inference_mode():
            return self.model.generate(
                self.ids, max_new_tokens=n, min_new_tokens=n, streamer=streamer, **self.kw
            )

    def run(self) -> tuple[float, float]:
        clock = _TokenClock()
        start = time.perf_counter()
        out = self._generate(self.new_tokens, clock)
        self.tokens = out[0, self.n_prompt :].tolist()
        first, last = clock.times[1], clock.times[-1]  # times[0] is the prompt
        return first - start, self.batch * (self.new_tokens - 1) / max(last - first, 1e-9)


class _EngineRunner:
    """Runs the engine; `pytorch_step=True` runs the same engine with its C decode step set aside."""

    def __init__(
        self, engine, prompt: list[int], new_tokens: int, batch: int = 1, pytorch_step: bool = False
    ) -> None:
        from .sampling import SamplingParams

        self.engine, self.prompt, self.batch, self.pytorch_step = engine, prompt, batch, pytorch_step
        self.params = SamplingParams(max_tokens=new_tokens, stop_token_ids=())
        engine.stop_ids = frozenset()  # time the whole budget: no early stop on an end-of-turn token
        self.tokens: list[int] = []
        self._generate(SamplingParams(max_tokens=4))  # warm-up

    def _generate(self, params):
        step = self.engine.cpu_step
        if self.pytorch_step:
            self.engine.cpu_step = None
        try:
            return self.engine.generate([self.prompt] * self.batch, params)
        finally:
            self.engine.cpu_step = step

    def run(self) -> tuple[float, float]:
        completions = self._generate(self.params)
        self.tokens = completions[0].tokens
        return completions[0].prefill_s, sum(c.tokens_per_s for c in completions)


def _summary(runs: list[tuple[float, float]], n_prompt: int) -> dict[str, Any]:
    """n_prompt: prompt tokens of all rows together."""
    return {
        "prefill_tok_s": round(n_prompt / min(p for p, _ in runs), 1),
        "decode_tok_s": round(max(d for _, d in runs), 2),
        "decode_tok_s_runs": [round(d, 2) for _, d in runs],
    }


def _time_llama_cpp(
    gguf_path: str, prompt: list[int], new_tokens: int, threads: int, repeats: int
) -> dict[str, Any]:
    """llama.cpp (through llama-cpp-python) on the same GGUF file and prompt ids, greedy, batch 1: the
    generator is timestamped like the transformers streamer (prefill = up to the first token, decode =
    first to last); the context is reset before each run, so every run prefills the whole prompt."""
    try:
        import llama_cpp  # type: ignore[import-not-found]
    except ImportError:
        return {
            "skipped": "llama-cpp-python is not installed (pip install llama-cpp-python builds from source)"
        }
    llm = llama_cpp.Llama(
        model_path=gguf_path, n_threads=threads, n_ctx=len(prompt) + new_tokens + 8, verbose=False
    )

    def run(n: int) -> tuple[float, float, list[int]]:
        llm.reset()
        times, tokens = [], []
        start = time.perf_counter()
        for token in llm.generate(prompt, temp=0.0, top_k=1, reset=True):
            times.append(time.perf_counter())
            tokens.append(int(token))
            if len(tokens) == n:
                break
        return times[0] - start, (n - 1) / max(times[-1] - times[0], 1e-9), tokens

    run(4)  # warm-up
    runs = [run(new_tokens) for _ in range(repeats)]
    return {
        "version": getattr(llama_cpp, "__version__", None),
        "threads": threads,
        "prefill_tok_s": round(len(prompt) / min(r[0] for r in runs), 1),
        "decode_tok_s": round(max(r[1] for r in runs), 2),
        "decode_tok_s_runs": [round(r[1], 2) for r in runs],
        "tokens": runs[0][2],
    }


def _decode_step_name(engine) -> str:
    if engine.graphs is not None:
        return "cuda graphs"
    if engine.cpu_step is not None:
        from .cpu_decode import kernel_features

        return "C (" + (", ".join(kernel_features(engine.cpu_step.portable)) or "portable") + ")"
    return "pytorch compiled" if engine.compiled else "pytorch eager"


def _common_prefix(a: list[int], b: list[int]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def run_engine_benchmark(
    model: str = "smollm2-135m-instruct",
    *,
    quantization: str | None = None,
    dtype: torch.dtype = torch.bfloat16,
    device: str = "cpu",
    new_tokens: int = 128,
    prompt_tokens: int = 128,
    batch: int = 1,
    repeats: int = 3,
    threads: int | None = None,
    compile: bool = False,
    baseline: bool = True,
    llama_cpp: bool = True,
    cpu_kernels: bool | None = None,
) -> dict[str, Any]:
    """Run the whole comparison and return a JSON-able report (see the module docstring)."""
    from .checkpoint import read_checkpoint
    from .engine import Engine

    if threads:
        torch.set_num_threads(threads)
    load_before = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    start = time.perf_counter()
    checkpoint = read_checkpoint(model)
    read_s = time.perf_counter() - start
    tokenizer = checkpoint.tokenizer
    ids = tokenizer.encode(PROMPT_TEXT * 8, bos=True, eos=False, allow_special=False)[:prompt_tokens]
    max_seq_len = len(ids) + new_tokens + 8

    rss_before = _rss_mb()
    start = time.perf_counter()
    engine = Engine.from_checkpoint(
        checkpoint,
        device=device,
        dtype=dtype,
        quantization=quantization,
        max_seq_len=max_seq_len,
        max_batch_size=batch,
        compile=compile,
        cpu_kernels=cpu_kernels,
    )
    build_s = time.perf_counter() - start
    engine_rss = round(_rss_mb() - rss_before, 1)
    runners: dict[str, Any] = {"engine": _EngineRunner(engine, ids, new_tokens, batch)}
    if engine.cpu_step is not None:  # the same engine decoding in PyTorch: what the C step buys
        runners["engine_pytorch_step"] = _EngineRunner(engine, ids, new_tokens, batch, pytorch_step=True)
    sides: dict[str, dict[str, Any]] = {
        "engine": {
            "decode_step": _decode_step_name(engine),
            "weight_bytes": engine.weight_bytes,
            "decode_bytes_per_token": engine.decode_bytes_per_token,
            "kv_cache_bytes": engine.kv_cache_bytes,
            "rss_growth_mb": engine_rss,
            "build_s": round(build_s, 2),
        }
    }
    if baseline:
        rss_before = _rss_mb()
        hf_model = transformers_model(checkpoint, dtype, device)
        sides["transformers"] = {
            "dtype": str(dtype).removeprefix("torch."),
            "rss_growth_mb": round(_rss_mb() - rss_before, 1),
        }
        runners["transformers"] = _TransformersRunner(hf_model, ids, new_tokens, batch)
    # Alternate the two sides run by run, so a burst of load elsewhere hits both alike; keep the best.
    runs: dict[str, list[tuple[float, float]]] = {name: [] for name in runners}
    for _ in range(repeats):
        for name, runner in runners.items():
            runs[name].append(runner.run())
    for name in runners:
        sides[name] = _summary(runs[name], batch * len(ids)) | sides.get(name, {})
    ours = sides["engine"]
    ours["peak_rss_mb"] = round(_peak_rss_mb(), 1)
    if device == "cuda":
        ours["peak_cuda_mb"] = round(torch.cuda.max_memory_allocated() / (1 << 20), 1)

    bandwidth, read = copy_bandwidth(device), read_bandwidth(device)
    roofline = batch * bandwidth / ours["decode_bytes_per_token"]  # each step reads the weights once
    read_roofline = batch * read / ours["decode_bytes_per_token"]
    report: dict[str, Any] = {
        "model": model,
        "checkpoint": str(checkpoint.path),
        "format": checkpoint.format,
        "device": device,
        "dtype": str(dtype).removeprefix("torch."),
        "quantization": quantization,
        "compile": compile,
        "threads": torch.get_num_threads(),
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
        "cpu": platform.processor() or platform.machine(),
        "load_average": load_before,
        "prompt_tokens": len(ids),
        "new_tokens": new_tokens,
        "batch": batch,
        "read_checkpoint_s": round(read_s, 2),
        **sides,
        "roofline": {
            "copy_bandwidth_gb_s": round(bandwidth / 1e9, 2),
            "read_bandwidth_gb_s": round(read / 1e9, 2),
            "decode_tok_s_bound_by_reads": round(read_roofline, 1),
            "bytes_per_token": ours["decode_bytes_per_token"],
            "decode_tok_s_bound": round(roofline, 1),
        },
    }
    ratios: dict[str, float] = {
        "decode_vs_roofline": round(ours["decode_tok_s"] / roofline, 3),
        "decode_vs_read_roofline": round(ours["decode_tok_s"] / read_roofline, 3),
    }
    if "engine_pytorch_step" in sides:
        ratios["decode_vs_pytorch_step"] = round(
            ours["decode_tok_s"] / sides["engine_pytorch_step"]["decode_tok_s"], 3
        )
    if baseline:
        theirs = sides["transformers"]
        ratios["decode_vs_transformers"] = round(ours["decode_tok_s"] / theirs["decode_tok_s"], 3)
        ratios["prefill_vs_transformers"] = round(ours["prefill_tok_s"] / theirs["prefill_tok_s"], 3)
        report["greedy_tokens_equal_to_transformers"] = _common_prefix(
            runners["engine"].tokens, runners["transformers"].tokens
        )
    if checkpoint.format == "gguf" and llama_cpp and batch == 1:
        timed = _time_llama_cpp(str(checkpoint.path), ids, new_tokens, torch.get_num_threads(), repeats)
        if "decode_tok_s" in timed:
            ratios["decode_vs_llama_cpp"] = round(ours["decode_tok_s"] / timed["decode_tok_s"], 3)
            timed["greedy_tokens_equal_to_engine"] = _common_prefix(
                runners["engine"].tokens, timed.pop("tokens")
            )
        report["llama_cpp"] = timed
    report["ratios"] = ratios
    report["note"] = (
        "wall-clock figures from a machine that may be running other work (see load_average): the two "
        "sides ran alternately in this process and each reports its best run; compare the ratios"
    )
    report["load_average_after"] = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    return report
