"""`code_interpreter`: a stateful Python interpreter per session, inside an OS sandbox.

    interpreter = CodeInterpreter(wall_timeout_s=20, memory_bytes=1 << 30)
    await interpreter.upload("sales.csv", csv_bytes)            # into the working directory
    result = await interpreter.run(code="import pandas as pd; pd.read_csv('sales.csv').sum()")
    result.content       # 'completed\\n[stdout]\\n...\\n[/stdout]' (Meta's format)
    result.attachments   # PNGs of matplotlib figures, files the code wrote or changed
    await interpreter.download("report.csv")                    # any file of the working directory
    await interpreter.close()

    pool = InterpreterPool(idle_timeout_s=600)                  # one interpreter per session id
    interpreter = await pool.get(session_id)

Each `CodeInterpreter` owns one worker process (`interpreter_worker.py`) started lazily inside the
sandbox of `llamasys.tools.sandbox` (bubblewrap, else unshare; no network, private read-only root,
private tmpfs working directory and /tmp, resource limits, scrubbed environment; see that module).
Variables, imports and files persist between calls like notebook cells. A call that runs past
`wall_timeout_s` kills the whole sandbox; the next call starts a fresh worker (uploaded files are
placed again, everything else is lost, and the timeout result says so).

Results follow Meta's code-interpreter format: the status (`completed`, `failed` or `timeout`), then
`[stdout]`, the output, `[/stdout]`, then `[stderr]`, the errors, `[/stderr]`, joined by newlines, each
block only when non-empty; in stderr `File "...", line N` is shortened to `line N`. Each stream is
capped at `max_output_chars` (head and tail kept, a visible note in between).

Files the code creates or changes in the working directory come back as attachments (up to
`attach_files_max_bytes` in total per call) and are all listed in `metadata["files"]`.

Limits (keyword arguments, defaults in brackets): `wall_timeout_s` [30] per call; `cpu_seconds` [30]
per call (the cell gets `CPUTimeExceeded` and keeps its state) and `session_cpu_seconds` [3600] for
the worker's life; `memory_bytes` [1 GiB] address space per process; `max_processes` [32] processes
and threads; `max_file_bytes` [64 MiB] per file; `max_open_files` [256]; `workdir_bytes` [256 MiB]
and `tmp_bytes` [128 MiB] for the private tmpfs working directory, /tmp and /dev/shm;
`max_output_chars` [20000] per stream; `network` [False]; `backend` ["auto": bwrap, else unshare;
"none" only with `allow_unsandboxed=True`]; `sandbox_uid` [65534]. Memory is limited per process:
the sandbox as a whole can use up to `max_processes` x `memory_bytes` plus its tmpfs sizes; put the
host service in a memory-limited cgroup (systemd `MemoryMax=`, a container limit) to bound the sum.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import mimetypes
import re
import shutil
import signal
import struct
import sys
import time
import uuid
from pathlib import PurePosixPath
from typing import Any

from pydantic import BaseModel, Field

from llamasys.tools.base import Attachment, Tool, ToolError, ToolResult
from llamasys.tools.sandbox import (
    SECCOMP_FD,
    WORKER_IN_SANDBOX,
    Backend,
    LaunchPlan,
    SandboxLimits,
    SandboxUnavailableError,
    choose_backend,
    kill,
    plan_launch,
    seccomp_program,
    start,
)

__all__ = [
    "CodeInterpreter",
    "InterpreterError",
    "InterpreterPool",
    "SandboxUnavailableError",
    "format_output",
]

log = logging.getLogger(__name__)

_HEADER = struct.Struct(">I")
_FILE_LINE = re.compile(r'File "[^"\n]*", line (\d+)')


class InterpreterError(ToolError):
    """A file operation on the interpreter failed (bad name, missing file, worker gone)."""


class _WorkerDied(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def format_output(status: str, stdout: str, stderr: str) -> str:
    """Meta's layout: status, then `[stdout]`/`[stderr]` blocks (only non-empty ones), joined by newlines."""
    pieces = [status]
    stderr = _FILE_LINE.sub(r"line \1", stderr)
    for tag, text in (("stdout", stdout), ("stderr", stderr)):
        text = text.rstrip("\n")
        if text.strip():
            pieces += [f"[{tag}]", text, f"[/{tag}]"]
    return "\n".join(pieces)


def _join_stream(parts: list[Any], limit: int) -> str:
    """The worker's [head, dropped, tail] for Python-level and for fd-level output, with notes."""
    text = ""
    for head, dropped, tail in (parts[0:3], parts[3:6]):
        text += head
        if dropped:
            text += (
                f"\n[... {dropped} characters of output truncated (the limit is {limit} per stream) ...]\n"
            )
        text += tail
    return text


def _check_name(name: str) -> str:
    path = PurePosixPath(name)
    if not name or "\0" in name or path.is_absolute() or ".." in path.parts or name.strip() in (".", ""):
        raise InterpreterError(
            f"invalid file name {name!r}: give a relative path inside the working directory, without '..'"
        )
    return str(path)


class _Worker:
    """The host's end of one sandboxed worker: framed JSON requests over its stdin/stdout."""

    def __init__(self, process: asyncio.subprocess.Process, plan: LaunchPlan, max_frame: int) -> None:
        self.process = process
        self.plan = plan
        self.max_frame = max_frame
        self.started = time.monotonic()
        self._stderr_tail = b""
        self._stderr_task = asyncio.create_task(self._drain_stderr())
        self.broken = False  # a request was abandoned mid-way: its reply would desynchronise the next one

    async def _drain_stderr(self) -> None:
        assert self.process.stderr is not None
        while chunk := await self.process.stderr.read(65536):
            self._stderr_tail = (self._stderr_tail + chunk)[-4096:]

    def send(self, message: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        body = json.dumps(message).encode("utf-8")
        self.process.stdin.write(_HEADER.pack(len(body)) + body)

    async def receive(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        try:
            header = await self.process.stdout.readexactly(_HEADER.size)
            (length,) = _HEADER.unpack(header)
            if length > self.max_frame:
                raise _WorkerDied(
                    f"the worker sent a {length}-byte reply, over the {self.max_frame}-byte limit"
                )
            reply = json.loads(await self.process.stdout.readexactly(length))
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            raise _WorkerDied(await self._death_reason()) from exc
        except (ValueError, UnicodeDecodeError) as exc:
            raise _WorkerDied(f"the worker's reply was not valid JSON ({exc})") from exc
        if not isinstance(reply, dict):
            raise _WorkerDied("the worker's reply was not a JSON object")
        return reply

    async def request(self, message: dict[str, Any], timeout: float | None) -> dict[str, Any]:
        try:
            self.send(message)
            assert self.process.stdin is not None
            await self.process.stdin.drain()
        except (ConnectionError, RuntimeError) as exc:
            raise _WorkerDied(await self._death_reason()) from exc
        try:
            return await asyncio.wait_for(self.receive(), timeout=timeout)
        except BaseException:  # timeout, death, or the caller cancelled us: this worker is done for
            self.broken = True
            kill(self.process)
            raise

    @property
    def usable(self) -> bool:
        return not self.broken and self.process.returncode is None

    async def _death_reason(self) -> str:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.process.wait(), timeout=2)
        code = self.process.returncode
        detail = self._stderr_tail.decode("utf-8", "replace").strip().splitlines()
        if code is None:
            reason = "the interpreter process closed its pipes"
        elif code < 0 or code > 128:
            number = -code if code < 0 else code - 128
            name = signal.Signals(number).name if number in signal.Signals._value2member_map_ else str(number)
            reason = f"the interpreter process was killed by {name}"
            if name == "SIGXCPU":
                reason += " (it used up its CPU-time limit)"
            elif name == "SIGKILL":
                reason += " (it hit a resource limit, such as CPU time or memory)"
        else:
            reason = f"the interpreter process exited with status {code}"
        if detail:
            reason += f"; last message: {detail[-1][:300]}"
        return reason

    async def close(self) -> None:
        kill(self.process)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.process.wait(), timeout=5)
        self._stderr_task.cancel()
        with contextlib.suppress(BaseException):
            await self._stderr_task
        for directory in self.plan.cleanup_dirs:
            shutil.rmtree(directory, ignore_errors=True)


class CodeInterpreter(Tool):
    """Run Python in a sandboxed, stateful worker process (one per instance, i.e. per session)."""

    name = "code_interpreter"
    description = (
        "Run Python 3 code in a sandboxed, stateful interpreter, like a notebook: variables, imports and "
        "files persist between calls. There is no internet access. Print what you want to see; the value "
        "of a final expression is printed too. matplotlib figures are returned as images (no show() "
        "needed). Uploaded files are in the current working directory; files you write there are "
        "returned to the user. numpy, pandas and matplotlib are installed."
    )
    timeout = None  # the interpreter enforces its own wall clock and restarts the worker

    class Arguments(BaseModel):
        code: str = Field(description="Python source code to run")

    def __init__(
        self,
        *,
        cpu_seconds: float = 30.0,
        session_cpu_seconds: int = 3600,
        memory_bytes: int | None = 1 << 30,
        max_processes: int | None = 32,
        max_file_bytes: int | None = 64 << 20,
        max_open_files: int | None = 256,
        workdir_bytes: int = 256 << 20,
        tmp_bytes: int = 128 << 20,
        wall_timeout_s: float = 30.0,
        start_timeout_s: float = 60.0,
        max_output_chars: int = 20_000,
        attach_files_max_bytes: int = 8 << 20,
        figure_dpi: int = 100,
        max_figures: int = 20,
        network: bool = False,
        backend: str = "auto",
        allow_unsandboxed: bool = False,
        sandbox_uid: int = 65534,
        env: dict[str, str] | None = None,
        session_id: str | None = None,
    ) -> None:
        self.limits = SandboxLimits(
            cpu_seconds=cpu_seconds,
            session_cpu_seconds=session_cpu_seconds,
            memory_bytes=memory_bytes,
            max_processes=max_processes,
            max_file_bytes=max_file_bytes,
            max_open_files=max_open_files,
            workdir_bytes=workdir_bytes,
            tmp_bytes=tmp_bytes,
        )
        if wall_timeout_s <= 0 or max_output_chars < 100:
            raise ValueError("wall_timeout_s must be > 0 and max_output_chars at least 100")
        self.wall_timeout_s = wall_timeout_s
        self.start_timeout_s = start_timeout_s
        self.max_output_chars = max_output_chars
        self.attach_files_max_bytes = attach_files_max_bytes
        self.figure_dpi = figure_dpi
        self.max_figures = max_figures
        self.network = network
        self.requested_backend = backend
        self.allow_unsandboxed = allow_unsandboxed
        self.sandbox_uid = sandbox_uid
        self.env = dict(env or {})
        self.session_id = session_id or uuid.uuid4().hex[:12]
        self.backend: Backend | None = None
        self.restarts = 0
        self.last_used = time.monotonic()
        self._worker: _Worker | None = None
        self._uploads: dict[str, bytes] = {}
        self._lock = asyncio.Lock()
        self._closed = False

    # -- life cycle --------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._worker is not None and self._worker.usable

    async def start(self) -> float:
        """Start the worker now (otherwise the first call does); returns the seconds it took."""
        async with self._lock:
            began = time.perf_counter()
            await self._ensure_worker()
            return time.perf_counter() - began

    async def _ensure_worker(self) -> _Worker:
        if self._closed:
            raise InterpreterError("this interpreter was closed; create a new one")
        if self._worker is not None and self._worker.usable:
            return self._worker
        if self._worker is not None:
            log.info(
                "code interpreter %s: replacing a worker that stopped or was interrupted", self.session_id
            )
            self.restarts += 1
            await self._discard_worker()
        if self.backend is None:
            self.backend = await asyncio.to_thread(
                choose_backend,
                self.requested_backend,
                allow_unsandboxed=self.allow_unsandboxed,
                network=self.network,
            )
        command = [sys.executable, "-I", "-B", WORKER_IN_SANDBOX, f"llamasys-session={self.session_id}"]
        plan = plan_launch(
            command,
            self.limits,
            backend=self.backend,
            network=self.network,
            sandbox_uid=self.sandbox_uid,
            env=self.env,
        )
        process = await start(plan)
        # the largest honest reply: capped text (JSON-escaped), base64 files and figures
        max_frame = 64 * self.max_output_chars + 2 * self.attach_files_max_bytes + (64 << 20)
        worker = _Worker(process, plan, max_frame)
        config = {
            "workdir": plan.workdir,
            "capture_dir": plan.capture_dir,
            "max_output_chars": self.max_output_chars,
            "cpu_seconds": self.limits.cpu_seconds,
            "attach_files_max_bytes": self.attach_files_max_bytes,
            "figure_dpi": self.figure_dpi,
            "max_figures": self.max_figures,
            "limits": self.limits.model_dump(),
            "seccomp": self._worker_seccomp(plan),
        }
        try:
            ready = await worker.request(config, timeout=self.start_timeout_s)
            if ready.get("op") != "ready":
                raise _WorkerDied(f"unexpected first message from the worker: {str(ready)[:200]}")
            for name, data in self._uploads.items():
                reply = await worker.request(
                    {"op": "put", "name": name, "data": base64.b64encode(data).decode()}, self.wall_timeout_s
                )
                if not reply.get("ok"):
                    log.warning("could not place %s again after a restart: %s", name, reply.get("error"))
        except (_WorkerDied, TimeoutError) as exc:
            await worker.close()
            reason = (
                exc.reason if isinstance(exc, _WorkerDied) else f"no answer in {self.start_timeout_s:g} s"
            )
            raise InterpreterError(
                f"the sandboxed interpreter did not start ({self.backend}): {reason}"
            ) from exc
        log.info(
            "code interpreter %s: worker pid %s started (%s)", self.session_id, ready.get("pid"), self.backend
        )
        self._worker = worker
        return worker

    @staticmethod
    def _worker_seccomp(plan: LaunchPlan) -> str | None:
        """The seccomp program for the worker to install itself, where the launcher has not."""
        if SECCOMP_FD in plan.argv:
            return None
        program = seccomp_program()
        return None if program is None else base64.b64encode(program).decode("ascii")

    async def _discard_worker(self) -> None:
        worker, self._worker = self._worker, None
        if worker is not None:
            await worker.close()

    async def restart(self) -> None:
        """Throw the current state away and start a fresh worker (uploaded files are placed again)."""
        async with self._lock:
            await self._discard_worker()
            self.restarts += 1
            await self._ensure_worker()

    async def close(self) -> None:
        """Kill the worker and its sandbox. Safe to call twice."""
        async with self._lock:
            self._closed = True
            await self._discard_worker()

    # -- the tool ----------------------------------------------------------------------------------
    async def call(self, code: str) -> ToolResult:
        async with self._lock:
            self.last_used = time.monotonic()
            try:
                worker = await self._ensure_worker()
            except SandboxUnavailableError as exc:
                return ToolResult.failure(f"failed\n[stderr]\n{exc}\n[/stderr]", kind="sandbox_unavailable")
            except InterpreterError as exc:
                return ToolResult.failure(f"failed\n[stderr]\n{exc}\n[/stderr]", kind="start_failed")
            try:
                reply = await worker.request({"op": "exec", "code": code}, timeout=self.wall_timeout_s)
            except TimeoutError:
                return await self._lost_state(
                    "timeout",
                    f"Execution stopped: it ran longer than the {self.wall_timeout_s:g} s wall-clock limit.",
                )
            except _WorkerDied as died:
                return await self._lost_state("failed", f"The code crashed the interpreter: {died.reason}.")
            finally:
                self.last_used = time.monotonic()
            if not reply.get("ok"):
                return ToolResult.failure(
                    format_output("failed", "", f"interpreter error: {reply.get('error')}"),
                    kind="worker_error",
                )
            return self._result(reply)

    async def _lost_state(self, status: str, what: str) -> ToolResult:
        await self._discard_worker()
        self.restarts += 1
        message = (
            f"{what} The interpreter was restarted: its state (variables, imports and files written) "
            "was lost; uploaded files are placed again."
        )
        return ToolResult(
            content=format_output(status, "", message),
            error=True,
            metadata={
                "status": status,
                "state_lost": True,
                "restarts": self.restarts,
                "backend": self.backend,
            },
        )

    def _result(self, reply: dict[str, Any]) -> ToolResult:
        status = reply.get("status", "failed")
        stdout = _join_stream(reply["stdout"], self.max_output_chars)
        stderr = _join_stream(reply["stderr"], self.max_output_chars)
        attachments = [
            Attachment(name=f"figure_{i}.png", mime_type="image/png", data=base64.b64decode(png))
            for i, png in enumerate(reply.get("figures", []), start=1)
        ]
        files = []
        for entry in reply.get("files", []):
            attached = "data" in entry
            if attached:
                mime = mimetypes.guess_type(entry["name"])[0] or "application/octet-stream"
                attachments.append(
                    Attachment(name=entry["name"], mime_type=mime, data=base64.b64decode(entry["data"]))
                )
            files.append({"name": entry["name"], "size": entry["size"], "attached": attached})
        return ToolResult(
            content=format_output(status, stdout, stderr),
            attachments=attachments,
            error=status != "completed",
            metadata={
                "status": status,
                "seconds": reply.get("seconds"),
                "figures": len(reply.get("figures", [])),
                "files": files,
                "backend": self.backend,
                "restarts": self.restarts,
            },
        )

    # -- files -------------------------------------------------------------------------------------
    async def _file_request(self, message: dict[str, Any]) -> dict[str, Any]:
        async with self._lock:
            self.last_used = time.monotonic()
            worker = await self._ensure_worker()
            try:
                reply = await worker.request(message, timeout=self.wall_timeout_s)
            except (TimeoutError, _WorkerDied) as exc:
                await self._discard_worker()
                raise InterpreterError(f"the interpreter stopped answering during {message['op']}") from exc
        if not reply.get("ok"):
            raise InterpreterError(
                f"{message['op']} {message.get('name', '')!r} failed: {reply.get('error')}"
            )
        return reply

    async def upload(self, name: str, data: bytes) -> None:
        """Place a file in the working directory (kept across worker restarts)."""
        name = _check_name(name)
        await self._file_request({"op": "put", "name": name, "data": base64.b64encode(data).decode()})
        self._uploads[name] = bytes(data)

    async def download(self, name: str) -> bytes:
        """Read a file of the working directory."""
        reply = await self._file_request({"op": "get", "name": _check_name(name)})
        return base64.b64decode(reply["data"])

    async def list_files(self) -> list[dict[str, Any]]:
        """Files of the working directory: [{"name", "size"}]."""
        reply = await self._file_request({"op": "list"})
        return reply["files"]


class InterpreterPool:
    """One `CodeInterpreter` per session id; idle ones are closed (reaped), the least recently used
    one makes room when `max_sessions` are open."""

    def __init__(
        self, *, max_sessions: int = 32, idle_timeout_s: float = 900.0, **interpreter_options: Any
    ) -> None:
        if max_sessions < 1:
            raise ValueError("max_sessions must be at least 1")
        self.max_sessions = max_sessions
        self.idle_timeout_s = idle_timeout_s
        self.options = interpreter_options
        self._sessions: dict[str, CodeInterpreter] = {}
        self._lock = asyncio.Lock()
        self._reaper: asyncio.Task[None] | None = None

    def __len__(self) -> int:
        return len(self._sessions)

    def __contains__(self, session_id: object) -> bool:
        return session_id in self._sessions

    async def get(self, session_id: str) -> CodeInterpreter:
        """The session's interpreter, created on first use (its worker starts with its first call)."""
        evicted: list[CodeInterpreter] = []
        async with self._lock:
            interpreter = self._sessions.get(session_id)
            if interpreter is None:
                while len(self._sessions) >= self.max_sessions:
                    oldest = min(self._sessions, key=lambda s: self._sessions[s].last_used)
                    evicted.append(self._sessions.pop(oldest))
                interpreter = CodeInterpreter(session_id=session_id, **self.options)
                self._sessions[session_id] = interpreter
            interpreter.last_used = time.monotonic()
        for old in evicted:
            log.info("interpreter pool full: closing session %s", old.session_id)
            await old.close()
        return interpreter

    async def release(self, session_id: str) -> None:
        """Close the session's interpreter now."""
        async with self._lock:
            interpreter = self._sessions.pop(session_id, None)
        if interpreter is not None:
            await interpreter.close()

    async def reap(self) -> list[str]:
        """Close interpreters idle for longer than `idle_timeout_s`; returns their session ids."""
        now = time.monotonic()
        async with self._lock:
            idle = [
                s
                for s, i in self._sessions.items()
                if now - i.last_used > self.idle_timeout_s and not i._lock.locked()
            ]
            closing = [self._sessions.pop(s) for s in idle]
        for interpreter in closing:
            await interpreter.close()
        return idle

    def start_reaper(self, interval_s: float = 30.0) -> None:
        """Reap idle interpreters in the background every `interval_s` seconds."""

        async def loop() -> None:
            while True:
                await asyncio.sleep(interval_s)
                reaped = await self.reap()
                if reaped:
                    log.info("reaped idle interpreters: %s", ", ".join(reaped))

        if self._reaper is None or self._reaper.done():
            self._reaper = asyncio.create_task(loop())

    async def close(self) -> None:
        """Close every interpreter and stop the reaper."""
        if self._reaper is not None:
            self._reaper.cancel()
            with contextlib.suppress(BaseException):
                await self._reaper
            self._reaper = None
        async with self._lock:
            closing = list(self._sessions.values())
            self._sessions.clear()
        await asyncio.gather(*(i.close() for i in closing))
