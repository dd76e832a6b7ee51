"""The held-out agent tasks (`agent_tasks.py`) run through `llamasys.agentic.Agent` with real tools.

    >>> report = run_agent_tasks("smollm2-135m-instruct")
    >>> report.tool_accuracy, report.end_to_end

Tools: the sandboxed `CodeInterpreter`, `WebSearchTool` on a recorded back-end (every query gets the same
two generic pages: the tasks check which tool was chosen, not what the web says), and `knowledge_search`
over a small bank of three documents written here. The agent runs with its default instructions and no
shields (this measures tool use, not safety), one fresh session per task, greedy decoding.

Per task: the tool chosen (the first call's name, or none), every call's arguments against the tool's
JSON Schema, and end-to-end correctness (right tool, status "completed", and for interpreter tasks the
expected value in the final answer). Reported: tool-selection accuracy, the schema-valid call rate (over
all calls), the call rate on tasks that need a call, and end-to-end correctness.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import jsonschema
from pydantic import BaseModel

from llamasys.apps.eval.agent_tasks import AGENT_TASKS, AgentTask

__all__ = ["AgentItem", "AgentReport", "agent_tools", "run_agent_tasks", "score_task"]

DOCUMENTS = [
    (
        "Returns and refunds",
        "Damaged items can be returned within 60 days for a full refund; keep the receipt.",
    ),
    ("Quarterly planning", "The quarterly planning meeting is on the first Monday of each quarter at 10:00."),
    (
        "Parental leave",
        "Employees receive 20 weeks of paid parental leave, which can be split into two blocks.",
    ),
]


class AgentItem(BaseModel):
    prompt: str
    expected_tool: str | None
    tool: str | None
    calls: int
    schema_valid_calls: int
    status: str
    output: str
    tool_ok: bool
    correct: bool


class AgentReport(BaseModel):
    n: int
    tool_accuracy: float
    schema_valid_call_rate: float | None
    call_rate_needed: float | None
    end_to_end: float
    items: list[AgentItem]


class _RecordedSearch:
    def text(self, query: str, **_: Any) -> list[dict[str, str]]:
        return [
            {
                "title": f"Results for {query}",
                "href": "https://news.example/a",
                "body": f"Latest reports on {query}.",
            },
            {
                "title": f"{query} - overview",
                "href": "https://wiki.example/b",
                "body": f"Background on {query}.",
            },
        ]


def agent_tools(workdir: Path) -> list[Any]:
    """The real tools the tasks run with (the bank is written into `workdir`)."""
    from llamasys.tools.code_interpreter import CodeInterpreter
    from llamasys.tools.memory.bank import MemoryStore
    from llamasys.tools.memory.knowledge_search import KnowledgeSearchTool
    from llamasys.tools.web_search import WebSearchTool

    store = MemoryStore(workdir / "bank.sqlite")
    store.create_bank("documents").add_texts(DOCUMENTS, progress=False)
    return [
        CodeInterpreter(),
        WebSearchTool(backend="duckduckgo", ddgs=_RecordedSearch()),
        KnowledgeSearchTool(store, ["documents"], k=3, mode="keyword"),
    ]


def score_task(task: AgentTask, result: Any, definitions: dict[str, Any]) -> AgentItem:
    """Score one `TurnResult` (see the module docstring)."""
    calls = [
        call
        for step in result.steps
        if step.step_type == "inference"
        for call in step.model_response.tool_calls
    ]
    schema_ok = sum(
        1
        for c in calls
        if c.tool_name in definitions
        and jsonschema.Draft202012Validator(definitions[c.tool_name].parameters).is_valid(c.arguments)
    )
    first = calls[0].tool_name if calls else None
    tool_ok = first == task.tool
    correct = tool_ok and result.status == "completed" and (task.value is None or task.value in result.output)
    return AgentItem(
        prompt=task.prompt, expected_tool=task.tool, tool=first, calls=len(calls), schema_valid_calls=schema_ok,
        status=result.status, output=result.output[:500], tool_ok=tool_ok, correct=correct,
    )  # fmt: skip


def run_agent_tasks(
    model: Any,
    *,
    adapter: str | Path | None = None,
    base_url: str | None = None,
    tasks: list[AgentTask] | None = None,
    progress: bool = True,
) -> AgentReport:
    """Run every task through a fresh `Agent` session. `model` is a catalogue id or path (loaded with
    `adapter` merged), an `Engine`, or with `base_url` the name of a model on an OpenAI-compatible server."""
    from tqdm import tqdm

    from llamasys.agentic import Agent, OpenAIBackend
    from llamasys.core_model.sampling_params import SamplingParams

    tasks = tasks or AGENT_TASKS
    if base_url:
        backend: Any = OpenAIBackend(base_url=base_url, model=model)
    elif isinstance(model, str | Path):
        from llamasys.core_model import load_model

        backend = load_model(str(model), adapter=str(adapter) if adapter else None)
    else:
        backend = model
    items: list[AgentItem] = []
    with tempfile.TemporaryDirectory(prefix="llamasys-agent-eval-") as tmp:
        tools = agent_tools(Path(tmp))
        agent = Agent(
            backend, tools=tools, input_shields=[], tool_input_shields=[], tool_output_shields=[],
            output_shields=[], max_infer_iters=4, sampling=SamplingParams(temperature=0.0, max_tokens=256),
            store=f"sqlite:///{tmp}/agents.db",
        )  # fmt: skip
        definitions = {t.name: t.definition for t in tools}
        for task in tqdm(tasks, desc="agent tasks", disable=not progress):
            result = agent.run(task.prompt)
            items.append(score_task(task, result, definitions))
    n = len(items)
    needed = [i for i in items if i.expected_tool is not None]
    total_calls = sum(i.calls for i in items)
    return AgentReport(
        n=n,
        tool_accuracy=round(sum(i.tool_ok for i in items) / n, 4),
        schema_valid_call_rate=round(sum(i.schema_valid_calls for i in items) / total_calls, 4)
        if total_calls
        else None,
        call_rate_needed=round(sum(i.calls > 0 for i in needed) / len(needed), 4) if needed else None,
        end_to_end=round(sum(i.correct for i in items) / n, 4),
        items=items,
    )
