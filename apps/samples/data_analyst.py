"""Data analyst: attach a CSV, ask a question; the agent answers by running pandas and matplotlib.

    python -m llamasys.apps.samples.data_analyst            # or: llamasys app --sample data_analyst

The CSV lands in the working directory of this session's sandboxed code interpreter (no network, CPU,
memory and time limits); the model writes Python, the result and any plot come back, and the plot is
shown inline in the chat.
"""

from __future__ import annotations

from typing import Any

from llamasys.agentic import Agent
from llamasys.tools.code_interpreter import CodeInterpreter

from . import model_backend, run_sample

INSTRUCTIONS = """You are a data analyst. Files the user attaches are in your working directory. Answer \
by running Python with code_interpreter: load the data with pandas (pd.read_csv), compute exactly, and \
when a chart helps, draw it with matplotlib (plt.show() returns it). Then explain the result briefly, \
quoting the numbers the code printed."""


def build_agent(backend: Any = None, **agent_kwargs: Any) -> Agent:
    return Agent(
        backend if backend is not None else model_backend(),
        instructions=INSTRUCTIONS,
        tools=[CodeInterpreter(wall_timeout_s=60)],  # one sandboxed interpreter per chat session
        name="data-analyst",
        **agent_kwargs,
    )


def build_app(settings: Any = None, **kwargs: Any) -> Any:
    from llamasys.apps.gradio_app import build_app as agent_app

    backend = kwargs.pop("backend", None) or model_backend(settings)
    return agent_app(
        settings,
        agent=build_agent(backend, **kwargs),
        title="Data analyst",
        description="Attach a CSV (📎) and ask about it: pandas + matplotlib in a sandbox, plots inline.",
        examples=["Plot the monthly totals in the attached file and tell me the best month."],
    )


def main() -> None:
    run_sample(build_app())


if __name__ == "__main__":
    main()
