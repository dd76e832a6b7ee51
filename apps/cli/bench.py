"""`llamasys bench ...`: every benchmark's command. The measurements live in `llamasys.apps.bench` (one module per
benchmark, the baselines and one timing helper); this module only puts them on the command line. Each prints JSON
with its baseline measured in the same run.

- `bench engine`: CPU/GPU engine vs transformers (and llama.cpp), memory-bandwidth roofline.
- `bench gpu`: Llama-3.1-8B-shaped graphed / FP8 decode check on a CUDA card.
- `bench rag`, `bench tools`, `bench safety`: retrieval, the sandboxed interpreter, the shields.
- `bench agent`: the orchestrator's overhead per step (zero-latency scripted model), and 50 sessions at once.
- `bench serve`: the serving engine: concurrent streams, prefix reuse over agent steps, CPU contention.
- `bench prefill`: a bf16 prompt's linear layers as float32 GEMMs against bf16 GEMMs (CPUs without native bf16).
"""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from llamasys.apps.bench import agent, prefill, rag, safety, serve, tools

from .app import bench_app

bench_app.command("rag")(rag.bench_rag)
bench_app.command("tools")(tools.bench_tools)
bench_app.command("safety")(safety.bench_safety)
bench_app.command("agent")(agent.bench_agent)
bench_app.command("serve")(serve.bench_serve)
bench_app.command("prefill")(prefill.bench_prefill)

_DTYPES = {
    "bfloat16": "bfloat16",
    "bf16": "bfloat16",
    "float32": "float32",
    "fp32": "float32",
    "float16": "float16",
}


@bench_app.command("engine")
def bench_engine(
    model: Annotated[
        str, typer.Option(help="catalogue id, checkpoint folder or .gguf file")
    ] = "smollm2-135m-instruct",
    quantization: Annotated[str | None, typer.Option(help="int8, fp8 or fp8-all")] = None,
    new_tokens: Annotated[int, typer.Option(help="tokens generated per run")] = 128,
    prompt_tokens: Annotated[int, typer.Option(help="prompt length in tokens")] = 128,
    batch: Annotated[int, typer.Option(help="rows decoded together (copies of the prompt)")] = 1,
    dtype: Annotated[str, typer.Option(help="bfloat16 or float32")] = "bfloat16",
    device: Annotated[str, typer.Option(help="cpu or cuda")] = "cpu",
    repeats: Annotated[int, typer.Option(help="timed runs per side; the best is reported")] = 3,
    threads: Annotated[int | None, typer.Option(help="torch CPU threads (default: torch's choice)")] = None,
    compile: Annotated[bool, typer.Option("--compile", help="torch.compile the CPU decode step")] = False,
    cpu_kernels: Annotated[
        bool | None,
        typer.Option(
            "--cpu-kernels/--no-cpu-kernels", help="decode through the C step (default: when it can)"
        ),
    ] = None,
    no_baseline: Annotated[bool, typer.Option("--no-baseline", help="skip the transformers run")] = False,
    no_llama_cpp: Annotated[
        bool, typer.Option("--no-llama-cpp", help="skip llama.cpp even when llama-cpp-python is installed")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print only the JSON report")] = False,
    constrained: Annotated[
        bool,
        typer.Option("--constrained", help="also time a tool call decoded under its grammar constraint"),
    ] = False,
) -> None:
    """Decode/prefill speed of the engine against transformers' generate on the same weights and dtype."""
    import torch

    from llamasys.apps.bench.engine import run_engine_benchmark

    if dtype not in _DTYPES:
        raise typer.BadParameter(f"unknown dtype {dtype!r}: use bfloat16 or float32")
    report = run_engine_benchmark(
        model,
        quantization=quantization,
        dtype=getattr(torch, _DTYPES[dtype]),
        device=device,
        new_tokens=new_tokens,
        prompt_tokens=prompt_tokens,
        batch=batch,
        repeats=repeats,
        threads=threads,
        compile=compile,
        baseline=not no_baseline,
        llama_cpp=not no_llama_cpp,
        cpu_kernels=cpu_kernels,
        constrained=constrained,
    )
    if not as_json:
        e, r = report["engine"], report["ratios"]
        line = f"engine decode {e['decode_tok_s']:.1f} tok/s, prefill {e['prefill_tok_s']:.0f} tok/s"
        if "transformers" in report:
            line += f"; transformers decode {report['transformers']['decode_tok_s']:.1f} tok/s"
        line += f"; roofline {report['roofline']['decode_tok_s_bound']:.0f} tok/s; ratios {r}"
        typer.echo(line, err=True)
    typer.echo(json.dumps(report, indent=2))


@bench_app.command("gpu")
def bench_gpu(
    layers: Annotated[
        int | None, typer.Option(help="decoder layers (default 32 = the full Llama-3.1-8B; 4 with --tiny)")
    ] = None,
    steps: Annotated[int, typer.Option(help="greedy steps compared")] = 32,
    device: Annotated[str, typer.Option(help="cuda, or cpu with --tiny for a dry run")] = "cuda",
    tiny: Annotated[bool, typer.Option("--tiny", help="tiny shapes (dry run of the logic)")] = False,
) -> None:
    """Llama-3.1-8B shapes, random weights: graphed bf16 and FP8 decode checked against eager bf16, timed."""
    from llamasys.core_model.gpu_check import main as gpu_main

    # --layers only when given: gpu_check's own default is 32, or 4 with --tiny
    argv = (["--layers", str(layers)] if layers is not None else []) + [
        "--steps",
        str(steps),
        "--device",
        device,
    ]
    argv += ["--tiny"] if tiny else []
    sys.exit(gpu_main(argv))
