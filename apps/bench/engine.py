"""Engine benchmark: this engine against transformers' `generate` on the same weights, in one run.

```python
report = run_engine_benchmark("smollm2-135m-instruct", quantization="int8", new_tokens=128)
report["ratios"]["decode_vs_transformers"], report["ratios"]["decode_vs_roofline"]
```

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
import time
from typing import Any

import torch

from llamasys.apps.bench.baselines import IsolatedBaseline
from llamasys.apps.bench.timing import copy_bandwidth, peak_rss_mb, read_bandwidth, rss_mb

__all__ = ["run_engine_benchmark"]

log = logging.getLogger(__name__)

PROMPT_TEXT = (
    "The history of computing is a story of people finding ways to make machines do arithmetic faster. "
    "Early mechanical calculators gave way to relays, then vacuum tubes, transistors and integrated "
    "circuits, and each step made memory larger and cheaper. Today a small language model can run on "
    "an ordinary laptop, and the speed at which it writes is set mostly by how fast the processor can "
    "read the model's weights from memory. "
)


class _EngineRunner:
    """Runs the engine; `pytorch_step=True` runs the same engine with its C decode step set aside."""

    def __init__(
        self, engine, prompt: list[int], new_tokens: int, batch: int = 1, pytorch_step: bool = False
    ) -> None:
        from llamasys.core_model.sampling import SamplingParams

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


def _decode_step_name(engine) -> str:
    if engine.graphs is not None:
        return "cuda graphs"
    if engine.cpu_step is not None:
        from llamasys.core_model.cpu_decode import kernel_features

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
    constrained: bool = False,
) -> dict[str, Any]:
    """Run the whole comparison and return a JSON-able report (see the module docstring). `constrained`:
    also decode a tool call under its grammar constraint against the same run unconstrained
    (`apps.bench.structured.constrained_benchmark`, report key "constrained")."""
    from llamasys.core_model.checkpoints import read_checkpoint
    from llamasys.core_model.engine import Engine

    if threads:
        torch.set_num_threads(threads)
    load_before = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    start = time.perf_counter()
    checkpoint = read_checkpoint(model)
    read_s = time.perf_counter() - start
    tokenizer = checkpoint.tokenizer
    ids = tokenizer.encode(PROMPT_TEXT * 8, bos=True, eos=False, allow_special=False)[:prompt_tokens]
    max_seq_len = len(ids) + new_tokens + 8 + (1024 if constrained else 0)  # + the tool-call chat prompt

    rss_before = rss_mb()
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
    engine_rss = round(rss_mb() - rss_before, 1)
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
    hf_side: IsolatedBaseline | None = None
    if baseline:  # in a process of its own: its crash or absence is reported, never fatal to ours
        hf_side = IsolatedBaseline(
            {
                "op": "transformers",
                "model": model,
                "dtype": str(dtype).removeprefix("torch."),
                "device": device,
                "prompt": ids,
                "new_tokens": new_tokens,
                "batch": batch,
                "threads": torch.get_num_threads(),
            }
        )
        sides["transformers"] = {"dtype": str(dtype).removeprefix("torch.")}
        if hf_side.ok:
            sides["transformers"]["rss_growth_mb"] = hf_side.result.get("rss_growth_mb")
            runners["transformers"] = hf_side
    # Alternate the two sides run by run, so a burst of load elsewhere hits both alike; keep the best.
    runs: dict[str, list[tuple[float, float]]] = {name: [] for name in runners}
    for _ in range(repeats):
        for name, runner in list(runners.items()):
            timed = runner.run()
            if timed is None:  # the baseline's process failed: report why, keep our figures
                del runners[name]
                continue
            runs[name].append(timed)
    for name in runners:
        sides[name] = _summary(runs[name], batch * len(ids)) | sides.get(name, {})
    if hf_side is not None:
        if not hf_side.ok:
            sides["transformers"] |= hf_side.report or {}
        hf_side.close()
    baseline_ran = "transformers" in runners
    ours = sides["engine"]
    ours["peak_rss_mb"] = round(peak_rss_mb(), 1)
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
    if baseline_ran:
        theirs = sides["transformers"]
        ratios["decode_vs_transformers"] = round(ours["decode_tok_s"] / theirs["decode_tok_s"], 3)
        ratios["prefill_vs_transformers"] = round(ours["prefill_tok_s"] / theirs["prefill_tok_s"], 3)
        report["greedy_tokens_equal_to_transformers"] = _common_prefix(
            runners["engine"].tokens, runners["transformers"].tokens
        )
    if checkpoint.format == "gguf" and llama_cpp and batch == 1:
        llama_cpp_args = {
            "gguf_path": str(checkpoint.path),
            "prompt": ids,
            "new_tokens": new_tokens,
            "threads": torch.get_num_threads(),
            "repeats": repeats,
        }
        side = IsolatedBaseline({"op": "llama_cpp", "args": llama_cpp_args})
        timed = side.report or side.result
        side.close()
        if "decode_tok_s" in timed:
            ratios["decode_vs_llama_cpp"] = round(ours["decode_tok_s"] / timed["decode_tok_s"], 3)
            timed["greedy_tokens_equal_to_engine"] = _common_prefix(
                runners["engine"].tokens, timed.pop("tokens")
            )
        report["llama_cpp"] = timed
    if constrained:
        from llamasys.apps.bench.structured import constrained_benchmark

        report["constrained"] = constrained_benchmark(engine, new_tokens=new_tokens, repeats=repeats)
        ratios["constrained_decode_vs_unconstrained"] = round(1 - report["constrained"]["overhead"], 3)
    report["ratios"] = ratios
    report["note"] = (
        "wall-clock figures from a machine that may be running other work (see load_average): the two "
        "sides ran alternately in this process and each reports its best run; compare the ratios"
    )
    report["load_average_after"] = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    return report
