"""Shared test set-up: no network, deterministic torch, a clear skip reason for optional pieces."""

import os

import pytest
import torch
from support import require_in_ci

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(autouse=True)
def _deterministic_torch():
    torch.manual_seed(0)
    yield


@pytest.fixture(scope="session")
def sandbox():
    """The code sandbox this machine offers (`choose_backend("auto")`); skipped with the reason where none is,
    except under CI, where that fails."""
    from llamasys.tools.sandbox import SandboxUnavailableError, choose_backend

    try:
        return choose_backend("auto")
    except SandboxUnavailableError as exc:
        require_in_ci(f"no code sandbox here: {exc}")
