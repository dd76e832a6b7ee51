"""`llamasys bench tools`: what the sandboxed code interpreter costs, as JSON.

    llamasys bench tools --json
    llamasys bench tools --calls 500 --starts 10 --backend bwrap --json

For each sandbox backend that works here (bubblewrap, the unshare fallback): the worker's start time
(spawning the sandbox, Python start-up, the worker's set-up, until its first "ready" frame; `--starts`
fresh interpreters) and the warm-call latency of `print(1)` through the public tool API
(`await interpreter.run(code="print(1)")`, `--calls` calls on one interpreter), p50/p95/mean in ms.

Baseline, measured in the same run: an unsandboxed `python -I -c "print(1)"` subprocess round trip
(spawn, run, read its output, reap), i.e. what a stateless "one process per call" interpreter pays
without any sandbox. `ratios.<backend>.baseline_over_warm_call` says how many times faster a warm call
is than that; `start_over_baseline` what the sandbox and worker set-up add to a plain Python start.
The target for a warm call is under 50 ms (`meets_target`).
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import sys
import time
from typing import Annotated, Any

import typer

from llamasys.apps.bench.timing import percentiles
from llamasys.tools.code_interpreter import CodeInterpreter
from llamasys.tools.sandbox import backend_problem

TARGET_MS = 50.0


async def _baseline(runs: int) -> dict[str, float]:
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-I", "-c", "print(1)", stdout=asyncio.subprocess.PIPE
        )
        out, _ = await process.communicate()
        times.append(time.perf_counter() - began)
        if out.strip() != b"1":
            raise RuntimeError(f"baseline python printed {out!r}")
    return percentiles(times)


async def _measure_backend(backend: str, calls: int, starts: int) -> dict[str, Any]:
    warmup = CodeInterpreter(backend=backend)  # probes the backend once, outside the timings
    await warmup.start()
    await warmup.close()
    start_times = []
    for _ in range(starts):
        interpreter = CodeInterpreter(backend=backend)
        start_times.append(await interpreter.start())
        await interpreter.close()
    interpreter = CodeInterpreter(backend=backend)
    try:
        await interpreter.start()
        for _ in range(5):
            await interpreter.run(code="print(1)")
        call_times = []
        for _ in range(calls):
            began = time.perf_counter()
            result = await interpreter.run(code="print(1)")
            call_times.append(time.perf_counter() - began)
            if result.content != "completed\n[stdout]\n1\n[/stdout]":
                raise RuntimeError(f"unexpected result from the interpreter: {result.content!r}")
    finally:
        await interpreter.close()
    warm = percentiles(call_times)
    return {
        "worker_start": percentiles(start_times),
        "warm_call_print_1": warm,
        "meets_target": warm["p50_ms"] < TARGET_MS,
    }


async def run_tools_benchmark(
    backends: list[str], calls: int, starts: int, baseline_runs: int
) -> dict[str, Any]:
    report: dict[str, Any] = {
        "benchmark": "tools.code_interpreter",
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "kernel": platform.release(),
        },
        "target_warm_call_ms": TARGET_MS,
        "baseline": {
            "what": 'unsandboxed `python -I -c "print(1)"` subprocess round trip',
            **(await _baseline(baseline_runs)),
        },
        "backends": {},
        "skipped": {},
        "ratios": {},
    }
    base = report["baseline"]["p50_ms"]
    for backend in backends:
        problem = await asyncio.to_thread(backend_problem, backend)
        if problem is not None:
            report["skipped"][backend] = problem
            continue
        measured = await _measure_backend(backend, calls, starts)
        report["backends"][backend] = measured
        report["ratios"][backend] = {
            "baseline_over_warm_call": round(base / measured["warm_call_print_1"]["p50_ms"], 1),
            "start_over_baseline": round(measured["worker_start"]["p50_ms"] / base, 2),
        }
    return report


def bench_tools(
    calls: Annotated[int, typer.Option(help="warm print(1) calls on one interpreter")] = 200,
    starts: Annotated[int, typer.Option(help="fresh interpreters started to time the worker start")] = 5,
    baseline_runs: Annotated[int, typer.Option(help="unsandboxed python -c subprocess runs")] = 20,
    backend: Annotated[str, typer.Option(help="bwrap, unshare or all (every one that works here)")] = "all",
    as_json: Annotated[bool, typer.Option("--json", help="print only the JSON report")] = False,
) -> None:
    """Worker start time and warm-call latency of the sandboxed code interpreter, against a baseline."""
    if backend not in ("all", "bwrap", "unshare"):
        raise typer.BadParameter(f"unknown backend {backend!r}: use bwrap, unshare or all")
    if min(calls, starts, baseline_runs) < 1:
        raise typer.BadParameter("--calls, --starts and --baseline-runs must be at least 1")
    backends = ["bwrap", "unshare"] if backend == "all" else [backend]
    report = asyncio.run(run_tools_benchmark(backends, calls, starts, baseline_runs))
    if not as_json:
        for name, measured in report["backends"].items():
            warm, start = measured["warm_call_print_1"], measured["worker_start"]
            typer.echo(
                f"{name}: warm print(1) p50 {warm['p50_ms']:.2f} ms (p95 {warm['p95_ms']:.2f}), "
                f"worker start p50 {start['p50_ms']:.0f} ms; "
                f"baseline python -c p50 {report['baseline']['p50_ms']:.1f} ms"
            )
        for name, why in report["skipped"].items():
            typer.echo(f"{name}: skipped ({why})")
    typer.echo(json.dumps(report, indent=2))
