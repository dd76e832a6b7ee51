"""The shipped default (`smollm2-135m-tools`: the SmolLM2 GGUF plus the distilled adapter) acts as an agent:
asked to compute with Python it runs the code interpreter and answers with its output; greeted, it replies
without a tool call (issue 17's two demo prompts, through the real `Agent`, real tools, greedy)."""

from __future__ import annotations

import pytest
from support import require_in_ci

from llamasys.apps.eval.agent_eval import run_agent_tasks
from llamasys.apps.eval.agent_tasks import AGENT_TASKS

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def engine():
    from llamasys.core_model import load_model
    from llamasys.core_model.errors import ModelNotDownloadedError

    try:
        return load_model("smollm2-135m-tools")
    except ModelNotDownloadedError as exc:
        require_in_ci(f"the SmolLM2 GGUF is not installed: {exc}")


def test_demo_prompts_call_the_interpreter_and_answer_hi_plainly(engine, sandbox):
    tasks = {t.prompt: t for t in AGENT_TASKS}
    chosen = [tasks["What is 1234 * 5678? Use Python."], tasks["Hi, how are you?"]]
    report = run_agent_tasks(engine, tasks=chosen, progress=False)
    compute, greeting = report.items
    assert compute.tool == "code_interpreter" and compute.schema_valid_calls == compute.calls >= 1
    assert compute.correct and "7006652" in compute.output, compute.output
    assert greeting.calls == 0 and greeting.status == "completed" and greeting.output.strip(), greeting.output
