"""Compile a C source that ships with the package into a shared library for this machine, once.

    ```python
    lib = load_native_library("cpu_decode.c")                 # -O3 -march=native -fopenmp
    lib = load_native_library("cpu_decode.c", portable=True)  # no CPU-specific instructions
    ```

The library is built with the system C compiler (`$CC`, else `cc`/`gcc`) for the CPU it runs on and
cached under `$LLAMASYS_HOME/kernels` (default `~/.cache/llamasys/kernels`), keyed by the source,
the flags, the compiler and the CPU, so a second process loads it in milliseconds and a changed
source or a different CPU builds anew. Builds are atomic (a temporary file renamed into place), so
concurrent processes never load a half-written library. A missing compiler or a failed build raises
`NativeBuildError` saying what to install; callers decide whether to fall back to PyTorch.

Loading happens after `import torch`, so the library's OpenMP runtime is the one PyTorch already
loaded (the same `libgomp.so.1`): one thread pool, not two competing for the cores.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
import threading
from functools import cache
from pathlib import Path

import torch  # noqa: F401  (loads PyTorch's OpenMP runtime before any library of ours)

from llamasys.core_model.checkpoints.catalog import llamasys_home
from llamasys.core_model.errors import ModelError

__all__ = ["NativeBuildError", "kernel_cache_dir", "load_native_library"]

_SOURCES = Path(__file__).parent
_FLAGS = ("-O3", "-std=gnu11", "-fPIC", "-shared", "-fopenmp", "-Wall")
_lock = threading.Lock()


class NativeBuildError(ModelError):
    """The C kernels could not be compiled or loaded here."""


def kernel_cache_dir() -> Path:
    return llamasys_home() / "kernels"


def _compiler() -> str:
    for name in (os.environ.get("CC"), "cc", "gcc", "clang"):
        if name and shutil.which(name):
            return name
    raise NativeBuildError(
        "no C compiler found (looked for $CC, cc, gcc, clang): install one (Debian: apt-get install gcc) "
        "to use the fast CPU decode step, or pass cpu_kernels=False"
    )


def _cpu_identity() -> str:
    """What -march=native depends on: the CPU model and its feature flags."""
    try:
        text = Path("/proc/cpuinfo").read_text()
        wanted = [line for line in text.splitlines() if line.startswith(("model name", "flags"))][:2]
        return "\n".join(wanted) or platform.processor()
    except OSError:
        return platform.machine() + platform.processor()


@cache
def _compiler_version(cc: str) -> str:
    out = subprocess.run([cc, "--version"], capture_output=True, text=True, timeout=30)
    return out.stdout.splitlines()[0] if out.stdout else cc


def load_native_library(source: str, *, portable: bool = False, defines: tuple[str, ...] = ()) -> ctypes.CDLL:
    """Build (or reuse) and load the library for `source`, a C file next to this module."""
    return _load(source, portable, tuple(defines))


@cache
def _load(source: str, portable: bool, defines: tuple[str, ...]) -> ctypes.CDLL:
    path = _SOURCES / source
    try:
        code = path.read_bytes()
    except OSError as exc:
        raise NativeBuildError(f"kernel source {path} is missing ({exc}): reinstall llamasys") from exc
    cc = _compiler()
    flags = [*_FLAGS, *([] if portable else ["-march=native"]), *(f"-D{d}" for d in defines)]
    key = hashlib.sha256(
        b"\0".join([code, " ".join(flags).encode(), _compiler_version(cc).encode(), _cpu_identity().encode()])
    ).hexdigest()[:16]
    out = kernel_cache_dir() / f"{path.stem}-{key}.so"
    with _lock:
        if not out.exists():
            _build(cc, path, flags, out)
    try:
        return ctypes.CDLL(str(out))
    except OSError as exc:
        raise NativeBuildError(f"could not load {out} ({exc}): delete it to rebuild") from exc


def _build(cc: str, source: Path, flags: list[str], out: Path) -> None:
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(suffix=".so", dir=out.parent)
    except OSError as exc:
        raise NativeBuildError(
            f"cannot write compiled kernels to {out.parent} ({exc}): point LLAMASYS_HOME at a writable folder"
        ) from exc
    os.close(fd)
    cmd = [cc, *flags, "-o", tmp, str(source), "-lm"]
    try:
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        if result.returncode != 0:
            raise NativeBuildError(
                f"compiling {source.name} failed ({' '.join(cmd)}):\n{result.stderr.strip()[-2000:]}"
            )
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
