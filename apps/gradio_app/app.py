"""`llamasys app`: the Gradio 6 agent app (what `make run` opens on http://127.0.0.1:7860).

    >>> from llamasys.apps.gradio_app import build_app
    >>> demo = build_app()                    # settings from llamasys.toml / LLAMASYS_* (apps.config)
    >>> demo = build_app(agent=my_agent)      # any llamasys.agentic.Agent (the sample apps do this)
    >>> launch(demo, host="127.0.0.1", port=7860)

One Blocks app over `llamasys.agentic`: answers stream; each inference, tool call and shield verdict is
a collapsible step (see `render.py`); plots from the code interpreter show inline; files sent with a
message go to the agent (data files to the session's code interpreter, documents to its memory bank,
the ingestion shown as a step); the settings panel (model or server URL, tools, shields and their
policy, temperature) rebuilds the agent for this browser tab; sessions come from the agent's store and
reopen with their steps; Stop cancels the running turn (status "cancelled", tool processes ended);
tools that need approval pause the turn and show Approve / Deny buttons in the chat. A banner says
which shield models are not installed and the command that installs them.

Concurrency: the chat event runs `concurrency_limit` turns at once (default: the engine's
`max_batch_size`, rows it decodes together) and queues up to `max_queue` more, so several tabs work at
the same time without one long turn blocking the rest; Stop is never queued behind a turn.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import gradio as gr

from .render import APPROVE, DENY, TurnView, approval_messages

__all__ = ["AgentPool", "build_app", "launch", "session_history", "shield_banner"]

log = logging.getLogger(__name__)

STREAM_EVERY_S = 0.05  # at most ~20 UI updates a second while text streams (Gradio lags behind faster)
TOOL_CHOICES = ["web_search", "code_interpreter", "knowledge_search", "wolfram_alpha"]
SHIELD_CHOICES = ["llama_guard", "prompt_guard", "code_shield"]
_SHIELD_SPOTS = {  # where each shield runs when ticked in the settings panel
    "llama_guard": ("input", "output"),
    "prompt_guard": ("input", "tool_output"),
    "code_shield": ("tool_input",),
}


def shield_banner(missing: list[Any]) -> str:
    """Markdown for the banner: each missing shield model and the command that installs it."""
    if not missing:
        return ""
    names = ", ".join(f"**{item.shield}** (`{item.model}`)" for item in missing)
    commands = " and ".join(f"`{item.command}`" for item in missing)
    return (
        f"⚠️ **Shields not installed:** {names}. Each turn shows them as *not installed*: they do not gate it "
        f"(the code scanner needs no model and stays active). Install with {commands} (gated models: accept "
        "the license on the Hugging Face Hub and `export HF_TOKEN=...` first), then restart the app."
    )


def model_note(settings: Any) -> str:
    """A visible caveat when the configured model is a small one (under a billion parameters, e.g. the
    embedded SmolLM2-135M): such models often answer without calling the tools, and their own arithmetic
    and facts are unreliable."""
    if settings is None or getattr(settings, "server_url", None):
        return ""
    try:
        from llamasys.core_model.checkpoints.catalog import get_entry

        entry = get_entry(settings.model)
    except Exception:  # a path or an unknown id: nothing to say
        return ""
    if not entry.parameters.upper().endswith("M"):
        return ""
    return (
        f"ℹ️ **{entry.id}** has {entry.parameters} parameters: it runs anywhere, but often answers without "
        "calling the tools, and what it computes or recalls by itself is unreliable (check the steps: a "
        "computed answer shows its code_interpreter call). For real agent work choose a Llama 3.1 / 3.2 model "
        "(`llamasys model download llama3.2-3b-instruct`) or an OpenAI-compatible server in Settings."
    )


class AgentPool:
    """The agents this app serves: one per distinct settings (tabs with the same settings share one).

    `factory(settings) -> Agent`. `fixed` is an agent to use whatever the settings say (sample apps, tests).
    """

    def __init__(
        self, settings: Any = None, *, factory: Callable[[Any], Any] | None = None, fixed: Any = None
    ):
        if settings is None:
            from llamasys.apps.config import load_settings

            settings = load_settings()
        self.settings = settings
        self.fixed = fixed
        if factory is None:
            from llamasys.apps.agent_factory import build_agent

            factory = build_agent
        self._factory = factory
        self._agents: dict[str, Any] = {}

    def settings_for(self, overrides: dict[str, Any] | None) -> Any:
        if not overrides:
            return self.settings
        data = self.settings.model_dump()
        for name, value in overrides.items():
            target = data
            *parents, last = name.split(".")
            for part in parents:
                target = target[part]
            target[last] = value
        return type(self.settings).model_validate(data)

    def agent(self, overrides: dict[str, Any] | None = None) -> Any:
        if self.fixed is not None:
            return self.fixed
        settings = self.settings_for(overrides)
        key = settings.model_dump_json()
        if key not in self._agents:
            self._agents[key] = self._factory(settings)
        return self._agents[key]

    def missing_shields(self, overrides: dict[str, Any] | None = None) -> list[Any]:
        if self.fixed is not None:
            return []
        from llamasys.apps.agent_factory import missing_shields

        return missing_shields(self.settings_for(overrides))


def _new_state() -> dict[str, Any]:
    return {"session_id": None, "overrides": {}, "pending": [], "decisions": {}}


def session_history(agent: Any, session_id: str, files_dir: Path | None = None) -> list[dict[str, Any]]:
    """The chat messages of a stored session, every turn with its steps (to reopen it)."""
    from llamasys.agentic.result import TurnResult
    from llamasys.agentic.stream_events import StepComplete, TurnAwaitingInput, TurnComplete

    messages: list[dict[str, Any]] = []
    for turn in agent.store.list_turns(session_id):
        user = (turn.input.get("message") or {}).get("content", "")
        view = TurnView(user, files_dir=files_dir)
        for step in agent.store.steps(turn.turn_id):
            view.feed(StepComplete(turn_id=turn.turn_id, step=step))
        if turn.status == "awaiting_input":
            view.feed(
                TurnAwaitingInput(session_id=session_id, turn_id=turn.turn_id, pending=turn.pending_calls())
            )
        elif turn.status != "running":
            view.feed(
                TurnComplete(
                    result=TurnResult(
                        session_id=session_id,
                        turn_id=turn.turn_id,
                        status=turn.status,
                        output=turn.output,
                        error=turn.error,
                    )
                )
            )
        messages += view.messages
    return messages


def _session_choices(agent: Any) -> list[tuple[str, str]]:
    choices = []
    for info in reversed(agent.list_sessions()):
        label = info.name or info.session_id[:8]
        choices.append((f"{info.created_at:%Y-%m-%d %H:%M} · {label}", info.session_id))
    return choices


async def _stream(events: AsyncIterator[Any], view: TurnView, history: list) -> AsyncIterator[list]:
    """Feed `events` to `view` and yield the whole chat (history + this turn) at a steady pace.

    The turn runs in its own task: Stop cancels that task through `Agent.cancel` and the turn still ends
    with its `turn_complete` (status "cancelled"); a browser tab that goes away cancels it too."""
    queue: asyncio.Queue[Any] = asyncio.Queue()
    done = object()

    async def produce() -> None:
        try:
            async for event in events:
                await queue.put(event)
        except asyncio.CancelledError:
            await queue.put(asyncio.CancelledError())
        except Exception as exc:  # the agent raised: show it instead of a silent stop
            await queue.put(exc)
        finally:
            await queue.put(done)

    task = asyncio.create_task(produce())
    last = 0.0
    try:
        while True:
            item = await queue.get()
            if item is done:
                break
            if isinstance(item, asyncio.CancelledError):
                if view.status is None:
                    view.messages.append({"role": "assistant", "content": "⏹️ Stopped."})
                    view.status = "cancelled"
                continue
            if isinstance(item, Exception):
                view.messages.append({"role": "assistant", "content": f"💥 {type(item).__name__}: {item}"})
                view.status = "failed"
                continue
            view.feed(item)
            now = time.monotonic()
            if getattr(item, "type", "") != "step_progress" or now - last >= STREAM_EVERY_S:
                last = now
                yield history + view.messages
        yield history + view.messages
    finally:
        if not task.done():
            task.cancel()
            with contextlib.suppress(BaseException):
                await task


def build_app(
    settings: Any = None,
    *,
    agent: Any = None,
    factory: Callable[[Any], Any] | None = None,
    title: str = "llamasys agent",
    description: str = "",
    examples: list[str] | None = None,
    settings_panel: bool | None = None,
    concurrency_limit: int | None = None,
    max_queue: int = 32,
) -> gr.Blocks:
    """The agent app. `agent`: serve this agent (no settings panel unless asked); otherwise agents are
    built from `settings` (default `load_settings()`) by `factory` (default `agent_factory.build_agent`)."""
    pool = AgentPool(settings, factory=factory, fixed=agent)
    show_settings = agent is None if settings_panel is None else settings_panel
    limit = concurrency_limit or max(1, int(getattr(pool.settings, "max_batch_size", 4)))
    files_dir = Path(tempfile.mkdtemp(prefix="llamasys-app-"))
    base = pool.settings

    with gr.Blocks(title=title, fill_height=True) as demo:
        state = gr.State(_new_state)
        gr.Markdown(f"## 🦙 {title}" + (f"\n{description}" if description else ""))
        banner = gr.Markdown(shield_banner(pool.missing_shields()), elem_id="shield-banner")
        note = gr.Markdown(model_note(None if agent is not None else base), elem_id="model-note")
        with gr.Row(equal_height=False):
            with gr.Column(scale=1, min_width=240):
                new_chat = gr.Button("➕ New chat", size="sm")
                sessions = gr.Dropdown(label="Sessions", choices=[], value=None, interactive=True)
                with gr.Accordion("Settings", open=False, visible=show_settings):
                    model = gr.Textbox(label="Model (catalogue id, path or .gguf)", value=base.model)
                    server_url = gr.Textbox(
                        label="or an OpenAI-compatible server URL (…/v1)", value=base.server_url or ""
                    )
                    tools = gr.CheckboxGroup(TOOL_CHOICES, label="Tools", value=list(base.tools.enabled))
                    ticked = sorted(
                        {
                            n
                            for spot in ("input", "tool_input", "tool_output", "output")
                            for n in getattr(base.shields, spot)
                        }
                    )
                    shields = gr.CheckboxGroup(SHIELD_CHOICES, label="Shields", value=ticked)
                    policy = gr.Radio(
                        ["block", "warn"], label="On a violation", value=base.shields.on_violation
                    )
                    temperature = gr.Slider(
                        0.0, 1.5, step=0.05, label="Temperature", value=base.temperature or 0.0
                    )
                    apply = gr.Button("Apply to this tab")
            with gr.Column(scale=4):
                chatbot = gr.Chatbot(
                    label="Agent",
                    elem_id="agent-chat",
                    height="70vh",
                    layout="panel",
                    feedback_options=None,
                    placeholder="Ask something: the agent can search, compute with Python and read your files.",
                )
                with gr.Row():
                    box = gr.MultimodalTextbox(
                        placeholder="Message (attach a CSV for the code interpreter, a PDF/Markdown for the "
                        "memory bank)",
                        file_count="multiple",
                        sources=["upload"],
                        show_label=False,
                        scale=8,
                        elem_id="agent-input",
                    )
                    stop = gr.Button("⏹ Stop", variant="stop", scale=1, min_width=80, elem_id="agent-stop")
                decision = gr.Textbox(visible=False)
                if examples:
                    gr.Examples([{"text": e} for e in examples], inputs=box)

        def current(st: dict[str, Any]) -> Any:
            return pool.agent(st["overrides"])

        async def respond(message: dict[str, Any], history: list, st: dict[str, Any]) -> AsyncIterator[tuple]:
            text = (message or {}).get("text", "").strip()
            files = list((message or {}).get("files") or [])
            if not text and not files:
                yield history, st, gr.skip()
                return
            agent = current(st)
            history = list(history or [])
            shown = text + "".join(f"\n📎 {Path(f).name}" for f in files)
            view = TurnView(shown, files_dir=files_dir)
            if st["pending"] and any(p["kind"] == "client" for p in st["pending"]):
                # the message answers the client-side tool(s) the paused turn waits for
                answers = {p["call_id"]: text for p in st["pending"] if p["kind"] == "client"}
                events = agent.resume_events(
                    st["session_id"], tool_responses=answers, approvals=st["decisions"] or None
                )
            else:
                if st["session_id"] is None:
                    st["session_id"] = agent.create_session(text[:48] or "files").session_id
                events = agent.turn_events(
                    text or "(see the attached files)", session_id=st["session_id"], attachments=files
                )
            st["pending"], st["decisions"] = [], {}
            async for chat in _stream(events, view, history):
                yield chat, st, gr.skip()
            st["pending"] = view.pending
            yield history + view.messages, st, {"text": "", "files": []}

        async def decide(value: str, history: list, st: dict[str, Any]) -> AsyncIterator[tuple]:
            """An approval button ("approve:<call id>" / "deny:<call id>"); resumes once all are decided."""
            verb, _, call_id = str(value).partition(":")
            waiting = {p["call_id"] for p in st["pending"] if p["kind"] == "approval"}
            if verb not in (APPROVE, DENY) or call_id not in waiting:
                yield history, st
                return
            st["decisions"][call_id] = verb == APPROVE
            history = list(history or [])
            note = ("✅ approved " if verb == APPROVE else "❌ denied ") + next(
                p["tool_name"] for p in st["pending"] if p["call_id"] == call_id
            )
            if waiting - set(st["decisions"]) or any(p["kind"] == "client" for p in st["pending"]):
                yield history + [{"role": "user", "content": note}], st
                return
            agent = current(st)
            view = TurnView(note, files_dir=files_dir)
            events = agent.resume_events(st["session_id"], approvals=dict(st["decisions"]))
            st["pending"], st["decisions"] = [], {}
            async for chat in _stream(events, view, history):
                yield chat, st
            st["pending"] = view.pending
            yield history + view.messages, st

        async def on_option(history: list, st: dict[str, Any], evt: gr.SelectData) -> AsyncIterator[tuple]:
            async for out in decide(evt.value, history, st):
                yield out

        def on_stop(st: dict[str, Any]) -> None:
            if st["session_id"] is not None:
                current(st).cancel(st["session_id"])

        def refresh_sessions(st: dict[str, Any]) -> Any:
            return gr.update(choices=_session_choices(current(st)), value=st["session_id"])

        def open_session(session_id: str | None, st: dict[str, Any]) -> tuple:
            if not session_id or session_id == st["session_id"]:
                return gr.skip(), st
            agent = current(st)
            st = {**_new_state(), "overrides": st["overrides"], "session_id": session_id}
            history = session_history(agent, session_id, files_dir)
            paused = agent.store.paused_turn(session_id)
            if paused is not None:
                st["pending"] = [
                    {
                        "call_id": p.call.call_id,
                        "tool_name": p.call.tool_name,
                        "arguments": p.call.arguments,
                        "kind": p.kind,
                    }
                    for p in paused.pending_calls()
                ]
                history = history[:-1] + approval_messages(st["pending"]) if history else history
            return history, st

        def new_session(st: dict[str, Any]) -> tuple:
            return [], {**_new_state(), "overrides": st["overrides"]}

        def apply_settings(model_v, url_v, tools_v, shields_v, policy_v, temp_v, st):
            overrides = {
                "model": model_v.strip() or base.model,
                "server_url": url_v.strip() or None,
                "tools.enabled": list(tools_v),
                "temperature": float(temp_v),
                "shields.on_violation": policy_v,
            }
            for spot in ("input", "tool_input", "tool_output", "output"):
                overrides[f"shields.{spot}"] = [
                    n for n in SHIELD_CHOICES if n in shields_v and spot in _SHIELD_SPOTS[n]
                ]
            try:
                pool.settings_for(overrides)
            except Exception as exc:  # pydantic's message names the setting and what it accepts
                raise gr.Error(f"these settings do not validate: {exc}") from None
            st = {**_new_state(), "overrides": overrides}
            gr.Info("Settings applied: a new chat starts with them (the model loads on the first message).")
            chosen = pool.settings_for(overrides)
            return [], st, shield_banner(pool.missing_shields(overrides)), model_note(chosen)

        chat_event = box.submit(
            respond,
            [box, chatbot, state],
            [chatbot, state, box],
            api_name="chat",
            concurrency_limit=limit,
            concurrency_id="turns",
        )
        chat_event.then(refresh_sessions, state, sessions, api_visibility="private")
        chatbot.option_select(
            on_option, [chatbot, state], [chatbot, state], concurrency_limit=limit, concurrency_id="turns"
        )
        decision.submit(  # the same as the buttons, for API clients: "approve:<call id>" / "deny:<call id>"
            decide, [decision, chatbot, state], [chatbot, state], api_name="decide", concurrency_id="turns"
        )
        stop.click(on_stop, state, None, queue=False, api_name="stop")
        new_chat.click(new_session, state, [chatbot, state], api_visibility="private").then(
            refresh_sessions, state, sessions, api_visibility="private"
        )
        sessions.input(open_session, [sessions, state], [chatbot, state], api_visibility="private")
        apply.click(
            apply_settings,
            [model, server_url, tools, shields, policy, temperature, state],
            [chatbot, state, banner, note],
            api_visibility="private",
        )
        demo.load(refresh_sessions, state, sessions, api_visibility="private")

    demo.queue(default_concurrency_limit=limit, max_size=max_queue)
    demo.llamasys_files_dir = files_dir  # type: ignore[attr-defined]
    return demo


def launch(demo: gr.Blocks, *, host: str = "127.0.0.1", port: int = 7860, **kwargs: Any) -> Any:
    """Start the app; prints the URL. Never shares publicly (no gradio.live tunnel)."""
    files_dir = getattr(demo, "llamasys_files_dir", None)
    allowed = [str(files_dir)] if files_dir else []
    return demo.launch(
        server_name=host, server_port=port, share=False, allowed_paths=allowed, show_error=True, **kwargs
    )
