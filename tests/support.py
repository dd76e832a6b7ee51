"""Helpers shared by the tests (importable as `support`, tests/ is on pytest's pythonpath)."""

import os

import pytest


def require_in_ci(reason: str) -> None:
    """Skip with `reason` on a laptop, but fail where CI=true: CI must have everything installed."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"required in CI but missing: {reason}")
    pytest.skip(reason)
