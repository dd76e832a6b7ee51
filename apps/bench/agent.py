"""`llamasys bench agent`: what the orchestrator itself costs per step, as JSON.

    llamasys bench agent --json
    llamasys bench agent --turns 300 --sessions 50 --store sqlite:////tmp/agents.db --json

The model is a zero-latency `ScriptedBackend` and the tool returns at once, so what is timed is the
orchestration: building prompts, events, tool dispatch, the step models and the store's commit of every
step (SQLite file in WAL mode unless `--store` says otherwise). A turn is three steps (an inference
that calls the tool, the tool step, the answering inference); no shields.

- `sequential`: `--turns` turns one after another, each in a new session; `per_step` = turn wall time /
  3, p50/p95/mean in ms, and `cpu_per_step_ms` = this process's CPU time over the run / steps (what the
  orchestrator itself burns, unaffected by other processes competing for the cores). Target: under
  5 ms per step including the commit (`meets_target`, on the wall-clock p50).
- `concurrent`: `--sessions` sessions running at once on one event loop, `--turns-per-session` turns
  each; per-step latency, wall time, turns/s and steps/s.
- `baseline` (measured in the same run): the same three steps without the orchestrator — the scripted
  stream consumed and the tool run directly, nothing stored — and one bare SQLite insert + commit.
  `overhead_per_step_p50_ms` = agent p50 - baseline p50.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from llamasys.agentic import Agent, AgentStore, ScriptedBackend
from llamasys.apps.bench.timing import percentiles
from llamasys.core_model.messages import AssistantMessage, ToolCall, ToolResponseMessage, UserMessage
from llamasys.core_model.sampling_params import SamplingParams
from llamasys.tools import tool

TARGET_MS = 5.0
STEPS_PER_TURN = 3


@tool
def add(a: int, b: int) -> int:
    """Add two integers.

    Args:
        a: First.
        b: Second.
    """
    return a + b


def _policy(messages: list[Any]) -> Any:
    """Call `add` once per turn, then answer with its result (zero latency, no randomness)."""
    last = messages[-1]
    if isinstance(last, ToolResponseMessage):
        return f"The sum is {last.content}."
    return ToolCall(tool_name="add", arguments={"a": 2, "b": 3})


def _agent(store: AgentStore) -> Agent:
    return Agent(
        ScriptedBackend([_policy], repeat=True),
        instructions="You add numbers.",
        tools=[add],
        default_shields=False,
        store=store,
        sampling=SamplingParams(max_tokens=64),
        name="bench",
    )


async def _sequential(agent: Agent, turns: int) -> list[float]:
    times = []
    for _ in range(turns):
        began = time.perf_counter()
        result = await agent.arun("What is 2 + 3?")
        times.append(time.perf_counter() - began)
        if result.status != "completed" or len(result.steps) != STEPS_PER_TURN:
            raise RuntimeError(
                f"bench turn ended {result.status} with {len(result.steps)} steps: {result.error}"
            )
    return times


async def _concurrent(agent: Agent, sessions: int, turns_per_session: int) -> tuple[list[float], float]:
    ids = [agent.create_session(f"s{i}").session_id for i in range(sessions)]
    times: list[float] = []

    async def one(session_id: str) -> None:
        for _ in range(turns_per_session):
            began = time.perf_counter()
            result = await agent.arun("What is 2 + 3?", session_id=session_id)
            times.append(time.perf_counter() - began)
            if result.status != "completed":
                raise RuntimeError(f"bench turn ended {result.status}: {result.error}")

    began = time.perf_counter()
    await asyncio.gather(*(one(s) for s in ids))
    return times, time.perf_counter() - began


async def _baseline(turns: int) -> list[float]:
    backend = ScriptedBackend([_policy], repeat=True)
    sampling = SamplingParams(max_tokens=64)
    times = []
    for _ in range(turns):
        began = time.perf_counter()
        messages: list[Any] = [UserMessage(content="What is 2 + 3?")]
        for _ in range(2):
            final = [c async for c in backend.stream(messages, [add.definition], sampling)][-1].message
            messages.append(final)
            for call in final.tool_calls:
                result = await add.run(**call.arguments)
                messages.append(
                    ToolResponseMessage(call_id=call.call_id, tool_name="add", content=result.content)
                )
        times.append(time.perf_counter() - began)
    return times


def _commit_baseline(store: AgentStore, runs: int) -> dict[str, float]:
    session = store.create_session("commit-baseline").session_id
    times = []
    for i in range(runs):
        began = time.perf_counter()
        store.add_messages(session, "baseline", [AssistantMessage(content=f"row {i}")])
        times.append(time.perf_counter() - began)
    return percentiles(times)


def _per_step(turn_seconds: list[float]) -> dict[str, float]:
    return percentiles([t / STEPS_PER_TURN for t in turn_seconds])


async def run_agent_benchmark(
    turns: int, sessions: int, turns_per_session: int, store_url: str | None
) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        url = store_url or f"sqlite:///{Path(tmp) / 'agents.db'}"
        store = AgentStore(url)
        agent = _agent(store)
        await _sequential(agent, min(20, turns))  # warm-up: imports, first connections
        cpu = time.process_time()
        sequential = await _sequential(agent, turns)
        agent_cpu = (time.process_time() - cpu) / (turns * STEPS_PER_TURN)
        cpu = time.process_time()
        baseline = await _baseline(turns)
        base_cpu = (time.process_time() - cpu) / (turns * STEPS_PER_TURN)
        concurrent, wall = await _concurrent(agent, sessions, turns_per_session)
        commit = _commit_baseline(store, turns)
        await agent.aclose()
        store.close()
    agent_step = _per_step(sequential)
    base_step = _per_step(baseline)
    done = sessions * turns_per_session
    return {
        "benchmark": "agent",
        "store": "sqlite file (WAL), temporary" if store_url is None else store_url.split("://")[0],
        "model": "ScriptedBackend, zero latency",
        "steps_per_turn": STEPS_PER_TURN,
        "sequential": {
            "turns": turns,
            "per_step": agent_step,
            "cpu_per_step_ms": round(agent_cpu * 1e3, 3),
            "per_turn": percentiles(sequential),
        },
        "concurrent": {
            "sessions": sessions,
            "turns_per_session": turns_per_session,
            "per_step": _per_step(concurrent),
            "wall_s": round(wall, 3),
            "turns_per_s": round(done / wall, 1),
            "steps_per_s": round(done * STEPS_PER_TURN / wall, 1),
        },
        "baseline": {
            "no_orchestrator_per_step": base_step,
            "no_orchestrator_cpu_per_step_ms": round(base_cpu * 1e3, 3),
            "sqlite_insert_commit": commit,
        },
        "overhead_per_step_p50_ms": round(agent_step["p50_ms"] - base_step["p50_ms"], 3),
        "target_ms": TARGET_MS,
        "meets_target": agent_step["p50_ms"] < TARGET_MS,
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
    }


def bench_agent(
    turns: Annotated[int, typer.Option(help="sequential turns (each in a new session)")] = 200,
    sessions: Annotated[int, typer.Option(help="sessions running at once")] = 50,
    turns_per_session: Annotated[int, typer.Option(help="turns each concurrent session runs")] = 4,
    store: Annotated[
        str | None, typer.Option(help="SQLAlchemy URL (default: a temporary SQLite file)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print only the JSON report")] = False,
) -> None:
    """Orchestration overhead per step with a zero-latency scripted model, and with many sessions at once."""
    if min(turns, sessions, turns_per_session) < 1:
        raise typer.BadParameter("--turns, --sessions and --turns-per-session must be at least 1")
    report = asyncio.run(run_agent_benchmark(turns, sessions, turns_per_session, store))
    if not as_json:
        seq, con = report["sequential"]["per_step"], report["concurrent"]
        typer.echo(
            f"per step p50 {seq['p50_ms']:.2f} ms (p95 {seq['p95_ms']:.2f}), baseline "
            f"{report['baseline']['no_orchestrator_per_step']['p50_ms']:.3f} ms; {con['sessions']} sessions: "
            f"p50 {con['per_step']['p50_ms']:.2f} ms per step, {con['steps_per_s']} steps/s",
            err=True,
        )
    typer.echo(json.dumps(report, indent=2))
