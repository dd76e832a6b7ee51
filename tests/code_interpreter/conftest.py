"""Fixtures for the code interpreter tests: sandbox backends (skipped locally when missing, required
in CI) and a factory of interpreters that are all closed at the end of each test."""

from __future__ import annotations

import os

import pytest
import pytest_asyncio
from support import require_in_ci

from llamasys.tools.code_interpreter import CodeInterpreter
from llamasys.tools.sandbox import backend_problem

# Tight limits keep the hostile programs fast; each test may override them.
TIGHT = dict(
    wall_timeout_s=4.0,
    cpu_seconds=3.0,
    memory_bytes=1 << 30,
    max_processes=32,
    max_file_bytes=16 << 20,
    workdir_bytes=48 << 20,
    tmp_bytes=48 << 20,
    max_output_chars=2000,
)


def require_backend(backend: str, network: bool = False) -> None:
    """Both backends run as root and as an ordinary user (unshare then maps root in a user namespace);
    one that cannot start here skips on a laptop and fails in CI, with the launcher's own error."""
    problem = backend_problem(backend, network)
    if problem is not None:
        user = "root" if os.geteuid() == 0 else f"uid {os.geteuid()}"
        require_in_ci(f"sandbox backend {backend} does not work here (as {user}): {problem}")


@pytest.fixture(params=["bwrap", "unshare"])
def backend(request) -> str:
    require_backend(request.param)
    return request.param


@pytest.fixture
def bwrap_backend() -> str:
    require_backend("bwrap")
    return "bwrap"


@pytest.fixture
def unshare_backend() -> str:
    require_backend("unshare")
    return "unshare"


@pytest_asyncio.fixture
async def make_interpreter():
    made: list[CodeInterpreter] = []

    def make(backend: str, **options) -> CodeInterpreter:
        interpreter = CodeInterpreter(backend=backend, **{**TIGHT, **options})
        made.append(interpreter)
        return interpreter

    yield make
    for interpreter in made:
        await interpreter.close()
