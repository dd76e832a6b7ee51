"""Agents, sessions, turns, steps and messages in any SQLAlchemy database, committed step by step.

    store = AgentStore("sqlite:////path/agents.db")       # or "postgresql+psycopg://user@host/db"
    store = AgentStore()                                  # $LLAMASYS_HOME/agents.db (~/.cache/llamasys)

Tables: `agentic_agents`, `agentic_sessions`, `agentic_turns`, `agentic_steps`, `agentic_messages`.
Each completed step is one transaction that writes the step row, the messages it adds to the
conversation and the turn's progress, so a process killed mid-turn loses at most the step in flight.

One writer per session, across processes. A turn starts by claiming the session row with one atomic
`UPDATE agentic_sessions SET running_turn_id=... WHERE id=... AND running_turn_id IS NULL`; a second
turn (this process or another sharing the database) finds the row claimed and gets `SessionBusyError`
at once. The claim carries its owner (`host:pid:nonce`) and a heartbeat the running turn refreshes; a
claim whose owner process is gone (same host, pid not alive) or whose heartbeat is older than
`stale_after_s` is taken over: the cut-short turn is marked `interrupted` and its dangling tool calls
are closed with a notice, so the next prompt is well-formed.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, TypeAdapter
from sqlalchemy import (
    JSON,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    bindparam,
    create_engine,
    delete,
    event,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Engine as SAEngine
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.pool import StaticPool

from llamasys.core_model.messages import AssistantMessage, Message, ToolResponseMessage

from .errors import AgentConfigError, SessionBusyError, UnknownSessionError
from .result import PendingCall
from .steps import STEP_ADAPTER, utcnow

__all__ = ["AgentStore", "SessionInfo", "TurnRecord", "default_store_url", "process_owner"]

_MESSAGES: TypeAdapter[list[Message]] = TypeAdapter(list[Message])
INTERRUPTED_NOTICE = (
    "This tool call did not finish: the turn was interrupted (the process running it stopped). "
    "No result is available; call the tool again if you still need it."
)
ABANDONED_NOTICE = (
    "This tool call was not run: the user started a new message instead of answering it. "
    "Do not assume a result."
)


def default_store_url() -> str:
    """`sqlite:///$LLAMASYS_HOME/agents.db` (LLAMASYS_HOME defaults to ~/.cache/llamasys)."""
    home = Path(os.environ.get("LLAMASYS_HOME") or Path.home() / ".cache" / "llamasys").expanduser()
    return f"sqlite:///{home / 'agents.db'}"


def process_owner() -> str:
    """This process's claim label: `host:pid:nonce`."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _owner_dead(owner: str | None) -> bool:
    if not owner:
        return True
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False  # another machine: only the heartbeat can tell
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


class _Base(DeclarativeBase):
    pass


class AgentRow(_Base):
    __tablename__ = "agentic_agents"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class SessionRow(_Base):
    __tablename__ = "agentic_sessions"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    agent_id: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    running_turn_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    lock_owner: Mapped[str | None] = mapped_column(String(200), nullable=True)
    heartbeat_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class TurnRow(_Base):
    __tablename__ = "agentic_turns"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("agentic_sessions.id", ondelete="CASCADE"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(32))
    input: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    output: Mapped[str] = mapped_column(Text, default="")
    pending: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    iterations: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class StepRow(_Base):
    __tablename__ = "agentic_steps"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    turn_id: Mapped[str] = mapped_column(ForeignKey("agentic_turns.id", ondelete="CASCADE"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    step_type: Mapped[str] = mapped_column(String(32))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)


class MessageRow(_Base):
    __tablename__ = "agentic_messages"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("agentic_sessions.id", ondelete="CASCADE"), index=True)
    turn_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)


class SessionInfo(BaseModel):
    session_id: str
    agent_id: str
    name: str = ""
    created_at: datetime
    running_turn_id: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)


class TurnRecord(BaseModel):
    """A stored turn. `pending` holds the paused state of a turn awaiting input: the calls of the
    assistant message it stopped on (`calls`), the responses already known (`done`, by call id) and
    what each waiting call waits for (`waiting`: call id -> "client" | "approval")."""

    turn_id: str
    session_id: str
    seq: int
    status: str
    input: dict[str, Any] = Field(default_factory=dict)
    output: str = ""
    pending: dict[str, Any] = Field(default_factory=dict)
    iterations: int = 0
    error: str | None = None
    started_at: datetime
    completed_at: datetime | None = None

    def pending_calls(self) -> list[PendingCall]:
        waiting = self.pending.get("waiting", {})
        calls = {c["call_id"]: c for c in self.pending.get("calls", [])}
        return [
            PendingCall.model_validate({"call": calls[cid], "kind": kind}) for cid, kind in waiting.items()
        ]


def _dump(message: Any) -> dict[str, Any]:
    return message.model_dump(mode="json")


class AgentStore:
    """The repository over one database URL (see the module docstring). Thread-safe; methods are
    synchronous and short (one transaction each, SQLAlchemy Core statements)."""

    def __init__(self, url: str | None = None, *, stale_after_s: float = 60.0, echo: bool = False) -> None:
        self.url = url or default_store_url()
        self.stale_after_s = stale_after_s
        try:
            self.engine: SAEngine = self._make_engine(self.url, echo)
        except ArgumentError as exc:
            raise AgentConfigError(
                f"store={self.url!r} is not a database URL: use e.g. 'sqlite:////abs/path/agents.db' or "
                f"'postgresql+psycopg://user@host/db' ({exc})"
            ) from exc
        _Base.metadata.create_all(self.engine)

    @staticmethod
    def _make_engine(url: str, echo: bool) -> SAEngine:
        if not url.startswith("sqlite"):
            return create_engine(url, echo=echo, pool_pre_ping=True)
        path = url.split(":///", 1)[1] if ":///" in url else ""
        memory = path in ("", ":memory:")
        if not memory:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            echo=echo,
            connect_args={"timeout": 30, "check_same_thread": False},
            poolclass=StaticPool if memory else None,
        )

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (below)
            cursor = dbapi_conn.cursor()
            if not memory:
                cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _begin(conn: Any) -> None:
            # take the write lock up front: a deferred transaction that reads, then writes, can fail at
            # once with "database is locked" when another process wrote in between; IMMEDIATE waits
            # (busy timeout) instead
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    def _tx(self) -> Any:
        return self.engine.begin()

    def close(self) -> None:
        self.engine.dispose()

    # -- agents and sessions ------------------------------------------------------------------------

    def ensure_agent(self, agent_id: str, name: str, config: dict[str, Any]) -> None:
        with self._tx() as db:
            found = db.execute(
                update(_AGENTS).where(_AGENTS.c.id == agent_id).values(name=name, config=config)
            )
            if not found.rowcount:
                db.execute(insert(_AGENTS).values(id=agent_id, name=name, config=config, created_at=utcnow()))

    def create_session(self, agent_id: str, name: str = "", session_id: str | None = None) -> SessionInfo:
        row = {"id": session_id or uuid.uuid4().hex, "agent_id": agent_id, "name": name, "data": {}}
        row["created_at"] = utcnow()
        with self._tx() as db:
            db.execute(_INSERT_SESSION, row)
        return SessionInfo(session_id=row["id"], agent_id=agent_id, name=name, created_at=row["created_at"])

    @staticmethod
    def _info(row: Any) -> SessionInfo:
        return SessionInfo(
            session_id=row.id,
            agent_id=row.agent_id,
            name=row.name,
            created_at=row.created_at,
            running_turn_id=row.running_turn_id,
            data=dict(row.data or {}),
        )

    def _session_row(self, db: Any, session_id: str) -> Any:
        row = db.execute(select(_SESSIONS).where(_SESSIONS.c.id == session_id)).first()
        if row is None:
            raise UnknownSessionError(
                f"no session {session_id!r} in {self.url}: create one with agent.create_session()"
            )
        return row

    def get_session(self, session_id: str) -> SessionInfo:
        with self._tx() as db:
            return self._info(self._session_row(db, session_id))

    def list_sessions(self, agent_id: str | None = None) -> list[SessionInfo]:
        with self._tx() as db:
            query = select(_SESSIONS).order_by(_SESSIONS.c.created_at)
            if agent_id is not None:
                query = query.where(_SESSIONS.c.agent_id == agent_id)
            return [self._info(r) for r in db.execute(query)]

    def delete_session(self, session_id: str) -> None:
        with self._tx() as db:
            self._session_row(db, session_id)
            turn_ids = select(_TURNS.c.id).where(_TURNS.c.session_id == session_id)
            db.execute(delete(_STEPS).where(_STEPS.c.turn_id.in_(turn_ids)))
            db.execute(delete(_TURNS).where(_TURNS.c.session_id == session_id))
            db.execute(delete(_MESSAGES_T).where(_MESSAGES_T.c.session_id == session_id))
            db.execute(delete(_SESSIONS).where(_SESSIONS.c.id == session_id))

    def set_session_data(self, session_id: str, **values: Any) -> None:
        with self._tx() as db:
            row = self._session_row(db, session_id)
            db.execute(
                update(_SESSIONS)
                .where(_SESSIONS.c.id == session_id)
                .values(data={**(row.data or {}), **values})
            )

    # -- the per-session lock ------------------------------------------------------------------------

    def claim(self, session_id: str, turn_id: str, owner: str) -> list[str]:
        """Claim the session for `turn_id`; returns the ids of turns recovered from a dead owner.

        Raises UnknownSessionError, or SessionBusyError when a live turn holds the session."""
        with self._tx() as db:
            return self._claim(db, session_id, turn_id, owner)

    def _claim(self, db: Any, session_id: str, turn_id: str, owner: str) -> list[str]:
        now = time.time()
        claimed = db.execute(_CLAIM, {"sid": session_id, "tid": turn_id, "owner": owner, "now": now}).rowcount
        if claimed:
            return []
        row = self._session_row(db, session_id)
        stale = row.heartbeat_at is None or now - row.heartbeat_at > self.stale_after_s
        if not (stale or _owner_dead(row.lock_owner)):
            raise SessionBusyError(
                f"session {session_id} already has a turn running ({row.running_turn_id}, owned by "
                f"{row.lock_owner}); wait for it to finish or cancel it, then send this message again"
            )
        old_turn, old_owner = row.running_turn_id, row.lock_owner
        taken = db.execute(
            update(_SESSIONS)
            .where(_SESSIONS.c.id == session_id, _SESSIONS.c.lock_owner == old_owner)
            .values(running_turn_id=turn_id, lock_owner=owner, heartbeat_at=now)
        ).rowcount
        if not taken:
            raise SessionBusyError(f"session {session_id} was claimed by another process just now")
        recovered = []
        if old_turn is not None:
            status = db.execute(select(_TURNS.c.status).where(_TURNS.c.id == old_turn)).scalar()
            if status == "running":
                db.execute(
                    update(_TURNS)
                    .where(_TURNS.c.id == old_turn)
                    .values(
                        status="interrupted",
                        completed_at=utcnow(),
                        error=f"the process running this turn ({old_owner}) stopped before it finished",
                    )
                )
                recovered.append(old_turn)
            self._close_dangling(db, session_id, old_turn, INTERRUPTED_NOTICE)
        return recovered

    def heartbeat(self, session_id: str, owner: str) -> None:
        with self._tx() as db:
            db.execute(
                update(_SESSIONS)
                .where(_SESSIONS.c.id == session_id, _SESSIONS.c.lock_owner == owner)
                .values(heartbeat_at=time.time())
            )

    def release(self, session_id: str, owner: str) -> None:
        with self._tx() as db:
            db.execute(_RELEASE, {"sid": session_id, "owner": owner})

    def _close_dangling(self, db: Any, session_id: str, turn_id: str | None, notice: str) -> int:
        """Answer the last assistant message's unanswered tool calls with `notice`."""
        rows = db.execute(
            select(_MESSAGES_T.c.turn_id, _MESSAGES_T.c.data)
            .where(_MESSAGES_T.c.session_id == session_id)
            .order_by(_MESSAGES_T.c.id.desc())
            .limit(64)
        ).all()
        answered: set[str] = set()
        for row_turn, data in rows:
            if data.get("role") == "tool":
                answered.add(data["call_id"])
            elif data.get("role") == "assistant" and data.get("tool_calls"):
                missing = [c for c in data["tool_calls"] if c["call_id"] not in answered]
                if missing:
                    closing = [
                        ToolResponseMessage(call_id=c["call_id"], tool_name=c["tool_name"], content=notice)
                        for c in missing
                    ]
                    self._insert_messages(db, session_id, row_turn or turn_id, closing)
                return len(missing)
            elif data.get("role") in ("user", "assistant"):
                return 0
        return 0

    @staticmethod
    def _insert_messages(db: Any, session_id: str, turn_id: str | None, messages: Sequence[Message]) -> None:
        if messages:
            db.execute(
                _INSERT_MESSAGE,
                [{"session_id": session_id, "turn_id": turn_id, "data": _dump(m)} for m in messages],
            )

    # -- turns --------------------------------------------------------------------------------------

    def begin_turn(
        self,
        session_id: str,
        turn_id: str,
        owner: str,
        user_input: dict[str, Any],
        *,
        messages: Sequence[Message] = (),
    ) -> tuple[list[str], list[Message]]:
        """Claim the session, insert the turn row (status running) and `messages`, in one transaction.
        A turn left awaiting input is closed as cancelled (its pending calls answered with a notice).
        Returns the ids of turns recovered from a dead owner, and the conversation before this turn."""
        with self._tx() as db:
            recovered = self._claim(db, session_id, turn_id, owner)
            paused = db.execute(_PAUSED_IDS, {"sid": session_id}).scalars().all()
            for paused_id in paused:
                db.execute(
                    update(_TURNS)
                    .where(_TURNS.c.id == paused_id)
                    .values(
                        status="cancelled",
                        completed_at=utcnow(),
                        error="a new message was sent instead of resuming",
                    )
                )
                self._close_dangling(db, session_id, paused_id, ABANDONED_NOTICE)
            seq = db.execute(_COUNT_TURNS, {"sid": session_id}).scalar() or 0
            db.execute(
                _INSERT_TURN,
                {
                    "id": turn_id,
                    "session_id": session_id,
                    "seq": seq,
                    "status": "running",
                    "input": user_input,
                    "output": "",
                    "pending": {},
                    "iterations": 0,
                    "started_at": utcnow(),
                },
            )
            history = self._messages(db, session_id)
            self._insert_messages(db, session_id, turn_id, messages)
        return recovered, history

    def paused_turn(self, session_id: str) -> TurnRecord | None:
        with self._tx() as db:
            row = db.execute(
                select(_TURNS)
                .where(_TURNS.c.session_id == session_id, _TURNS.c.status == "awaiting_input")
                .order_by(_TURNS.c.seq.desc())
            ).first()
            return None if row is None else self._turn(row)

    def set_turn_status(self, turn_id: str, status: str) -> None:
        with self._tx() as db:
            db.execute(update(_TURNS).where(_TURNS.c.id == turn_id).values(status=status))

    def add_step(
        self,
        session_id: str,
        turn_id: str,
        step: Any,
        messages: Sequence[Message] = (),
        *,
        seq: int | None = None,
        iterations: int | None = None,
    ) -> None:
        """One transaction: the step, the messages it adds to the conversation, the turn's progress.
        `seq`: the step's position in the turn (counted in the database when not given)."""
        with self._tx() as db:
            self._insert_step(db, session_id, turn_id, step, messages, seq, iterations)

    def _insert_step(
        self,
        db: Any,
        session_id: str,
        turn_id: str,
        step: Any,
        messages: Sequence[Message],
        seq: int | None,
        iterations: int | None,
    ) -> None:
        if seq is None:
            seq = db.execute(select(func.count()).where(_STEPS.c.turn_id == turn_id)).scalar() or 0
        db.execute(
            _INSERT_STEP,
            {
                "id": step.step_id,
                "turn_id": turn_id,
                "seq": seq,
                "step_type": step.step_type,
                "data": step.model_dump(mode="json"),
            },
        )
        self._insert_messages(db, session_id, turn_id, messages)
        if iterations is not None:
            db.execute(_SET_ITERATIONS, {"tid": turn_id, "iterations": iterations})

    def add_messages(self, session_id: str, turn_id: str, messages: Sequence[Message]) -> None:
        with self._tx() as db:
            self._insert_messages(db, session_id, turn_id, messages)

    def finish_turn(
        self,
        session_id: str,
        turn_id: str,
        owner: str,
        *,
        status: str,
        output: str = "",
        pending: dict[str, Any] | None = None,
        error: str | None = None,
        messages: Sequence[Message] = (),
        close_dangling: str | None = None,
        step: Any = None,
        step_seq: int | None = None,
        iterations: int | None = None,
    ) -> None:
        """End (or pause) the turn and release the session, in one transaction (with the last `step`
        and its `messages` when given)."""
        with self._tx() as db:
            if step is not None:
                self._insert_step(db, session_id, turn_id, step, messages, step_seq, iterations)
            else:
                self._insert_messages(db, session_id, turn_id, messages)
            if close_dangling is not None:
                self._close_dangling(db, session_id, turn_id, close_dangling)
            done = None if status == "awaiting_input" else utcnow()
            db.execute(
                _FINISH,
                {
                    "tid": turn_id,
                    "p_status": status,
                    "p_output": output,
                    "p_error": error,
                    "p_pending": pending or {},
                    "p_done": done,
                },
            )
            db.execute(_RELEASE, {"sid": session_id, "owner": owner})

    @staticmethod
    def _turn(row: Any) -> TurnRecord:
        return TurnRecord(
            turn_id=row.id,
            session_id=row.session_id,
            seq=row.seq,
            status=row.status,
            input=dict(row.input or {}),
            output=row.output or "",
            pending=dict(row.pending or {}),
            iterations=row.iterations or 0,
            error=row.error,
            started_at=row.started_at,
            completed_at=row.completed_at,
        )

    def get_turn(self, turn_id: str) -> TurnRecord:
        with self._tx() as db:
            row = db.execute(select(_TURNS).where(_TURNS.c.id == turn_id)).first()
            if row is None:
                raise UnknownSessionError(f"no turn {turn_id!r} in {self.url}")
            return self._turn(row)

    def list_turns(self, session_id: str) -> list[TurnRecord]:
        with self._tx() as db:
            rows = db.execute(select(_TURNS).where(_TURNS.c.session_id == session_id).order_by(_TURNS.c.seq))
            return [self._turn(r) for r in rows]

    def steps(self, turn_id: str) -> list[Any]:
        with self._tx() as db:
            rows = db.execute(select(_STEPS.c.data).where(_STEPS.c.turn_id == turn_id).order_by(_STEPS.c.seq))
            return [STEP_ADAPTER.validate_python(data) for data in rows.scalars()]

    def messages(self, session_id: str, turn_id: str | None = None) -> list[Message]:
        """The conversation in order (the system prompt is not stored: the agent adds it)."""
        with self._tx() as db:
            return self._messages(db, session_id, turn_id)

    @staticmethod
    def _messages(db: Any, session_id: str, turn_id: str | None = None) -> list[Message]:
        if turn_id is None:
            rows = db.execute(_HISTORY, {"sid": session_id})
        else:
            rows = db.execute(_TURN_MESSAGES, {"sid": session_id, "tid": turn_id})
        return _MESSAGES.validate_python(list(rows.scalars()))


_AGENTS = AgentRow.__table__
_SESSIONS = SessionRow.__table__
_TURNS = TurnRow.__table__
_STEPS = StepRow.__table__
_MESSAGES_T = MessageRow.__table__
_INSERT_STEP = insert(_STEPS)
_SET_ITERATIONS = (
    update(_TURNS).where(_TURNS.c.id == bindparam("tid")).values(iterations=bindparam("iterations"))
)
_INSERT_MESSAGE = insert(_MESSAGES_T)
_INSERT_SESSION = insert(_SESSIONS)
_INSERT_TURN = insert(_TURNS)
_CLAIM = (
    update(_SESSIONS)
    .where(_SESSIONS.c.id == bindparam("sid"), _SESSIONS.c.running_turn_id.is_(None))
    .values(running_turn_id=bindparam("tid"), lock_owner=bindparam("owner"), heartbeat_at=bindparam("now"))
)
_PAUSED_IDS = select(_TURNS.c.id).where(
    _TURNS.c.session_id == bindparam("sid"), _TURNS.c.status == "awaiting_input"
)
_COUNT_TURNS = select(func.count()).where(_TURNS.c.session_id == bindparam("sid"))
_HISTORY = (
    select(_MESSAGES_T.c.data).where(_MESSAGES_T.c.session_id == bindparam("sid")).order_by(_MESSAGES_T.c.id)
)
_TURN_MESSAGES = (
    select(_MESSAGES_T.c.data)
    .where(_MESSAGES_T.c.session_id == bindparam("sid"), _MESSAGES_T.c.turn_id == bindparam("tid"))
    .order_by(_MESSAGES_T.c.id)
)
_FINISH = (
    update(_TURNS)
    .where(_TURNS.c.id == bindparam("tid"))
    .values(
        status=bindparam("p_status"),
        output=bindparam("p_output"),
        error=bindparam("p_error"),
        pending=bindparam("p_pending", type_=JSON),
        completed_at=bindparam("p_done"),
    )
)
_RELEASE = (
    update(_SESSIONS)
    .where(_SESSIONS.c.id == bindparam("sid"), _SESSIONS.c.lock_owner == bindparam("owner"))
    .values(running_turn_id=None, lock_owner=None, heartbeat_at=None)
)


def pending_state(message: AssistantMessage, done: dict[str, Any], waiting: dict[str, str]) -> dict[str, Any]:
    """The `pending` JSON of a paused turn (see `TurnRecord`)."""
    return {
        "calls": [c.model_dump(mode="json") for c in message.tool_calls],
        "done": done,
        "waiting": waiting,
    }
