"""`llamasys chat`, `llamasys run` and `llamasys app`: the agent in the terminal, one-shot, and in the browser.

    llamasys chat                                  # the agent, tools on, steps and verdicts rendered
    llamasys chat --no-tools --model llama3.2-1b-instruct
    llamasys run "What is 1234 * 5678?"            # one turn; the answer on stdout
    llamasys run "What is 1234 * 5678?" --json     # every event as one JSON line
    llamasys app                                   # the Gradio app on http://127.0.0.1:7860
    llamasys app --sample data_analyst             # one of apps/samples

Settings come from `llamasys.toml` / `LLAMASYS_*` (see `llamasys.apps.config`); the flags here override
them under the same names (`--model`, `--server-url`, `--temperature`, `--host`, `--port`). In `chat`,
the answer streams to stdout and the steps (model calls, tool calls with their arguments, results and
durations, shield verdicts) are drawn on stderr; tools that need approval ask y/N. `/new` starts a new
session, `/exit` (or end of input) quits.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import sys
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape

from .app import app

SAMPLES = ("research_assistant", "data_analyst", "document_qa", "moderation_console", "custom_tool_app")


def _settings(config: str | None, **flags: Any) -> Any:
    from llamasys.apps.config import ConfigError, load_settings

    try:
        return load_settings(config, overrides=flags)
    except ConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None


def _agent(settings: Any, no_tools: bool) -> Any:
    from llamasys.apps.agent_factory import build_agent

    if no_tools:
        settings = settings.model_copy(update={"tools": settings.tools.model_copy(update={"enabled": []})})
    where = settings.server_url or f"{settings.model} ({settings.resolved_device()})"
    typer.echo(f"loading {where} ...", err=True)
    try:
        return build_agent(settings, name="llamasys-cli")
    except Exception as exc:  # a model that cannot load, a bad server URL: say it, do not trace
        typer.echo(f"error: cannot start the agent: {exc}", err=True)
        raise typer.Exit(1) from None


class StepPrinter:
    """Draws a turn's events in the terminal: answer text to `out`, steps to the rich `console`."""

    def __init__(self, console: Console, out: Any = None) -> None:
        self.console = console
        self.out = out or sys.stdout
        self.streamed = ""
        self.status: str | None = None
        self.pending: list[Any] = []
        self.session_id: str | None = None

    def feed(self, event: Any) -> None:
        kind = event.type
        if kind == "turn_start":
            self.session_id = event.session_id
        elif kind == "step_progress" and event.text:
            self.streamed += event.text
            self.out.write(event.text)
            self.out.flush()
        elif kind == "step_complete":
            self._step(event.step)
        elif kind == "turn_awaiting_input":
            self.pending = list(event.pending)
        elif kind == "turn_complete":
            result = event.result
            self.status = result.status
            if self.streamed and not self.streamed.endswith("\n"):
                self.out.write("\n")
            if result.status == "blocked":
                self.console.print(f"[bold red]⛔ {escape(result.output)}[/]")
            elif result.status in ("failed", "cancelled", "interrupted"):
                self.console.print(f"[bold red]{result.status}[/]: {escape(result.error or '')}")
            elif result.output.strip() and result.output.strip() != self.streamed.strip():
                self.out.write(result.output + "\n")
            self.out.flush()
            self.streamed = ""

    def _step(self, step: Any) -> None:
        c = self.console
        took = f"[dim]({step.duration_s:.2f} s)[/]"
        if step.step_type == "inference":
            calls = step.model_response.tool_calls
            usage = step.usage
            if calls:
                if self.streamed and not self.streamed.endswith("\n"):
                    self.out.write("\n")
                    self.out.flush()
                self.streamed = ""
                for call in calls:
                    args = json.dumps(call.arguments, ensure_ascii=False)
                    c.print(
                        f"[cyan]🧠 model calls[/] [bold]{escape(call.tool_name)}[/]({escape(args[:400])}) {took}"
                    )
            c.print(f"[dim]   {usage.prompt_tokens} prompt + {usage.completion_tokens} new tokens[/]")
            for problem in step.model_response.parse_errors:
                c.print(f"[yellow]   malformed tool call: {escape(problem)}[/]")
        elif step.step_type == "tool_execution":
            for response in step.tool_responses:
                mark = (
                    "[red]blocked[/]"
                    if response.blocked
                    else "[red]error[/]"
                    if response.error
                    else "[green]ok[/]"
                )
                text = response.content if len(response.content) <= 800 else response.content[:800] + " …"
                c.print(f"[magenta]🛠️  {escape(response.tool_name)}[/] {mark} {took}")
                c.print(f"[dim]{escape(text)}[/]")
                for attachment in response.attachments:
                    c.print(f"[dim]   📎 {escape(attachment.name)} ({attachment.mime_type})[/]")
        elif step.step_type == "shield_call":
            for verdict in step.verdicts:
                if verdict.unavailable:
                    state = "[yellow]unavailable[/]"
                elif not verdict.allowed:
                    state = "[red]BLOCK[/]"
                else:
                    state = "[yellow]warn[/]" if str(verdict.level) == "warn" else "[green]allow[/]"
                score = "" if verdict.score is None else f" score {verdict.score:.2f}"
                cats = f" {','.join(verdict.categories)}" if verdict.categories else ""
                c.print(f"[blue]🛡️  {verdict.shield}[/] on {step.touchpoint}: {state}{cats}{score}")
            for name in step.not_installed:
                c.print(f"[yellow]🛡️  {escape(name)} on {step.touchpoint}: not installed (skipped)[/]")
        elif step.step_type == "memory_retrieval":
            if step.ingested_documents:
                c.print(f"[green]📚 ingested[/] {escape(', '.join(step.ingested_documents))} {took}")
            elif step.inserted_context:
                c.print(f"[green]📚 retrieved context[/] ({len(step.inserted_context)} characters) {took}")


async def _turn(agent: Any, events: Any, printer: StepPrinter, ask: Any) -> None:
    """Run one turn to its end, answering approval requests with `ask(question) -> bool`."""
    async for event in events:
        printer.feed(event)
    while printer.status == "awaiting_input" and printer.pending:
        pending, printer.pending = printer.pending, []
        approvals, answers = {}, {}
        for item in pending:
            args = json.dumps(item.call.arguments, ensure_ascii=False)
            if item.kind == "approval":
                approvals[item.call.call_id] = await ask(f"run {item.call.tool_name}({args})? [y/N] ")
            else:
                answers[item.call.call_id] = await ask(
                    f"result of {item.call.tool_name}({args}): ", text=True
                )
        events = agent.resume_events(printer.session_id, tool_responses=answers, approvals=approvals)
        async for event in events:
            printer.feed(event)


@app.command("chat")
def chat(
    model: str | None = typer.Option(None, "--model", "-m", help="Catalogue id, folder or .gguf [settings]."),
    server_url: str | None = typer.Option(None, "--server-url", help="An OpenAI-compatible server (…/v1)."),
    temperature: float | None = typer.Option(None, "--temperature", "-t", min=0.0, help="0: greedy."),
    no_tools: bool = typer.Option(False, "--no-tools", help="Offer the model no tools."),
    instructions: str | None = typer.Option(None, "--system", "-s", help="The agent's instructions."),
    config: str | None = typer.Option(None, "--config", help="A llamasys.toml to read."),
) -> None:
    """Talk to the agent in the terminal: tools on, every step and shield verdict shown (works piped)."""
    settings = _settings(config, model=model, server_url=server_url, temperature=temperature)
    agent = _agent(settings, no_tools)
    if instructions:
        agent.instructions = instructions
    console = Console(stderr=True, highlight=False)
    interactive = sys.stdin.isatty()
    tools = ", ".join(sorted(settings.tools.enabled)) if not no_tools else "none"
    console.print(f"[dim]tools: {tools}. /new starts a new session, /exit quits.[/]")

    async def ask(question: str, text: bool = False) -> Any:
        if not interactive:
            console.print(f"{question}(no terminal: {'empty' if text else 'denied'})")
            return "" if text else False
        answer = await asyncio.to_thread(input, question)
        return answer if text else answer.strip().lower() in ("y", "yes")

    async def loop() -> None:
        session_id = None
        try:
            while True:
                if interactive:
                    sys.stderr.write("\n> ")
                    sys.stderr.flush()
                line = await asyncio.to_thread(sys.stdin.readline)
                if not line:
                    return
                text = line.strip()
                if not text:
                    continue
                if text in ("/exit", "/quit"):
                    return
                if text == "/new":
                    session_id = None
                    console.print("[dim](new session)[/]")
                    continue
                if session_id is None:
                    session_id = agent.create_session(text[:48]).session_id
                printer = StepPrinter(console)
                try:
                    await _turn(agent, agent.turn_events(text, session_id=session_id), printer, ask)
                except (KeyboardInterrupt, asyncio.CancelledError):
                    console.print("[dim](turn interrupted)[/]")
        finally:
            await agent.aclose()

    try:
        asyncio.run(loop())
    except KeyboardInterrupt:
        typer.echo("", err=True)


@app.command("run")
def run(
    question: str = typer.Argument(..., help="The question (one turn)."),
    as_json: bool = typer.Option(False, "--json", help="Print every event as one JSON line instead."),
    model: str | None = typer.Option(None, "--model", "-m", help="Catalogue id, folder or .gguf [settings]."),
    server_url: str | None = typer.Option(None, "--server-url", help="An OpenAI-compatible server (…/v1)."),
    temperature: float | None = typer.Option(None, "--temperature", "-t", min=0.0, help="0: greedy."),
    no_tools: bool = typer.Option(False, "--no-tools", help="Offer the model no tools."),
    attach: list[str] = typer.Option([], "--attach", "-a", help="A file for the turn (data or document)."),
    config: str | None = typer.Option(None, "--config", help="A llamasys.toml to read."),
) -> None:
    """One turn of the agent. Exit status 0 when it completed, 1 when it failed or was blocked."""
    settings = _settings(config, model=model, server_url=server_url, temperature=temperature)
    agent = _agent(settings, no_tools)
    status: dict[str, Any] = {}

    async def once() -> None:
        try:
            events = agent.turn_events(question, attachments=attach)
            if as_json:
                async for event in events:
                    sys.stdout.write(event.model_dump_json() + "\n")
                    sys.stdout.flush()
                    if event.type == "turn_complete":
                        status["value"] = event.result.status
                return
            printer = StepPrinter(Console(stderr=True, highlight=False))

            async def deny(question: str, text: bool = False) -> Any:
                printer.console.print(f"{question}(one-shot run: {'no answer' if text else 'denied'})")
                return "" if text else False

            await _turn(agent, events, printer, deny)
            status["value"] = printer.status
        finally:
            await agent.aclose()

    asyncio.run(once())
    if status.get("value") not in ("completed", "max_iterations"):
        raise typer.Exit(1)


@app.command("app")
def app_command(
    sample: str | None = typer.Option(None, "--sample", help=f"A sample app: {', '.join(SAMPLES)}."),
    host: str | None = typer.Option(None, "--host", help="Interface to listen on [127.0.0.1]."),
    port: int | None = typer.Option(None, "--port", help="Port [7860]."),
    model: str | None = typer.Option(None, "--model", "-m", help="Catalogue id, folder or .gguf [settings]."),
    server_url: str | None = typer.Option(None, "--server-url", help="An OpenAI-compatible server (…/v1)."),
    temperature: float | None = typer.Option(None, "--temperature", "-t", min=0.0, help="0: greedy."),
    config: str | None = typer.Option(None, "--config", help="A llamasys.toml to read."),
) -> None:
    """The Gradio agent app in the browser (prints its URL)."""
    settings = _settings(
        config,
        **{"app.host": host, "app.port": port},
        model=model,
        server_url=server_url,
        temperature=temperature,
    )
    if sample is not None and sample not in SAMPLES:
        typer.echo(f"error: no sample app {sample!r}: choose one of {', '.join(SAMPLES)}", err=True)
        raise typer.Exit(2)
    from llamasys.apps.gradio_app import launch

    if sample is None:
        from llamasys.apps.gradio_app import build_app

        demo = build_app(settings)
        if not settings.server_url:  # load the model now, so the first message does not wait for it
            from llamasys.apps.agent_factory import engine_for

            typer.echo(f"loading {settings.model} ...", err=True)
            engine_for(settings)
    else:
        module = importlib.import_module(f"llamasys.apps.samples.{sample}")
        demo = (
            module.build_app(settings=settings) if _takes_settings(module.build_app) else module.build_app()
        )
    url = f"http://{settings.app.host}:{settings.app.port}"
    typer.echo(
        f"llamasys app{f' ({sample})' if sample else ''}: open {url} in your browser (Ctrl-C stops it)"
    )
    launch(demo, host=settings.app.host, port=settings.app.port)


def _takes_settings(fn: Any) -> bool:
    import inspect

    return "settings" in inspect.signature(fn).parameters
