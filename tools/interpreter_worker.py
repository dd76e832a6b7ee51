"""The program that runs INSIDE the code interpreter's sandbox: a persistent Python REPL.

It is started by `llamasys.tools.sandbox` as `python -I -B interpreter_worker.py <session tag>`, reads
its configuration (limits, working directory) as the first frame on stdin, and
must not import anything from llamasys (the project is not mounted in the sandbox). Before it reads any
user code it

- moves its protocol pipes (the original stdin/stdout) to private descriptors that children do not
  inherit, and points fd 0 at /dev/null and fds 1/2 at capture files in the private /tmp, so output
  from subprocesses and C code is captured too and can never corrupt the protocol;
- lowers its own resource limits (address space, processes, file size, open files, core dumps; CPU
  seconds are re-armed before every call), which it can never raise again;
- installs the seccomp filter the host sent, when the launcher could not (the unshare fallback).

Protocol: frames of a 4-byte big-endian length followed by UTF-8 JSON, request then response.

    -> {"op": "exec", "code": "..."}   <- {"status": "completed"|"failed", "stdout", "stderr",
                                            "figures": [base64 PNG], "files": [{"name","size","data"?}]}
    -> {"op": "put", "name", "data"}   <- {"ok": true}         (data is base64)
    -> {"op": "get", "name"}           <- {"ok": true, "data"} or {"ok": false, "error"}
    -> {"op": "list"}                  <- {"ok": true, "files": [{"name", "size"}]}

On start it sends {"op": "ready", ...}. Each cell runs like a notebook cell in one shared namespace:
the value of a trailing expression is printed, tracebacks show the cell's own lines, open matplotlib
figures (Agg backend) are returned as PNG and closed.
"""

from __future__ import annotations

import ast
import base64
import builtins
import contextlib
import io
import json
import linecache
import os
import resource
import signal
import struct
import sys
import time
import traceback
import types

_HEADER = struct.Struct(">I")
_MAX_REQUEST = 1 << 30


class CPUTimeExceeded(Exception):
    """Raised inside a cell when it used up its CPU-seconds budget (SIGXCPU)."""


class CappedText(io.TextIOBase):
    """A text stream that keeps the first and last `limit // 2` characters and counts the rest."""

    def __init__(self, limit: int) -> None:
        self.limit = max(limit, 2)
        self.head: list[str] = []
        self.head_len = 0
        self.tail: list[str] = []
        self.tail_len = 0
        self.dropped = 0

    def writable(self) -> bool:
        return True

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return "utf-8"

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        half = self.limit // 2
        n = len(text)
        if self.head_len < half:
            take = text[: half - self.head_len]
            self.head.append(take)
            self.head_len += len(take)
            text = text[len(take) :]
        if text:
            self.tail.append(text)
            self.tail_len += len(text)
            if self.tail_len > 2 * half:
                joined = "".join(self.tail)
                self.dropped += len(joined) - half
                self.tail = [joined[-half:]]
                self.tail_len = half
        return n

    def value(self) -> tuple[str, int, str]:
        """The kept head, how many characters were dropped after it, and the kept tail."""
        half = self.limit // 2
        tail = "".join(self.tail)
        dropped = self.dropped
        if len(tail) > half:
            dropped += len(tail) - half
            tail = tail[-half:]
        return "".join(self.head), dropped, tail


def _read_exact(fd: int, n: int) -> bytes:
    chunks = []
    while n:
        chunk = os.read(fd, min(n, 1 << 20))
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


class Worker:
    def __init__(self, config: dict) -> None:
        self.config = config
        self.workdir = config["workdir"]
        self.max_chars = int(config["max_output_chars"])
        self.cpu_seconds = float(config["cpu_seconds"])
        self.attach_limit = int(config["attach_files_max_bytes"])
        self.cell = 0
        main = types.ModuleType("__main__")
        main.__dict__["__builtins__"] = builtins
        sys.modules["__main__"] = main
        self.namespace = main.__dict__

    # -- set-up, before any user code --------------------------------------------------------------
    def take_over_descriptors(self) -> None:
        self.proto_in = os.dup(0)  # os.dup makes non-inheritable copies: children never see them
        self.proto_out = os.dup(1)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.close(null)
        capture_dir = self.config["capture_dir"]
        os.makedirs(capture_dir, mode=0o700, exist_ok=True)
        # private (non-inheritable) handles on the capture files; fds 1 and 2 are pointed at them again
        # before every call, so a cell that closes or redirects them breaks nothing for the next one
        self.capture_fds = {}
        for fd, name in ((1, "stdout"), (2, "stderr")):
            path = os.path.join(capture_dir, f"fd{fd}")
            self.capture_fds[name] = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o600)
        self._point_std_fds()
        sys.stdin = open(os.devnull)  # noqa: SIM115 - lives as long as the worker

    def _point_std_fds(self) -> None:
        os.dup2(self.capture_fds["stdout"], 1)
        os.dup2(self.capture_fds["stderr"], 2)

    def apply_limits(self) -> None:
        limits = self.config["limits"]
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # an over-size write fails with EFBIG instead
        signal.signal(signal.SIGXCPU, self._on_cpu_limit)
        for name, value in (
            ("RLIMIT_CORE", 0),
            ("RLIMIT_AS", limits["memory_bytes"]),
            ("RLIMIT_NPROC", limits["max_processes"]),
            ("RLIMIT_FSIZE", limits["max_file_bytes"]),
            ("RLIMIT_NOFILE", limits["max_open_files"]),
        ):
            if value is not None:
                resource.setrlimit(getattr(resource, name), (value, value))
        hard = int(limits["session_cpu_seconds"])
        resource.setrlimit(resource.RLIMIT_CPU, (hard, hard))

    def apply_seccomp(self) -> None:
        """Install the host's seccomp program (where the launcher could not), before any user code."""
        encoded = self.config.get("seccomp")
        if not encoded:
            return
        import ctypes

        program = base64.b64decode(encoded)

        class SockFprog(ctypes.Structure):
            _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

        libc = ctypes.CDLL(None, use_errno=True)
        buffer = ctypes.create_string_buffer(program, len(program))
        fprog = SockFprog(len(program) // 8, ctypes.cast(buffer, ctypes.c_void_p))
        pr_set_no_new_privs, pr_set_seccomp, seccomp_mode_filter = 38, 22, 2
        one, zero = ctypes.c_ulong(1), ctypes.c_ulong(0)
        if libc.prctl(pr_set_no_new_privs, one, zero, zero, zero) != 0 or (
            libc.prctl(pr_set_seccomp, ctypes.c_ulong(seccomp_mode_filter), ctypes.byref(fprog), zero, zero)
            != 0
        ):
            errno = ctypes.get_errno()
            raise OSError(errno, f"could not install the seccomp filter: {os.strerror(errno)}")

    @staticmethod
    def _on_cpu_limit(signum, frame):  # noqa: ARG004
        raise CPUTimeExceeded("the cell used up its CPU-time budget and was stopped")

    def _arm_cpu_budget(self) -> None:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        _, hard = resource.getrlimit(resource.RLIMIT_CPU)
        soft = int(usage.ru_utime + usage.ru_stime + self.cpu_seconds) + 1
        if hard != resource.RLIM_INFINITY:
            soft = min(soft, hard)
        resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))

    # -- protocol ----------------------------------------------------------------------------------
    def send(self, message: dict) -> None:
        body = json.dumps(message).encode("utf-8")
        _write_all(self.proto_out, _HEADER.pack(len(body)) + body)

    def receive(self) -> dict:
        (length,) = _HEADER.unpack(_read_exact(self.proto_in, _HEADER.size))
        if length > _MAX_REQUEST:
            raise EOFError
        return json.loads(_read_exact(self.proto_in, length))

    def serve(self) -> None:
        self.send({"op": "ready", "pid": os.getpid(), "uid": os.getuid(), "python": sys.version.split()[0]})
        while True:
            try:
                request = self.receive()
            except EOFError:
                return
            op = request.get("op")
            try:
                if op == "exec":
                    reply = self.execute(request["code"])
                elif op == "put":
                    reply = self.put(request["name"], base64.b64decode(request["data"]))
                elif op == "get":
                    reply = self.get(request["name"])
                elif op == "list":
                    reply = {
                        "ok": True,
                        "files": [{"name": n, "size": s} for n, (s, _) in self.snapshot().items()],
                    }
                else:
                    reply = {"ok": False, "error": f"unknown op {op!r}"}
            except Exception as exc:  # a failure of the worker itself, reported, never fatal
                reply = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
            self.send(reply)

    # -- files -------------------------------------------------------------------------------------
    def _inside(self, name: str) -> str:
        path = os.path.realpath(os.path.join(self.workdir, name))
        if os.path.commonpath([path, self.workdir]) != self.workdir or path == self.workdir:
            raise ValueError(f"{name!r} is not a file name inside the working directory")
        return path

    def put(self, name: str, data: bytes) -> dict:
        path = self._inside(name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
        return {"ok": True, "size": len(data)}

    def get(self, name: str) -> dict:
        path = self._inside(name)
        with open(path, "rb") as f:
            return {"ok": True, "data": base64.b64encode(f.read()).decode("ascii")}

    def snapshot(self, limit: int = 2000) -> dict[str, tuple[int, int]]:
        found: dict[str, tuple[int, int]] = {}
        for root, dirs, files in os.walk(self.workdir):
            dirs[:] = [d for d in dirs if not d.startswith(".")]
            for name in files:
                path = os.path.join(root, name)
                try:
                    st = os.lstat(path)
                except OSError:
                    continue
                if not os.path.isfile(path) or os.path.islink(path):
                    continue
                found[os.path.relpath(path, self.workdir)] = (st.st_size, st.st_mtime_ns)
                if len(found) >= limit:
                    return found
        return found

    # -- running a cell ----------------------------------------------------------------------------
    def execute(self, code: str) -> dict:
        self.cell += 1
        filename = f"<cell {self.cell}>"
        linecache.cache[filename] = (len(code), None, code.splitlines(True), filename)
        out, err = CappedText(self.max_chars), CappedText(self.max_chars)
        before = self.snapshot()
        self._point_std_fds()
        sys.stdout, sys.stderr = out, err
        status = "completed"
        started = time.perf_counter()
        try:
            self._arm_cpu_budget()
            self._run_cell(code, filename)
        except SystemExit as exc:
            if exc.code not in (None, 0):
                status = "failed"
                err.write(f"SystemExit: {exc.code}\n")
        except BaseException as exc:  # noqa: BLE001 - user code may raise anything
            status = "failed"
            err.write(self._format_exception(exc))
        finally:
            sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
        elapsed = time.perf_counter() - started
        figures, figure_errors = self._collect_figures()
        for message in figure_errors:
            err.write(message)
        reply = {"ok": True, "status": status, "seconds": elapsed, "figures": figures}
        for name, stream in (("stdout", out), ("stderr", err)):
            head, dropped, tail = stream.value()
            fd_head, fd_dropped, fd_tail = self._drain_fd(self.capture_fds[name])
            reply[name] = [head, dropped, tail, fd_head, fd_dropped, fd_tail]
        reply["files"] = self._changed_files(before)
        return reply

    def _run_cell(self, code: str, filename: str) -> None:
        tree = ast.parse(code, filename=filename, mode="exec")
        last = None
        if tree.body and isinstance(tree.body[-1], ast.Expr):
            last = ast.Expression(tree.body.pop().value)
        exec(compile(tree, filename, "exec"), self.namespace)
        if last is not None:
            value = eval(compile(last, filename, "eval"), self.namespace)
            if value is not None:
                self.namespace["_"] = value
                print(repr(value))

    @staticmethod
    def _format_exception(exc: BaseException) -> str:
        tb = exc.__traceback__
        while tb is not None and tb.tb_frame.f_code.co_filename == __file__:
            tb = tb.tb_next  # hide the worker's own frames: the model sees its cell and the libraries
        return "".join(traceback.format_exception(type(exc), exc, tb))

    def _drain_fd(self, fd: int) -> tuple[str, int, str]:
        """Output written straight to fd 1/2 (subprocesses, C code) during the call, capped."""
        size = os.fstat(fd).st_size
        half = self.max_chars // 2
        if size == 0:
            return "", 0, ""
        # characters are at most 4 bytes: read enough bytes for `half` characters at each end
        if size <= 8 * half:
            text = os.pread(fd, size, 0).decode("utf-8", "replace")
            head, tail = text[:half], text[half:]
            dropped = max(0, len(tail) - half)
            tail = tail[-half:] if dropped else tail
        else:
            head = os.pread(fd, 4 * half, 0).decode("utf-8", "replace")[:half]
            tail = os.pread(fd, 4 * half, size - 4 * half).decode("utf-8", "replace")[-half:]
            dropped = size - len(head.encode()) - len(tail.encode())
        os.ftruncate(fd, 0)
        return head, dropped, tail

    def _collect_figures(self) -> tuple[list[str], list[str]]:
        plt = sys.modules.get("matplotlib.pyplot")
        if plt is None:
            return [], []
        figures, errors = [], []
        try:
            numbers = plt.get_fignums()
            limit = int(self.config.get("max_figures", 20))
            if len(numbers) > limit:
                errors.append(
                    f"[{len(numbers) - limit} more figures were not returned: the limit is {limit}]\n"
                )
            for number in numbers[:limit]:
                buffer = io.BytesIO()
                try:
                    plt.figure(number).savefig(buffer, format="png", dpi=self.config["figure_dpi"])
                    figures.append(base64.b64encode(buffer.getvalue()).decode("ascii"))
                except Exception as exc:  # noqa: BLE001
                    errors.append(f"[figure {number} could not be rendered: {type(exc).__name__}: {exc}]\n")
        finally:
            with contextlib.suppress(Exception):
                plt.close("all")
        return figures, errors

    def _changed_files(self, before: dict[str, tuple[int, int]]) -> list[dict]:
        changed = []
        budget = self.attach_limit
        for name, (size, mtime) in sorted(self.snapshot().items()):
            if before.get(name) == (size, mtime):
                continue
            entry: dict = {"name": name, "size": size}
            if size <= budget:
                try:
                    with open(os.path.join(self.workdir, name), "rb") as f:
                        data = f.read(size + 1)
                    if len(data) <= budget:
                        entry["data"] = base64.b64encode(data).decode("ascii")
                        budget -= len(data)
                except OSError:
                    pass
            changed.append(entry)
        return changed


def main() -> None:
    (length,) = _HEADER.unpack(_read_exact(0, _HEADER.size))
    worker = Worker(json.loads(_read_exact(0, length)))
    worker.take_over_descriptors()
    worker.apply_limits()
    worker.apply_seccomp()
    import warnings

    warnings.filterwarnings("ignore", message=".*non-interactive.*cannot be shown")
    os.chdir(worker.workdir)
    sys.path.insert(0, worker.workdir)
    worker.serve()


if __name__ == "__main__":
    main()
