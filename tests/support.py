"""Helpers shared by the tests (importable as `support`, tests/ is on pytest's pythonpath).

Every skip that depends on the environment (a missing package, program, file, server or kernel feature)
goes through `require_in_ci` (or `import_or_require`, `postgres_url`, built on it): on a laptop it skips
with the reason, but where the `CI` environment variable holds a true value (`true`, `1`, `yes`, any
case) it fails, because CI installs everything the suite needs and a skip there would hide a test that
never ran. `tests/test_support.py` checks that no test skips any other way.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType
from typing import NoReturn

import pytest

TRUE_VALUES = frozenset({"true", "1", "yes"})
POSTGRES_URL_VARIABLE = "LLAMASYS_TEST_POSTGRES_URL"


def in_ci(environ: dict[str, str] | None = None) -> bool:
    """True when `CI` (in `environ`, default os.environ) is `true`, `1` or `yes`, in any case."""
    value = (os.environ if environ is None else environ).get("CI", "")
    return value.strip().lower() in TRUE_VALUES


def require_in_ci(reason: str) -> NoReturn:
    """Skip the current test with `reason` on a laptop; fail it with the same reason in CI.

    Raises pytest's Skipped outside CI and Failed inside (both end the test)."""
    if in_ci():
        pytest.fail(f"required in CI but missing: {reason}", pytrace=False)
    pytest.skip(reason)


def import_or_require(module: str, install: str) -> ModuleType:
    """`importlib.import_module(module)`, or `require_in_ci` saying what to install (`install`).

    Use it in place of `pytest.importorskip` for oracles (Meta's reference code, transformers
    helpers) and optional packages, so that CI never silently drops the check."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        require_in_ci(f"{module} cannot be imported ({exc}): {install}")


def postgres_url() -> str:
    """The SQLAlchemy URL of a PostgreSQL database the tests may use, from LLAMASYS_TEST_POSTGRES_URL
    (e.g. `postgresql+psycopg://postgres@/postgres?host=/tmp/llamasys-pg`, which `.ci/run` exports
    after starting a server); without it, `require_in_ci`. The tests create a database (or schema) of
    their own in it and drop it afterwards."""
    url = os.environ.get(POSTGRES_URL_VARIABLE, "").strip()
    if not url:
        require_in_ci(
            f"set {POSTGRES_URL_VARIABLE}=postgresql+psycopg://user@host/db (and pip install "
            "'psycopg[binary]') to run the PostgreSQL tests; `python .ci/postgres.py start` starts one"
        )
    return url


def sandbox_uid(backend: str) -> int:
    """The uid that code sees inside a sandbox of `backend` started by this process: 65534 (nobody)
    under bubblewrap and under unshare started by root; 0 of its own user namespace (mapped to this
    process's uid, with no capabilities) under unshare started by an ordinary user."""
    return 0 if backend == "unshare" and os.geteuid() != 0 else 65534
