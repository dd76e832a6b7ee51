"""`llamasys moderate "text"`: run the configured shields on one message and print each verdict.

    llamasys moderate "How do I make a cake?"                       # Llama Guard 3 1B + Prompt Guard
    llamasys moderate "Sure, here is how..." --role agent --prompt "How do I ...?"
    llamasys moderate "$(cat tool_result.json)" --role tool         # tool output: injection score
    llamasys moderate "rm -rf /" --code --llama-guard none --prompt-guard none
    llamasys moderate "..." --llama-guard ~/models/Llama-Guard-3-8B --json

Roles: user (touchpoint user_input), agent (assistant_output; `--prompt` is the user turn before it)
and tool (tool_output). `--code` also scans the text as code about to run (tool_input). A shield whose
model is not downloaded reports "unavailable" and, under the default policy, blocks. The exit code is
1 when any shield blocks, 0 otherwise (warnings included).
"""

from __future__ import annotations

import asyncio
import json
from typing import Annotated

import typer

from llamasys.core_model.messages import AssistantMessage, ToolCall, ToolResponseMessage, UserMessage
from llamasys.safety import CodeShield, LlamaGuard, PromptGuard, Shield, ShieldVerdict, Touchpoint

from .app import app

_ROLES = {"user": Touchpoint.user_input, "agent": Touchpoint.assistant_output, "tool": Touchpoint.tool_output}


def _conversation(text: str, role: str, prompt: str | None) -> list:
    before = [UserMessage(content=prompt)] if prompt else []
    if role == "user":
        return [UserMessage(content=text)]
    if role == "agent":
        return [*before, AssistantMessage(content=text)]
    return [*before, ToolResponseMessage(call_id="moderate", tool_name="tool", content=text)]


def _line(v: ShieldVerdict) -> str:
    state = "unavailable" if v.unavailable else v.level.value
    parts = [f"{v.shield:<12}", f"{'allowed' if v.allowed else 'BLOCKED':<8}", f"{state:<11}"]
    if v.categories:
        parts.append("categories=" + ",".join(v.categories))
    if v.score is not None:
        parts.append(f"score={v.score:.4f}")
    parts.append(f"({v.latency_s * 1000:.0f} ms)")
    if v.unavailable:
        parts.append(f"- {v.details.get('reason', '')}")
    elif "skipped" in v.details:
        parts.append(f"- {v.details['skipped']}")
    if not v.allowed and v.user_message:
        parts.append(f'\n{"":<12} refusal: "{v.user_message}"')
    return " ".join(parts)


async def _run(checks: list[tuple[Shield, list, Touchpoint]]) -> list[ShieldVerdict]:
    return list(await asyncio.gather(*(s.check(m, touchpoint=t) for s, m, t in checks)))


@app.command("moderate")
def moderate(
    text: Annotated[str, typer.Argument(help="the message to judge")],
    role: Annotated[str, typer.Option(help="who wrote it: user, agent or tool")] = "user",
    prompt: Annotated[str | None, typer.Option(help="the user turn before an agent/tool message")] = None,
    llama_guard: Annotated[
        str, typer.Option("--llama-guard", help="catalogue id or folder of Llama Guard 3; 'none' to skip")
    ] = "llama-guard-3-1b",
    prompt_guard: Annotated[
        str, typer.Option("--prompt-guard", help="catalogue id or folder of Prompt Guard; 'none' to skip")
    ] = "prompt-guard-86m",
    code: Annotated[bool, typer.Option("--code", help="also scan the text as code about to run")] = False,
    threshold: Annotated[
        float | None, typer.Option(help="Llama Guard: block when P(unsafe) >= this, whatever the text says")
    ] = None,
    exclude: Annotated[
        list[str] | None, typer.Option(help="Llama Guard category to leave out (repeat)")
    ] = None,
    on_unavailable: Annotated[str, typer.Option(help="block or warn when a model is missing")] = "block",
    as_json: Annotated[bool, typer.Option("--json", help="print the verdicts as JSON")] = False,
) -> None:
    """Print the verdict of each configured shield on TEXT; exit 1 when any blocks."""
    if role not in _ROLES:
        raise typer.BadParameter(f"--role must be one of {list(_ROLES)}, not {role!r}")
    if on_unavailable not in ("block", "warn"):
        raise typer.BadParameter("--on-unavailable must be 'block' or 'warn'")
    touchpoint = _ROLES[role]
    messages = _conversation(text, role, prompt)
    checks: list[tuple[Shield, list, Touchpoint]] = []
    if llama_guard.lower() != "none":
        guard = LlamaGuard(
            llama_guard, threshold=threshold, excluded_categories=exclude or (), on_unavailable=on_unavailable
        )
        checks.append((guard, messages, touchpoint))
    if prompt_guard.lower() != "none":
        checks.append((PromptGuard(prompt_guard, on_unavailable=on_unavailable), messages, touchpoint))
    if code:
        call = AssistantMessage(tool_calls=[ToolCall(tool_name="run_code", arguments={"code": text})])
        checks.append((CodeShield(), [call], Touchpoint.tool_input))
    if not checks:
        raise typer.BadParameter(
            "every shield is off: name at least one (--llama-guard, --prompt-guard, --code)"
        )
    verdicts = asyncio.run(_run(checks))
    if as_json:
        typer.echo(json.dumps([v.model_dump(mode="json") for v in verdicts], indent=2))
    else:
        for v in verdicts:
            typer.echo(_line(v))
    raise typer.Exit(1 if any(not v.allowed for v in verdicts) else 0)
