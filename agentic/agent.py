"""`Agent`: the Python SDK over the turn loop, the store and the back-ends.

    from llamasys.agentic import Agent
    agent = Agent("smollm2-135m-instruct", instructions="You are a helpful assistant.", tools=[get_weather])
    result = agent.run("What is the weather in Paris?")       # sync; `await agent.arun(...)` is the twin
    result.output, result.status, result.steps, result.session_id, result.turn_id
    result = agent.run("And in Rome?", session_id=result.session_id)
    session = agent.create_session("research")
    async for event in session.turn("question"):              # streamed events
        print(event.type)
    result = agent.resume(session_id, tool_responses={call_id: "Paris"}, approvals={call_id: True})

The sync methods run on a private event-loop thread owned by the agent (so they also work where an
event loop is already running, e.g. a notebook); the async ones run on the caller's loop. Use one style
per agent when it has stateful tools (the code interpreter's processes belong to the loop that started
them).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import mimetypes
import threading
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from llamasys.core_model.messages import ToolCall, ToolDefinition, UserMessage
from llamasys.safety.shield import Shield
from llamasys.safety.verdict import Touchpoint
from llamasys.tools.base import Attachment, Tool, ToolError
from llamasys.tools.registry import as_tool

from .backend_base import InferenceBackend
from .errors import AgentConfigError, ResumeError
from .result import TurnResult
from .safe_defaults import build_shield_set
from .steps import MemoryRetrievalStep, utcnow
from .store import AgentStore, SessionInfo, TurnRecord, process_owner
from .stream_events import AgentEvent, StepComplete, StepStart, TurnComplete
from .turn import TurnRunner, TurnSetup, check_resume

__all__ = ["Agent", "AgentSession"]

log = logging.getLogger(__name__)

DOCUMENT_SUFFIXES = {".pdf", ".md", ".markdown", ".html", ".htm", ".txt", ".rst"}


def _make_backend(model: Any) -> InferenceBackend:
    if isinstance(model, InferenceBackend):
        return model
    from .backend_engine import EngineBackend

    if isinstance(model, str | Path) or (hasattr(model, "generate") and hasattr(model, "tokenizer")):
        return EngineBackend(model)
    raise AgentConfigError(
        f"Agent(model=...) takes a catalogue id, a checkpoint path, an Engine or a back-end "
        f"(EngineBackend, OpenAIBackend, ScriptedBackend), not {type(model).__name__}"
    )


def _tool_definition(item: Any) -> ToolDefinition:
    if isinstance(item, ToolDefinition):
        return item
    try:
        return as_tool(item).definition
    except ToolError as exc:
        raise AgentConfigError(f"client_tools: {exc}") from exc


class _Portal:
    """An event loop on a daemon thread, for the sync API."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()

    def loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                threading.Thread(target=loop.run_forever, name="llamasys-agent", daemon=True).start()
                self._loop = loop
            return self._loop

    def run(self, coro: Any) -> Any:
        future = asyncio.run_coroutine_threadsafe(coro, self.loop())
        try:
            return future.result()
        except (KeyboardInterrupt, concurrent.futures.CancelledError):
            future.cancel()
            raise

    def close(self) -> None:
        with self._lock:
            loop, self._loop = self._loop, None
        if loop is not None:
            loop.call_soon_threadsafe(loop.stop)


class Agent:
    """An agent: a model (back-end), instructions, tools, shields and a store of its sessions.

    model: a catalogue id, a checkpoint path, an `Engine`, or a back-end (`EngineBackend`,
    `OpenAIBackend`, `ScriptedBackend`). tools: `Tool` instances, `@tool` functions, LangChain tools,
    entered `MCPToolset`s. A stateful tool (the `CodeInterpreter`) is a template: each session gets its
    own instance with the same options. client_tools: tools the client runs (`ToolDefinition`s or
    tools whose definition is used): a call ends the turn with status "awaiting_input" until `resume`.
    require_approval: tool names (or True for every server-side tool, or a predicate on the `ToolCall`)
    whose calls pause for a person's approval before they run.

    Shields per touchpoint: None (the default) = the recommended ones (see `safe_defaults`), a list =
    exactly those (`[]` = none there). `default_shields=False` turns the recommendation off;
    `require_shields=True` makes recommended shields whose model is missing fail closed.

    max_infer_iters: inferences with tools offered per turn before a tool-free final answer.
    tool_choice: "auto" (the default), "none", "required" or a tool's name; "required" and a name apply until
    a tool step has run in the turn, then the model may answer ("auto").
    sampling: `SamplingParams` (default: greedy, 512 new tokens). store: a SQLAlchemy URL or an
    `AgentStore`; default `$LLAMASYS_HOME/agents.db`. memory: a `MemoryStore` for documents attached to
    turns (each session gets a bank `session-<id>` and a `knowledge_search` tool over it)."""

    def __init__(
        self,
        model: Any,
        *,
        instructions: str = "You are a helpful assistant.",
        tools: Iterable[Any] = (),
        client_tools: Iterable[Any] = (),
        require_approval: Iterable[str] | bool | Callable[[ToolCall], bool] = (),
        input_shields: Sequence[Shield] | None = None,
        tool_input_shields: Sequence[Shield] | None = None,
        tool_output_shields: Sequence[Shield] | None = None,
        output_shields: Sequence[Shield] | None = None,
        default_shields: bool = True,
        require_shields: bool = False,
        max_infer_iters: int = 10,
        sampling: Any = None,
        tool_choice: str = "auto",
        store: str | AgentStore | None = None,
        memory: Any = None,
        name: str = "agent",
        agent_id: str | None = None,
    ) -> None:
        if max_infer_iters < 1:
            raise AgentConfigError("max_infer_iters must be at least 1")
        self.backend = _make_backend(model)
        self.instructions = instructions
        self.name = name
        self.agent_id = agent_id or name
        self.max_infer_iters = max_infer_iters
        if sampling is None:
            from llamasys.core_model.sampling_params import SamplingParams

            sampling = SamplingParams(max_tokens=512)
        self.sampling = sampling
        self.tool_choice = tool_choice
        self.memory = memory
        self._shared_tools: dict[str, Tool] = {}
        self._templates: dict[str, Tool] = {}
        self._toolsets: list[Any] = []
        for item in tools:
            self._add_tool(item)
        self._definitions = {
            name: t.definition for name, t in {**self._shared_tools, **self._templates}.items()
        }
        self.client_tools = {d.name: d for d in map(_tool_definition, client_tools)}
        clash = set(self.client_tools) & (set(self._shared_tools) | set(self._templates))
        if clash:
            raise AgentConfigError(
                f"tools {sorted(clash)} are given both as server-side and client-side tools"
            )
        if callable(require_approval) and not isinstance(require_approval, bool):
            self._needs_approval: Callable[[ToolCall], bool] = require_approval
        elif require_approval is True:
            self._needs_approval = lambda call: True
        else:
            names = frozenset(() if require_approval is False else require_approval)  # type: ignore[arg-type]
            self._needs_approval = lambda call: call.tool_name in names
        self.shields = build_shield_set(
            {
                Touchpoint.user_input: input_shields,
                Touchpoint.tool_input: tool_input_shields,
                Touchpoint.tool_output: tool_output_shields,
                Touchpoint.assistant_output: output_shields,
            },
            default_shields=default_shields,
            require_shields=require_shields,
        )
        self._owns_store = not isinstance(store, AgentStore)
        self.store = store if isinstance(store, AgentStore) else AgentStore(store)
        self.store.ensure_agent(
            self.agent_id, name, {"instructions": instructions, "model": self.backend.model_name}
        )
        self.owner = process_owner()
        self._session_tools: dict[str, dict[str, Tool]] = {}
        self._running: dict[str, tuple[asyncio.AbstractEventLoop, asyncio.Task[Any]]] = {}
        self._portal = _Portal()

    # -- tools ----------------------------------------------------------------------------------------

    def _add_tool(self, item: Any) -> None:
        if hasattr(item, "tools") and hasattr(item, "__aenter__") and not isinstance(item, Tool):
            if not item.tools:
                raise AgentConfigError(
                    "an MCP toolset must be entered first: `async with connect_stdio(...) as toolset:` "
                    "(or `await toolset.__aenter__()`), then pass it to Agent"
                )
            self._toolsets.append(item)
            for tool in item.tools:
                self._add_tool(tool)
            return
        try:
            tool = as_tool(item)
        except ToolError as exc:
            raise AgentConfigError(f"tools: {exc}") from exc
        if tool.name in self._shared_tools or tool.name in self._templates:
            raise AgentConfigError(f"two tools are named {tool.name!r}: give each tool a unique name")
        if _is_per_session(tool):
            self._templates[tool.name] = tool
        else:
            self._shared_tools[tool.name] = tool

    async def _tools_for(self, session_id: str) -> tuple[dict[str, Tool], list[Tool]]:
        """Server-side tools of one session (templates instantiated for it) and the per-session ones."""
        own = self._session_tools.get(session_id)
        if own is None:
            own = {name: _session_instance(t, session_id) for name, t in self._templates.items()}
            self._session_tools[session_id] = own
        tools = {**self._shared_tools, **own}
        bank_tool = await self._bank_tool(session_id)
        if bank_tool is not None:
            tools[bank_tool.name] = bank_tool
        return tools, list(own.values())

    async def _bank_tool(self, session_id: str) -> Tool | None:
        if self.memory is None:
            return None
        info = self.store.get_session(session_id)
        bank = info.data.get("memory_bank")
        if not bank:
            return None
        from llamasys.tools.memory import KnowledgeSearchTool

        return KnowledgeSearchTool(self.memory, [bank])

    # -- sessions -------------------------------------------------------------------------------------

    def create_session(self, name: str = "") -> AgentSession:
        """A new stored session."""
        info = self.store.create_session(self.agent_id, name)
        return AgentSession(self, info)

    def get_session(self, session_id: str) -> AgentSession:
        return AgentSession(self, self.store.get_session(session_id))

    def list_sessions(self) -> list[SessionInfo]:
        """This agent's sessions (by `agent_id`), oldest first."""
        return self.store.list_sessions(self.agent_id)

    def delete_session(self, session_id: str) -> None:
        """Delete a session with its turns, steps and messages; its tool instances are closed."""
        self.store.delete_session(session_id)
        own = self._session_tools.pop(session_id, {})
        if own:
            self._portal.run(_close_all(list(own.values())))

    # -- turns ----------------------------------------------------------------------------------------

    async def turn_events(
        self,
        message: str | UserMessage,
        *,
        session_id: str | None = None,
        attachments: Sequence[Any] = (),
    ) -> AsyncIterator[AgentEvent]:
        """Run one turn and stream its events (the last is `turn_complete`). A new session is created
        when `session_id` is None (read it from the first event)."""
        if session_id is None:
            session_id = self.store.create_session(self.agent_id).session_id
        user = message if isinstance(message, UserMessage) else UserMessage(content=str(message))
        turn_id = uuid.uuid4().hex
        store_user = not attachments and not self.shields.active(Touchpoint.user_input)
        recovered, history = self.store.begin_turn(
            session_id,
            turn_id,
            self.owner,
            {"message": user.model_dump(mode="json")},
            messages=[user] if store_user else (),
        )
        if recovered:
            log.warning("session %s: turn(s) %s were cut short by a stopped process", session_id, recovered)
        try:
            tools, own = await self._tools_for(session_id)
            pre_steps: list[AgentEvent] = []
            if attachments:
                user, pre_steps, tools = await self._attach(
                    session_id, turn_id, user, attachments, tools, own
                )
        except BaseException as exc:
            self.store.finish_turn(session_id, turn_id, self.owner, status="failed", error=str(exc))
            raise
        runner = TurnRunner(self._setup(session_id, turn_id, history, tools, own))
        runner.s.user_stored = store_user
        runner.steps.extend(e.step for e in pre_steps if isinstance(e, StepComplete))
        async for event in self._tracked(session_id, runner.run(user), pre_steps):
            yield event

    async def _tracked(
        self, session_id: str, events: AsyncIterator[AgentEvent], pre: Sequence[AgentEvent] = ()
    ) -> AsyncIterator[AgentEvent]:
        task = asyncio.current_task()
        if task is not None:
            self._running[session_id] = (asyncio.get_running_loop(), task)
        try:
            first = True
            async for event in events:
                yield event
                if first:
                    first = False
                    for item in pre:
                        yield item
        except (asyncio.CancelledError, GeneratorExit):
            # the turn closed this session's tool instances (ending their processes): the next turn
            # gets fresh ones
            self._session_tools.pop(session_id, None)
            raise
        finally:
            self._running.pop(session_id, None)
            await events.aclose()  # type: ignore[attr-defined]

    def _setup(
        self, session_id: str, turn_id: str, history: list[Any], tools: dict[str, Tool], own: list[Tool]
    ) -> TurnSetup:
        from llamasys.core_model.messages import SystemMessage

        system = [SystemMessage(content=self.instructions)] if self.instructions else []
        setup = TurnSetup(
            backend=self.backend,
            store=self.store,
            owner=self.owner,
            session_id=session_id,
            turn_id=turn_id,
            system=system,
            tools=tools,
            client_tools=self.client_tools,
            needs_approval=lambda call: call.tool_name in tools and self._needs_approval(call),
            shields=self.shields,
            max_infer_iters=self.max_infer_iters,
            sampling=self.sampling,
            tool_choice=self.tool_choice,
            history=history,
            heartbeat_s=max(1.0, self.store.stale_after_s / 4),
            closeables=own,
            definitions=self._definitions,
        )
        return setup

    async def arun(
        self, message: str | UserMessage, *, session_id: str | None = None, attachments: Sequence[Any] = ()
    ) -> TurnResult:
        """Run one turn to its end; returns the `TurnResult`."""
        return await _last_result(self.turn_events(message, session_id=session_id, attachments=attachments))

    def run(
        self, message: str | UserMessage, *, session_id: str | None = None, attachments: Sequence[Any] = ()
    ) -> TurnResult:
        """The sync twin of `arun`."""
        return self._portal.run(self.arun(message, session_id=session_id, attachments=attachments))

    async def resume_events(
        self,
        session_id: str,
        *,
        tool_responses: dict[str, Any] | None = None,
        approvals: dict[str, bool] | None = None,
    ) -> AsyncIterator[AgentEvent]:
        """Continue the session's turn that awaits input, streaming its events.

        tool_responses: call id -> the client tool's result (str, JSON-able value or `ToolResult`);
        approvals: call id -> True (run it) / False (deny). Every pending call must be answered; a call
        that is not pending, or an approval never asked for, raises `ResumeError`."""
        tool_responses, approvals = dict(tool_responses or {}), dict(approvals or {})
        paused = self.store.paused_turn(session_id)
        if paused is None:
            self.store.get_session(session_id)  # UnknownSessionError first
            raise ResumeError(f"session {session_id} has no turn awaiting input: nothing to resume")
        check_resume(paused, tool_responses, approvals)
        self.store.claim(session_id, paused.turn_id, self.owner)
        try:
            latest = self.store.paused_turn(session_id)
            if latest is None or latest.turn_id != paused.turn_id:
                raise ResumeError(f"turn {paused.turn_id} was resumed by someone else meanwhile")
            self.store.set_turn_status(paused.turn_id, "running")
            all_messages = self.store.messages(session_id)
            turn_messages = self.store.messages(session_id, paused.turn_id)
            history = all_messages[: len(all_messages) - len(turn_messages)]
            tools, own = await self._tools_for(session_id)
        except BaseException:
            self.store.release(session_id, self.owner)
            raise
        runner = TurnRunner(self._setup(session_id, paused.turn_id, history, tools, own))
        async for event in self._tracked(session_id, runner.resume(paused, tool_responses, approvals)):
            yield event

    async def aresume(
        self,
        session_id: str,
        *,
        tool_responses: dict[str, Any] | None = None,
        approvals: dict[str, bool] | None = None,
    ) -> TurnResult:
        return await _last_result(
            self.resume_events(session_id, tool_responses=tool_responses, approvals=approvals)
        )

    def resume(
        self,
        session_id: str,
        tool_responses: dict[str, Any] | None = None,
        approvals: dict[str, bool] | None = None,
    ) -> TurnResult:
        """The sync twin of `aresume`."""
        return self._portal.run(self.aresume(session_id, tool_responses=tool_responses, approvals=approvals))

    def cancel(self, session_id: str) -> bool:
        """Cancel the session's running turn in this process (status "cancelled", its tool processes
        ended). Returns False when no turn of that session runs here."""
        entry = self._running.get(session_id)
        if entry is None:
            return False
        loop, task = entry
        loop.call_soon_threadsafe(task.cancel)
        return True

    # -- attachments ----------------------------------------------------------------------------------

    async def _attach(
        self,
        session_id: str,
        turn_id: str,
        user: UserMessage,
        attachments: Sequence[Any],
        tools: dict[str, Tool],
        own: list[Tool],
    ) -> tuple[UserMessage, list[AgentEvent], dict[str, Tool]]:
        files = [_read_attachment(a) for a in attachments]
        interpreter = next((t for t in own if hasattr(t, "upload")), None)
        uploaded: list[str] = []
        documents: list[Attachment] = []
        for item in files:
            is_document = Path(item.name).suffix.lower() in DOCUMENT_SUFFIXES
            if is_document and self.memory is not None:
                documents.append(item)
            elif interpreter is not None:
                await interpreter.upload(item.name, item.data)  # type: ignore[attr-defined]
                uploaded.append(item.name)
            else:
                raise AgentConfigError(
                    f"attachment {item.name!r} has nowhere to go: give the agent a CodeInterpreter (data files) "
                    "or memory=MemoryStore(...) (documents)"
                )
        events: list[AgentEvent] = []
        notes = []
        if uploaded:
            notes.append("Files in the code interpreter's working directory: " + ", ".join(uploaded))
        if documents:
            bank_name = f"session-{session_id}"
            step = MemoryRetrievalStep(memory_bank_ids=[bank_name], turn_id=turn_id)

            def ingest() -> None:
                bank = self.memory.create_bank(bank_name, exist_ok=True)
                for doc in documents:
                    bank.add_payload(doc.data, source=doc.name, content_type=doc.mime_type, title=doc.name)

            await asyncio.to_thread(ingest)
            self.store.set_session_data(session_id, memory_bank=bank_name)
            step.ingested_documents = [d.name for d in documents]
            step.completed_at = utcnow()
            step.duration_s = (step.completed_at - step.started_at).total_seconds()
            self.store.add_step(session_id, turn_id, step)
            events += [
                StepStart(turn_id=turn_id, step_id=step.step_id, step_type="memory_retrieval"),
                StepComplete(turn_id=turn_id, step=step),
            ]
            bank_tool = await self._bank_tool(session_id)
            if bank_tool is not None:
                tools = {**tools, bank_tool.name: bank_tool}
            notes.append(
                "Documents added to your knowledge base (search them with knowledge_search): "
                + ", ".join(step.ingested_documents)
            )
        content = user.content + ("\n\n[" + "; ".join(notes) + "]" if notes else "")
        return user.model_copy(update={"content": content}), events, tools

    # -- closing --------------------------------------------------------------------------------------

    async def aclose(self) -> None:
        """Close per-session tool instances, toolsets and the back-end."""
        tools = [t for own in self._session_tools.values() for t in own.values()]
        self._session_tools.clear()
        await _close_all(tools)
        for toolset in self._toolsets:
            await toolset.aclose()
        await self.backend.aclose()
        if self._owns_store:
            self.store.close()  # its connections; a later call reconnects

    def close(self) -> None:
        self._portal.run(self.aclose())
        self._portal.close()


class AgentSession:
    """A stored conversation of an agent: `turn` streams events, `run`/`arun` return results."""

    def __init__(self, agent: Agent, info: SessionInfo) -> None:
        self.agent = agent
        self.info = info

    @property
    def session_id(self) -> str:
        return self.info.session_id

    @property
    def name(self) -> str:
        return self.info.name

    def turn(
        self, message: str | UserMessage, *, attachments: Sequence[Any] = ()
    ) -> AsyncIterator[AgentEvent]:
        return self.agent.turn_events(message, session_id=self.session_id, attachments=attachments)

    async def arun(self, message: str | UserMessage, *, attachments: Sequence[Any] = ()) -> TurnResult:
        return await self.agent.arun(message, session_id=self.session_id, attachments=attachments)

    def run(self, message: str | UserMessage, *, attachments: Sequence[Any] = ()) -> TurnResult:
        return self.agent.run(message, session_id=self.session_id, attachments=attachments)

    def resume(
        self, tool_responses: dict[str, Any] | None = None, approvals: dict[str, bool] | None = None
    ) -> TurnResult:
        return self.agent.resume(self.session_id, tool_responses, approvals)

    def messages(self) -> list[Any]:
        """The stored conversation (without the system prompt)."""
        return self.agent.store.messages(self.session_id)

    def turns(self) -> list[TurnRecord]:
        return self.agent.store.list_turns(self.session_id)


async def _last_result(events: AsyncIterator[AgentEvent]) -> TurnResult:
    result: TurnResult | None = None
    async for event in events:
        if isinstance(event, TurnComplete):
            result = event.result
    assert result is not None, "a turn always ends with turn_complete"
    return result


async def _close_all(tools: Sequence[Tool]) -> None:
    for tool in tools:
        try:
            await tool.close()
        except Exception:
            log.warning("closing tool %s failed", tool.name, exc_info=True)


def _is_per_session(tool: Tool) -> bool:
    return hasattr(tool, "for_session") or type(tool).__name__ == "CodeInterpreter"


def _session_instance(template: Tool, session_id: str) -> Tool:
    """A fresh instance of a stateful tool for one session, with the template's options."""
    if hasattr(template, "for_session"):
        return template.for_session(session_id)  # type: ignore[attr-defined]
    from llamasys.tools.code_interpreter import CodeInterpreter

    assert isinstance(template, CodeInterpreter)
    limits = template.limits
    return CodeInterpreter(
        cpu_seconds=limits.cpu_seconds,
        session_cpu_seconds=limits.session_cpu_seconds,
        memory_bytes=limits.memory_bytes,
        max_processes=limits.max_processes,
        max_file_bytes=limits.max_file_bytes,
        max_open_files=limits.max_open_files,
        workdir_bytes=limits.workdir_bytes,
        tmp_bytes=limits.tmp_bytes,
        wall_timeout_s=template.wall_timeout_s,
        start_timeout_s=template.start_timeout_s,
        max_output_chars=template.max_output_chars,
        attach_files_max_bytes=template.attach_files_max_bytes,
        figure_dpi=template.figure_dpi,
        max_figures=template.max_figures,
        network=template.network,
        backend=template.requested_backend,
        allow_unsandboxed=template.allow_unsandboxed,
        sandbox_uid=template.sandbox_uid,
        env=dict(template.env),
        session_id=session_id,
    )


def _read_attachment(item: Any) -> Attachment:
    if isinstance(item, Attachment):
        return item
    if isinstance(item, tuple) and len(item) == 2:
        name, data = item
        data = data.encode() if isinstance(data, str) else data
        mime = mimetypes.guess_type(name)[0] or "application/octet-stream"
        return Attachment(name=Path(name).name, mime_type=mime, data=data)
    if isinstance(item, str | Path):
        path = Path(item)
        if not path.is_file():
            raise AgentConfigError(f"attachment {str(path)!r} is not a file")
        mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return Attachment(name=path.name, mime_type=mime, data=path.read_bytes())
    raise AgentConfigError(
        f"an attachment is a path, a (name, bytes) pair or a tools.Attachment, not {type(item).__name__}"
    )
