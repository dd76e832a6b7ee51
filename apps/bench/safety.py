"""`llamasys bench safety`: the latency each shield adds to one check, on this machine, as JSON.

    llamasys bench safety --json
    llamasys bench safety --llama-guard ~/models/Llama-Guard-3-1B --prompt-guard prompt-guard-86m

Baseline: a no-op shield's `check` (message validation, timing, the verdict object) measured in the
same run; every shield is reported as milliseconds per check, milliseconds added over the baseline,
and the ratio to it. The real models are used when downloaded (default ids llama-guard-3-1b and
prompt-guard-86m, or the folders given); otherwise a random-weight stand-in of
the same format is written to a temporary folder and measured instead (Llama Guard: a 2-layer,
dim-64 Llama with the full Llama 3 vocabulary; Prompt Guard: a 2-layer, hidden-32 DeBERTa-v2
classifier with 512-token windows), and the report says so under "model" — those figures measure the
plumbing (prompt building, tokenising, windowing, the engine call), not a real model's cost.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from llamasys.core_model.messages import AssistantMessage, ToolCall, ToolResponseMessage, UserMessage
from llamasys.core_model.testing import write_random_llama_guard, write_random_prompt_guard
from llamasys.safety import CodeShield, LlamaGuard, NoopShield, PromptGuard, Shield, Touchpoint

USER = [UserMessage(content="What is the best way to store passwords in a web application database?")]
TOOL_RESULT = " ".join(
    f"Result {i}: The weather in Paris today is sunny with a high of 21C and light winds from the west."
    for i in range(60)
)  # ~1,500 tokens of third-party text: several Prompt Guard windows
TOOL = [USER[0], ToolResponseMessage(call_id="1", tool_name="web_search", content=TOOL_RESULT)]
SNIPPET = """import csv
import hashlib
import sqlite3
import subprocess
from pathlib import Path

import matplotlib.pyplot as plt


def load(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def summarise(rows: list[dict[str, str]]) -> dict[str, float]:
    totals: dict[str, float] = {}
    for row in rows:
        totals[row["region"]] = totals.get(row["region"], 0.0) + float(row["sales"])
    return totals


def store(rows, db="sales.db"):
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE IF NOT EXISTS sales (region TEXT, amount REAL)")
    conn.executemany("INSERT INTO sales VALUES (?, ?)", [(r["region"], float(r["sales"])) for r in rows])
    conn.commit()
    return hashlib.sha256(Path(db).read_bytes()).hexdigest()


def plot(totals):
    fig, ax = plt.subplots()
    ax.bar(list(totals), list(totals.values()))
    fig.savefig("sales.png")


rows = load(Path("sales.csv"))
totals = summarise(rows)
print(store(rows))
plot(totals)
print(subprocess.run(["ls", "-l"], capture_output=True, text=True).stdout)
"""
CODE = [AssistantMessage(tool_calls=[ToolCall(tool_name="code_interpreter", arguments={"code": SNIPPET})])]


async def _time(shield: Shield, messages: list, touchpoint: Touchpoint, repeats: int) -> dict[str, Any]:
    first = await shield.check(messages, touchpoint=touchpoint)  # warm-up (and lazy load)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        verdict = await shield.check(messages, touchpoint=touchpoint)
        times.append(time.perf_counter() - start)
    return {
        "ms_median": statistics.median(times) * 1000,
        "ms_min": min(times) * 1000,
        "repeats": repeats,
        "first_check_ms": first.latency_s * 1000,
        "verdict": {
            "allowed": verdict.allowed,
            "level": verdict.level.value,
            "unavailable": verdict.unavailable,
        },
    }


def _resolve(source: str | None, what: str) -> Path | None:
    """A real model's folder: the given folder, or the catalogue's downloaded copy; None if neither."""
    if source is None:
        return None
    path = Path(source).expanduser()
    if path.exists():
        return path
    try:
        from llamasys.core_model.checkpoints import catalog

        return Path(catalog.resolve(source))
    except Exception as e:  # not in the catalogue, not downloaded, or no catalogue
        typer.echo(f"{what} {source!r} is not available ({e}); measuring a random-weight stand-in", err=True)
        return None


async def _bench(lg_source: str | None, pg_source: str | None, repeats: int, tmp: Path) -> dict[str, Any]:
    import torch

    report: dict[str, Any] = {"baseline": "NoopShield.check (validation, timing, verdict)", "shields": {}}
    base = await _time(NoopShield(), USER, Touchpoint.user_input, repeats * 10)
    report["baseline_ms"] = base["ms_median"]

    lg_path = _resolve(lg_source, "Llama Guard")
    if lg_path is None:
        lg_path = write_random_llama_guard(tmp / "llama-guard-stand-in")
        lg_model = "random-weight stand-in: Llama, dim 64, 2 layers, Llama 3 vocabulary (128,256), float32"
        guard = LlamaGuard(lg_path, max_seq_len=2048, dtype=torch.float32)
    else:
        lg_model = str(lg_path)
        guard = LlamaGuard(lg_path, max_seq_len=2048)
    pg_path = _resolve(pg_source, "Prompt Guard")
    if pg_path is None:
        pg_path = write_random_prompt_guard(tmp / "prompt-guard-stand-in", num_labels=3)
        pg_model = "random-weight stand-in: DeBERTa-v2, hidden 32, 2 layers, 3 labels, 512-token windows"
    else:
        pg_model = str(pg_path)
    prompt_guard = PromptGuard(pg_path)

    runs = [
        ("llama_guard.user_input", guard, USER, Touchpoint.user_input, lg_model, max(1, repeats // 2)),
        ("prompt_guard.user_input", prompt_guard, USER, Touchpoint.user_input, pg_model, repeats),
        (
            "prompt_guard.tool_output_1500_tokens",
            prompt_guard,
            TOOL,
            Touchpoint.tool_output,
            pg_model,
            repeats,
        ),
        (
            "code_shield.tool_input_45_lines",
            CodeShield(),
            CODE,
            Touchpoint.tool_input,
            "rules (no model)",
            repeats * 5,
        ),
    ]
    for name, shield, messages, touchpoint, model, n in runs:
        result = await _time(shield, messages, touchpoint, n)
        result["model"] = model
        result["added_ms"] = result["ms_median"] - base["ms_median"]
        result["ratio_to_baseline"] = result["ms_median"] / base["ms_median"]
        report["shields"][name] = result
    return report


def bench_safety(
    llama_guard: Annotated[
        str,
        typer.Option("--llama-guard", help="catalogue id or folder; a random stand-in when not downloaded"),
    ] = "llama-guard-3-1b",
    prompt_guard: Annotated[
        str,
        typer.Option("--prompt-guard", help="catalogue id or folder; a random stand-in when not downloaded"),
    ] = "prompt-guard-86m",
    repeats: Annotated[int, typer.Option(help="timed checks per shield (median reported)")] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="print only the JSON report")] = False,
) -> None:
    """Milliseconds each shield adds per check, against a no-op shield measured in the same run."""
    import torch

    with tempfile.TemporaryDirectory(prefix="llamasys-bench-safety-") as tmp:
        report = asyncio.run(_bench(llama_guard, prompt_guard, max(1, repeats), Path(tmp)))
    report["machine"] = {"torch_threads": torch.get_num_threads(), "device": "cpu"}
    if not as_json:
        for name, r in report["shields"].items():
            typer.echo(
                f"{name:<38} {r['ms_median']:9.2f} ms  (+{r['added_ms']:.2f} ms, x{r['ratio_to_baseline']:.0f})  {r['model']}",
                err=True,
            )
    typer.echo(json.dumps(report, indent=2))
