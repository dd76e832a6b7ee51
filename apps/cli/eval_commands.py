"""`llamasys eval tools --model ID`: tool-use accuracy on BFCL's single-turn data and held-out agent tasks.

llamasys eval tools --model smollm2-135m-instruct --limit 20 --json
llamasys eval tools --model smollm2-135m-tools --categories simple_python,irrelevance
llamasys eval tools --base-url http://127.0.0.1:8000/v1 --model my-served-model
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from .app import app

eval_app = typer.Typer(help="Evaluations.", no_args_is_help=True)
app.add_typer(eval_app, name="eval")


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}"


@eval_app.command("tools")
def tools_command(
    model: Annotated[str, typer.Option(help="catalogue id, checkpoint path, or the served model's name")],
    adapter: Annotated[Path | None, typer.Option(help="a LoRA adapter folder merged at load")] = None,
    base_url: Annotated[
        str | None, typer.Option(help="an OpenAI-compatible server instead of the engine")
    ] = None,
    categories: Annotated[str, typer.Option(help="comma-separated BFCL categories")] = (
        "simple_python,multiple,parallel,parallel_multiple,irrelevance"
    ),
    limit: Annotated[int | None, typer.Option(help="evenly spaced items per category (default: all)")] = None,
    agent_tasks: Annotated[bool, typer.Option(help="also run the held-out agent tasks")] = True,
    max_new_tokens: int = 256,
    batch_size: int = 4,
    constrained: Annotated[
        bool,
        typer.Option(
            help="decode BFCL replies under the tool-call grammar (tool_choice auto), as the agent does"
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print the report as JSON")] = False,
    out: Annotated[Path | None, typer.Option(help="also write the full report (every item) here")] = None,
) -> None:
    """Score a model's tool calls: BFCL AST accuracy per category, call rate, selection, schema validity."""
    from llamasys.apps.eval.bfcl import EngineModel, OpenAIToolModel, load_items, run_bfcl

    if base_url:
        tool_model = OpenAIToolModel(base_url=base_url, model=model, max_new_tokens=max_new_tokens)
    else:
        from llamasys.core_model import load_model

        engine = load_model(model, adapter=str(adapter) if adapter else None, max_batch_size=batch_size)
        tool_model = EngineModel(engine, max_new_tokens=max_new_tokens, constrained=constrained)
    items = load_items([c.strip() for c in categories.split(",") if c.strip()], limit=limit)
    report = run_bfcl(tool_model, items, batch_size=batch_size, progress=not as_json)
    result: dict = {"model": model, "adapter": str(adapter) if adapter else None, "limit": limit,
                    "constrained": constrained and not base_url,
                    "bfcl": report.model_dump(exclude={"items"})}  # fmt: skip
    if agent_tasks:
        from llamasys.apps.eval.agent_eval import run_agent_tasks

        agent_report = run_agent_tasks(model, adapter=adapter, base_url=base_url, progress=not as_json)
        result["agent"] = agent_report.model_dump(exclude={"items"}) if agent_report is not None else None
    if out is not None:
        full = dict(result, bfcl_items=[i.model_dump() for i in report.items])
        out.write_text(json.dumps(full, indent=2) + "\n", encoding="utf-8")
    if report.truncated:
        typer.echo(
            f"warning: {report.truncated} of {len(report.items)} replies were cut at --max-new-tokens "
            f"{max_new_tokens} and score as what they decoded to (a call cut mid-way counts as no call); "
            "raise --max-new-tokens until no reply is cut",
            err=True,
        )
    if as_json:
        typer.echo(json.dumps(result, indent=2))
        return
    typer.echo(f"{'category':<20}{'n':>5}{'acc %':>8}{'calls %':>9}{'select %':>10}{'schema %':>10}")
    for name, c in report.categories.items():
        typer.echo(
            f"{name:<20}{c.n:>5}{_fmt(c.accuracy):>8}{_fmt(c.call_rate):>9}"
            f"{_fmt(c.selection_accuracy):>10}{_fmt(c.schema_valid_call_rate):>10}"
        )
    typer.echo(
        f"call rate on items that need a call {_fmt(report.positive_call_rate)}%, schema-valid calls "
        f"{_fmt(report.schema_valid_call_rate)}%, balanced (simple, irrelevance) {_fmt(report.balanced)}%"
    )
    if result.get("agent"):
        a = result["agent"]
        typer.echo(
            f"agent tasks: n={a['n']} right tool {_fmt(a['tool_accuracy'])}%, schema-valid calls "
            f"{_fmt(a['schema_valid_call_rate'])}%, end-to-end {_fmt(a['end_to_end'])}%"
        )
