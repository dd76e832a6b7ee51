"""Starting a process inside an OS sandbox (used by the code interpreter's workers).

    limits = SandboxLimits(memory_bytes=512 << 20)
    plan = plan_launch(["python", "-I", "worker.py"], limits, backend=choose_backend("auto"))
    process = await start(plan)           # asyncio.subprocess.Process, stdin/stdout pipes
    kill(process)                         # the whole sandbox, children included

Backends, strongest first (`choose_backend("auto")` picks the first that works here; each is probed
once by actually starting a sandboxed Python):

- `bwrap` (bubblewrap): new user, mount, PID, network (only loopback), IPC, UTS and cgroup namespaces;
  nested user namespaces disabled; a fresh root that holds only /usr (+ the /bin, /lib symlinks), a few
  files of /etc (loader cache, fonts, time zone), the Python installation and the worker, all read-only;
  private size-limited tmpfs mounts for the working directory, /tmp and /dev/shm, the rest of the
  root remounted read-only; a fresh /proc (only the sandbox's own processes) and a minimal /dev;
  `--new-session` (no terminal injection); `--die-with-parent`; `--clearenv` and a minimal
  environment (no host secrets); a seccomp filter (`seccomp_program`) that refuses ptrace and
  process_vm_*, the kernel keyrings (the host's session keyring is inherited otherwise), mount,
  unshare/setns, bpf, perf_event_open, userfaultfd, io_uring, open_by_handle_at, module loading.
- `unshare` (util-linux), the fallback where bubblewrap is missing: the same namespaces (a user
  namespace only when not root), the same read-only fresh root assembled with `mount` in a private
  mount namespace and entered with `chroot`, then privileges dropped with `setpriv`; the worker
  installs the same seccomp filter itself before it runs any user code.
- `none`: no isolation at all; only with `allow_unsandboxed=True`, otherwise `SandboxUnavailableError`
  (fail closed).

The sandboxed program never runs as root on the host: when this process is root it drops to
`sandbox_uid` (65534, "nobody") before creating the sandbox's user namespace, because the kernel
ignores RLIMIT_NPROC for processes whose real uid is host root (a fork bomb would not be contained).
If the Python installation sits under a directory that uid cannot enter (pyenv in /root), an outer
root-only bubblewrap stage first overlays that directory with an empty tmpfs holding just the Python
installation, so nothing else of it is visible. Resource limits (CPU, address space, processes, file
size, open files) are applied by the worker itself before it reads any user code; it cannot raise
them again.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import shlex
import shutil
import signal
import site
import stat
import struct
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from llamasys.tools.base import ToolError

log = logging.getLogger(__name__)

Backend = Literal["bwrap", "unshare", "none"]
BACKENDS: tuple[Backend, ...] = ("bwrap", "unshare", "none")

WORKDIR = "/workspace"
"""The working directory inside the sandbox (a private tmpfs)."""
WORKER_IN_SANDBOX = "/opt/llamasys/interpreter_worker.py"
CAPTURE_DIR = "/tmp/.llamasys"
_SYSTEM_PATH = "/usr/local/bin:/usr/bin:/bin"
_ETC_FILES = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "fonts", "localtime", "alternatives", "mime.types")
_ETC_NETWORK_FILES = ("resolv.conf", "hosts", "nsswitch.conf", "ssl", "ca-certificates")
_DEVICES = ("null", "zero", "full", "random", "urandom", "tty")
SECCOMP_FD = "{seccomp-fd}"
"""Placeholder in a plan's argv for the descriptor `start` passes the seccomp program on."""

# System calls the sandbox refuses with EPERM (bubblewrap backend): tracing other processes (bwrap's
# own PID 1 runs as the same uid), the kernel keyrings (the host session keyring is inherited),
# mounting and namespaces, and kernel interfaces that are common exploit surfaces.
_DENIED_SYSCALLS: dict[str, dict[str, int]] = {
    "x86_64": {
        "ptrace": 101, "process_vm_readv": 310, "process_vm_writev": 311, "keyctl": 250, "add_key": 248,
        "request_key": 249, "bpf": 321, "perf_event_open": 298, "userfaultfd": 323, "open_by_handle_at": 304,
        "name_to_handle_at": 303, "kexec_load": 246, "kexec_file_load": 320, "init_module": 175,
        "finit_module": 313, "delete_module": 176, "mount": 165, "umount2": 166, "pivot_root": 155,
        "setns": 308, "unshare": 272, "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427,
        "open_tree": 428, "move_mount": 429, "fsopen": 430, "fsconfig": 431, "fsmount": 432, "fspick": 433,
        "acct": 163, "swapon": 167, "swapoff": 168, "reboot": 169, "iopl": 172, "ioperm": 173,
    },
    "aarch64": {
        "ptrace": 117, "process_vm_readv": 270, "process_vm_writev": 271, "keyctl": 219, "add_key": 217,
        "request_key": 218, "bpf": 280, "perf_event_open": 241, "userfaultfd": 282, "open_by_handle_at": 265,
        "name_to_handle_at": 264, "kexec_load": 104, "kexec_file_load": 294, "init_module": 105,
        "finit_module": 273, "delete_module": 106, "mount": 40, "umount2": 39, "pivot_root": 41,
        "setns": 268, "unshare": 97, "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427,
        "open_tree": 428, "move_mount": 429, "fsopen": 430, "fsconfig": 431, "fsmount": 432, "fspick": 433,
        "acct": 89, "swapon": 224, "swapoff": 225, "reboot": 142,
    },
}  # fmt: skip
_AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}


def seccomp_program(machine: str | None = None) -> bytes | None:
    """A classic-BPF seccomp filter (bwrap `--seccomp`): other architectures' calls kill the process,
    the denied calls fail with EPERM, everything else is allowed. None on an unknown architecture."""
    machine = machine or os.uname().machine
    if machine not in _DENIED_SYSCALLS:
        return None
    denied = sorted(set(_DENIED_SYSCALLS[machine].values()))
    ld_abs, jeq, jge, ret = 0x20, 0x15, 0x35, 0x06
    allow, kill_process, eperm = 0x7FFF0000, 0x80000000, 0x00050000 | 1
    program = [
        (ld_abs, 0, 0, 4),
        (jeq, 1, 0, _AUDIT_ARCH[machine]),
        (ret, 0, 0, kill_process),
        (ld_abs, 0, 0, 0),
    ]
    checks: list[tuple[int, int]] = [(jeq, nr) for nr in denied]
    if machine == "x86_64":
        checks.insert(0, (jge, 0x40000000))  # the x32 ABI's numbers alias the denied calls
    deny_at = len(program) + len(checks) + 1
    for code, value in checks:
        program.append((code, deny_at - (len(program) + 1), 0, value))
    program += [(ret, 0, 0, allow), (ret, 0, 0, eperm)]
    return b"".join(struct.pack("<HBBI", *instruction) for instruction in program)


class SandboxUnavailableError(ToolError):
    """No sandbox can be started here, and running without one was not allowed."""


class SandboxLimits(BaseModel):
    """Resource limits of one sandboxed worker. Byte sizes are bytes; None means "no limit"."""

    cpu_seconds: float = Field(30.0, gt=0, description="CPU seconds one call may use (re-armed per call)")
    session_cpu_seconds: int = Field(3600, gt=0, description="CPU seconds the worker may use in its life")
    memory_bytes: int | None = Field(1 << 30, description="address space (RLIMIT_AS) of each process")
    max_processes: int | None = Field(32, ge=1, description="processes and threads (RLIMIT_NPROC)")
    max_file_bytes: int | None = Field(
        64 << 20, description="largest file a process may write (RLIMIT_FSIZE)"
    )
    max_open_files: int | None = Field(256, ge=16, description="open file descriptors (RLIMIT_NOFILE)")
    workdir_bytes: int = Field(256 << 20, gt=0, description="size of the private working directory (tmpfs)")
    tmp_bytes: int = Field(128 << 20, gt=0, description="size of the private /tmp (tmpfs)")


@dataclass
class LaunchPlan:
    """Everything needed to start one sandboxed process."""

    backend: Backend
    argv: list[str]
    env: dict[str, str]
    workdir: str
    capture_dir: str
    cleanup_dirs: list[str] = field(default_factory=list)

    def describe(self) -> str:
        return shlex.join(self.argv)


# -- what the sandbox must see -------------------------------------------------------------------


def python_paths() -> list[str]:
    """Host directories holding this Python and its packages (the venv and its base installation)."""
    candidates = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    candidates.add(str(Path(os.path.realpath(sys.executable)).parent.parent))
    candidates.update(p for p in site.getsitepackages() if os.path.isdir(p))
    real = sorted({os.path.realpath(p) for p in candidates} | {os.path.abspath(p) for p in candidates})
    kept: list[str] = []
    for path in real:
        if path in ("/", "/usr") or path.startswith("/usr/") or not os.path.isdir(path):
            continue
        if any(path.startswith(k + "/") for k in kept):
            continue
        kept.append(path)
    return kept


def worker_source() -> str:
    return str(Path(__file__).with_name("interpreter_worker.py"))


def _closed_ancestor(path: str) -> str | None:
    """The first directory above `path` that other users cannot enter (e.g. /root, mode 0700)."""
    current = "/"
    for part in Path(path).parts[1:-1]:
        current = os.path.join(current, part)
        try:
            mode = os.stat(current).st_mode
        except OSError:
            return None
        if not mode & stat.S_IXOTH:
            return current
    return None


def reveal_in_closed_dirs(sources: list[str]) -> list[str]:
    """bwrap arguments (for a stage run as root) that make `sources` reachable for another uid where
    they sit under a directory it cannot enter: that directory is overlaid with an empty tmpfs holding
    just `sources`. Sources other users can reach already are left alone."""
    args: list[str] = []
    made: set[str] = set()
    for top in sorted({a for p in sources if (a := _closed_ancestor(p))}):
        args += ["--perms", "0755", "--tmpfs", top]
        made.add(top)
    for source in sources:
        top = _closed_ancestor(source)
        if top is None:
            continue
        parent = Path(source).parent
        for directory in [*reversed(parent.parents), parent]:
            d = str(directory)
            if d.startswith(top + "/") and d not in made:
                args += ["--perms", "0755", "--dir", d]
                made.add(d)
        args += ["--ro-bind", source, source]
    return args


def _system_layout() -> list[tuple[str, str]]:
    """(kind, path) for the top-level system directories: ("bind", "/usr"), ("symlink", "/lib")..."""
    layout = [("bind", "/usr")]
    for name in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(name):
            layout.append(("symlink", name))
        elif os.path.isdir(name):
            layout.append(("bind", name))
    return layout


def _etc_paths(network: bool) -> list[str]:
    names = _ETC_FILES + (_ETC_NETWORK_FILES if network else ())
    return [f"/etc/{n}" for n in names if os.path.exists(f"/etc/{n}")]


def sandbox_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The whole environment of the sandboxed worker: nothing is inherited from the host."""
    env = {
        "PATH": _SYSTEM_PATH,
        "HOME": WORKDIR,
        "USER": "sandbox",
        "LOGNAME": "sandbox",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "TMPDIR": "/tmp",
        "PYTHONHASHSEED": "0",
        "PYTHONDONTWRITEBYTECODE": "1",
        "MPLBACKEND": "Agg",
        "MPLCONFIGDIR": "/tmp/matplotlib",
        "XDG_CACHE_HOME": "/tmp/cache",
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "NUMEXPR_MAX_THREADS": "1",
    }
    env.update(extra or {})
    return env


# -- command lines ---------------------------------------------------------------------------------


def _setpriv() -> str:
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        raise SandboxUnavailableError("setpriv (util-linux) is needed to start the sandbox")
    return setpriv


def _drop_privileges(uid: int) -> list[str]:
    return [
        _setpriv(), f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
        "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--",
    ]  # fmt: skip


def _bwrap_command(
    command: list[str], limits: SandboxLimits, *, network: bool, uid: int, env: dict[str, str]
) -> list[str]:
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        raise SandboxUnavailableError("bubblewrap is not installed (apt-get install bubblewrap)")
    pythons = python_paths()
    if os.geteuid() == 0:
        # Outer, root-only stage: a PID namespace whose PID 1 (bubblewrap's reaper, still root, so its
        # parent-death signal survives) dies with us and takes everything below with it; dropping to
        # `uid` clears the parent-death signal of the processes below, so they cannot rely on theirs.
        # It also makes the Python installation reachable for `uid` where it sits in a closed
        # directory (pyenv in /root), and nothing else there.
        outer = [bwrap, "--dev-bind", "/", "/", "--unshare-pid", "--die-with-parent"]
        outer += reveal_in_closed_dirs([*pythons, worker_source()])
        outer += ["--", *_drop_privileges(uid)]
    else:
        outer = [_setpriv(), "--pdeathsig=KILL", "--"]
    argv = [
        bwrap, "--unshare-all", "--unshare-user", "--disable-userns", "--die-with-parent", "--new-session",
        "--hostname", "sandbox",
    ]  # fmt: skip
    if network:
        argv.append("--share-net")
    for kind, path in _system_layout():
        if kind == "symlink":
            argv += ["--symlink", os.readlink(path), path]
        else:
            argv += ["--ro-bind", path, path]
    for path in _etc_paths(network):
        argv += ["--ro-bind", path, path]
    # /tmp first: a Python installation that lives under /tmp (a CI checkout's venv) is bound on top
    # of the private /tmp instead of being hidden by it
    argv += ["--perms", "1777", "--size", str(limits.tmp_bytes), "--tmpfs", "/tmp"]
    for path in pythons:
        argv += ["--ro-bind", path, path]
    argv += ["--ro-bind", worker_source(), WORKER_IN_SANDBOX]
    argv += ["--proc", "/proc", "--dev", "/dev"]
    argv += ["--perms", "1777", "--size", str(limits.tmp_bytes), "--tmpfs", "/dev/shm"]  # else unbounded
    argv += ["--perms", "0700", "--size", str(limits.workdir_bytes), "--tmpfs", WORKDIR]
    argv += ["--remount-ro", "/"]  # the sandbox's own root tmpfs (/etc, /opt...) is read-only too
    if seccomp_program() is not None:
        argv += ["--seccomp", SECCOMP_FD]
    argv += ["--chdir", WORKDIR, "--uid", str(uid), "--gid", str(uid), "--clearenv"]
    for key, value in env.items():
        argv += ["--setenv", key, value]
    return [*outer, *argv, "--", *command]


def _unshare_script(
    command: list[str], limits: SandboxLimits, *, network: bool, uid: int, env: dict[str, str], root: bool
) -> str:
    """A POSIX shell script, run as (namespace) root in fresh namespaces, that builds the sandbox's
    read-only root under a private tmpfs, then enters it and drops every privilege."""
    q = shlex.quote
    pythons = python_paths()
    stage = _stage_dir([*pythons, worker_source()])
    new_root = f"{stage}/.llamasys-root"
    lines = [
        "set -eu",
        f"mount -t tmpfs -o mode=0755,size=1m llamasys-stage {stage}",
        f"R={new_root}",
        "mkdir -m 0755 $R",
        "mount -t tmpfs -o mode=0755,size=1m llamasys-root $R",
    ]

    def ro_bind(source: str, target: str) -> None:
        make = f"mkdir -p $R{q(target)}" if os.path.isdir(source) else (
            f"mkdir -p $R{q(str(Path(target).parent))} && touch $R{q(target)}"
        )  # fmt: skip
        lines.append(make)
        lines.append(f"mount --rbind {q(source)} $R{q(target)}")
        lines.append(f"mount -o remount,bind,ro,nosuid,nodev $R{q(target)}")

    for kind, path in _system_layout():
        if kind == "symlink":
            lines.append(f"ln -s {q(os.readlink(path))} $R{q(path)}")
        else:
            ro_bind(path, path)
    # the private /tmp before the Python installation, which may itself live under /tmp
    lines += [
        "mkdir -p $R/tmp",
        f"mount -t tmpfs -o mode=1777,nosuid,nodev,size={limits.tmp_bytes} llamasys-tmp $R/tmp",
    ]
    for path in [*_etc_paths(network), *pythons]:
        ro_bind(path, path)
    ro_bind(worker_source(), WORKER_IN_SANDBOX)
    owner = f",uid={uid},gid={uid}" if root else ""
    lines += [
        "mkdir -p $R/proc $R/dev $R/workspace",
        f"mount -t tmpfs -o mode=0700,nosuid,nodev,size={limits.workdir_bytes}{owner} llamasys-work $R{WORKDIR}",
        "mount -t proc -o nosuid,nodev,noexec proc $R/proc",
        "mount -t tmpfs -o mode=0755,nosuid,size=64k llamasys-dev $R/dev",
    ]
    for device in _DEVICES:
        lines.append(f"touch $R/dev/{device} && mount --bind /dev/{device} $R/dev/{device}")
    lines += [
        "mkdir -m 1777 $R/dev/shm",
        "ln -s /proc/self/fd $R/dev/fd && ln -s /proc/self/fd/0 $R/dev/stdin",
        "ln -s /proc/self/fd/1 $R/dev/stdout && ln -s /proc/self/fd/2 $R/dev/stderr",
        "mount -o remount,bind,ro $R",
        "hostname sandbox",
    ]
    if not network:  # a fresh network namespace starts with loopback down (bubblewrap brings it up)
        lines.append("if command -v ip >/dev/null 2>&1; then ip link set lo up; fi")
    drop = _drop_privileges(uid) if root else [
        _setpriv(), "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--",
    ]  # fmt: skip
    env_args = ["/usr/bin/env", "-i", *(f"{k}={v}" for k, v in env.items())]
    lines.append(f"cd $R{WORKDIR}")
    # the shell stays PID 1 of the namespace (it reaps orphans); the worker runs as its child
    lines.append(
        "exec chroot $R /bin/sh -c " + q(f"cd {WORKDIR} && " + shlex.join([*drop, *env_args, *command]))
    )
    return "\n".join(lines) + "\n"


def _stage_dir(sources: list[str]) -> str:
    """A host directory to assemble the new root in (inside the sandbox's own mount namespace): one
    that holds none of the paths still to be bound, since the staging tmpfs hides what is below it."""
    for candidate in ("/tmp", "/mnt", "/media", "/srv", "/run"):
        if os.path.isdir(candidate) and not any(
            s == candidate or s.startswith(candidate + "/") for s in sources
        ):
            return candidate
    raise SandboxUnavailableError(
        "no staging directory for the unshare sandbox: the Python installation covers /tmp, /mnt, "
        "/media, /srv and /run; install bubblewrap instead"
    )


def _unshare_command(
    command: list[str], limits: SandboxLimits, *, network: bool, uid: int, env: dict[str, str]
) -> list[str]:
    unshare = shutil.which("unshare")
    if unshare is None:
        raise SandboxUnavailableError("unshare (util-linux) is not installed")
    root = os.geteuid() == 0  # the new root is assembled as root, so /root's mode 0700 is no obstacle
    flags = [
        "--mount",
        "--pid",
        "--fork",
        "--kill-child",
        "--ipc",
        "--uts",
        "--cgroup",
        "--propagation",
        "private",
    ]
    if not network:
        flags.append("--net")
    if not root:
        flags = ["--user", "--map-root-user", *flags]
    script = _unshare_script(command, limits, network=network, uid=uid, env=env, root=root)
    # unshare has no --die-with-parent: a parent-death signal set just before it takes its place (no
    # uid change follows, so it holds), and --kill-child takes the sandbox's PID 1, hence its whole
    # PID namespace, down with it
    return [_setpriv(), "--pdeathsig=KILL", "--", unshare, *flags, "--", "/bin/sh", "-c", script]


def plan_launch(
    command: list[str],
    limits: SandboxLimits,
    *,
    backend: Backend,
    network: bool = False,
    sandbox_uid: int = 65534,
    env: dict[str, str] | None = None,
) -> LaunchPlan:
    """The command line that runs `command` (paths as seen inside the sandbox) under `backend`."""
    full_env = sandbox_env(env)
    if backend == "bwrap":
        argv = _bwrap_command(command, limits, network=network, uid=sandbox_uid, env=full_env)
        return LaunchPlan("bwrap", argv, {"PATH": _SYSTEM_PATH}, WORKDIR, CAPTURE_DIR)
    if backend == "unshare":
        argv = _unshare_command(command, limits, network=network, uid=sandbox_uid, env=full_env)
        return LaunchPlan("unshare", argv, {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}, WORKDIR, CAPTURE_DIR)
    if backend == "none":
        import tempfile

        workdir = tempfile.mkdtemp(prefix="llamasys-unsandboxed-")
        capture = tempfile.mkdtemp(prefix="llamasys-capture-")
        full_env.update(HOME=workdir, TMPDIR=capture, MPLCONFIGDIR=os.path.join(capture, "matplotlib"))
        argv = [worker_source() if c == WORKER_IN_SANDBOX else c for c in command]
        return LaunchPlan("none", argv, full_env, workdir, capture, cleanup_dirs=[workdir, capture])
    raise ValueError(f"unknown sandbox backend {backend!r}: expected one of {', '.join(BACKENDS)}")


# -- probing and choosing --------------------------------------------------------------------------


@functools.cache
def backend_problem(backend: Backend, network: bool = False) -> str | None:
    """None when `backend` can start a sandboxed Python here, else why not (probed once)."""
    if backend == "none":
        return None
    try:
        plan = plan_launch(
            [sys.executable, "-I", "-S", "-c", "pass"], SandboxLimits(), backend=backend, network=network
        )
    except SandboxUnavailableError as exc:
        return str(exc)
    argv, fd = _seccomp_fd(plan.argv)
    try:
        done = subprocess.run(
            argv, env=plan.env, capture_output=True, timeout=30, stdin=subprocess.DEVNULL,
            pass_fds=() if fd is None else (fd,),
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"{backend} failed to start: {exc}"
    finally:
        if fd is not None:
            os.close(fd)
    if done.returncode != 0:
        reason = done.stderr.decode("utf-8", "replace").strip().splitlines()
        return f"{backend} failed to start a sandboxed Python: {reason[-1] if reason else done.returncode}"
    return None


def choose_backend(
    requested: str = "auto", *, allow_unsandboxed: bool = False, network: bool = False
) -> Backend:
    """Resolve "auto" to the strongest working backend; check an explicit one. Fails closed."""
    if requested not in ("auto", *BACKENDS):
        raise ValueError(f"unknown sandbox backend {requested!r}: expected auto, {', '.join(BACKENDS)}")
    if requested == "none":
        if not allow_unsandboxed:
            raise SandboxUnavailableError(
                "backend='none' runs code without any isolation; pass allow_unsandboxed=True to accept that"
            )
        return "none"
    candidates: list[Backend] = ["bwrap", "unshare"] if requested == "auto" else [requested]  # type: ignore[list-item]
    problems = []
    for backend in candidates:
        problem = backend_problem(backend, network)
        if problem is None:
            return backend
        problems.append(problem)
    if allow_unsandboxed and requested == "auto":
        log.warning(
            "no sandbox works here (%s); running code WITHOUT isolation as allowed", "; ".join(problems)
        )
        return "none"
    raise SandboxUnavailableError(
        "cannot sandbox the code interpreter: "
        + "; ".join(problems)
        + ". Install bubblewrap (apt-get install bubblewrap) or util-linux, or allow user namespaces; "
        "pass allow_unsandboxed=True only if you trust every piece of code it will run."
    )


# -- running ---------------------------------------------------------------------------------------


def _seccomp_fd(argv: list[str]) -> tuple[list[str], int | None]:
    """Put the seccomp program in a memfd and its descriptor number in place of the placeholder."""
    if SECCOMP_FD not in argv:
        return argv, None
    program = seccomp_program()
    assert program is not None
    fd = os.memfd_create("llamasys-seccomp", os.MFD_CLOEXEC)
    os.write(fd, program)
    os.lseek(fd, 0, os.SEEK_SET)
    return [str(fd) if a == SECCOMP_FD else a for a in argv], fd


async def start(plan: LaunchPlan) -> asyncio.subprocess.Process:
    """Start the planned process with stdin/stdout pipes, in its own process group."""
    argv, fd = _seccomp_fd(plan.argv)
    try:
        return await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=plan.env,
            cwd=plan.workdir if plan.backend == "none" else "/",
            start_new_session=True,
            pass_fds=() if fd is None else (fd,),
        )
    finally:
        if fd is not None:
            os.close(fd)


def kill(process: asyncio.subprocess.Process) -> None:
    """SIGKILL the process group; the sandbox's PID namespace takes every process inside with it."""
    if process.returncode is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        with contextlib.suppress(ProcessLookupError):
            process.kill()
