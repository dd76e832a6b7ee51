"""`llamasys bench prefill`: a bf16 prompt's linear layers as float32 GEMMs against bf16 GEMMs, in one run.

```bash
OMP_NUM_THREADS=1 llamasys bench prefill --model smollm2-135m-instruct --tokens 512 --json
```

On a CPU without native bf16 GEMMs (AVX2 without AVX-512: oneDNN emulates them) `core_model.model.Linear`
runs multi-row bf16 calls in float32 (`model._cpu_has_bf16_gemm()` decides). This benchmark times one prompt
of `tokens` random token ids through the bf16 model with each choice forced (float32, bf16, float32 again,
so drift in the machine shows), reports wall and CPU seconds of each, and each one's largest absolute logit
difference from the float32 model's last-position logits (and whether the top token agrees)."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from typing import Annotated, Any

import typer


def run_prefill_benchmark(model: str = "smollm2-135m-instruct", tokens: int = 512, seed: int = 0) -> dict:
    """The report (see the module docstring); seconds are one prompt's prefill (one warm-up prompt first)."""
    import torch

    from llamasys.core_model import load_model
    from llamasys.core_model import model as model_module

    bf16 = load_model(model, max_seq_len=tokens + 8, max_batch_size=1)
    ids = torch.randint(
        0, bf16.model.args.vocab_size, (1, tokens), generator=torch.Generator().manual_seed(seed)
    )

    def prefill(engine: Any, n: int) -> torch.Tensor:
        with torch.inference_mode():
            return engine.model(ids[:, :n], torch.arange(n)[None], kv_len=n, last_only=True, exact=True)

    reference = prefill(
        load_model(model, dtype=torch.float32, max_seq_len=tokens + 8, max_batch_size=1), tokens
    )
    native: Callable[[], bool] = model_module._cpu_has_bf16_gemm
    report: dict[str, Any] = {
        "model": model,
        "tokens": tokens,
        "native_bf16_gemm": native(),
        "torch_threads": torch.get_num_threads(),
        "load_avg_1m_before": round(os.getloadavg()[0], 2),
    }
    try:
        for name, bf16_gemm in (("float32_gemm", False), ("bf16_gemm", True), ("float32_gemm_again", False)):
            model_module._cpu_has_bf16_gemm = lambda flag=bf16_gemm: flag
            prefill(bf16, 16)  # warm-up
            wall, cpu = time.perf_counter(), time.process_time()
            logits = prefill(bf16, tokens)
            report[name] = {
                "wall_s": round(time.perf_counter() - wall, 3),
                "cpu_s": round(time.process_time() - cpu, 3),
                "max_abs_vs_float32_model": round((logits.float() - reference.float()).abs().max().item(), 4),
                "argmax_as_float32_model": bool(logits.argmax() == reference.argmax()),
            }
    finally:
        model_module._cpu_has_bf16_gemm = native
    report["cpu_speedup_float32_over_bf16"] = round(
        report["bf16_gemm"]["cpu_s"] / report["float32_gemm"]["cpu_s"], 2
    )
    report["load_avg_1m_after"] = round(os.getloadavg()[0], 2)
    return report


def bench_prefill(
    model: Annotated[str, typer.Option(help="catalogue id, checkpoint folder or .gguf file")] = (
        "smollm2-135m-instruct"
    ),
    tokens: Annotated[int, typer.Option(help="prompt length, tokens")] = 512,
    as_json: Annotated[bool, typer.Option("--json", help="print only the JSON report")] = False,
) -> None:
    """A bf16 prompt's prefill with float32 GEMMs against bf16 GEMMs (the CPU path choice), one run."""
    report = run_prefill_benchmark(model, tokens)
    if not as_json:
        typer.echo(
            f"prefill {tokens} tokens: bf16 GEMM {report['bf16_gemm']['cpu_s']} s CPU, float32 GEMM "
            f"{report['float32_gemm']['cpu_s']} s CPU (x{report['cpu_speedup_float32_over_bf16']})",
            err=True,
        )
    typer.echo(json.dumps(report, indent=2))
