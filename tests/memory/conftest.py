"""Fixtures of the memory tests: the real MiniLM embedder and the corpus, each built once per session."""

from __future__ import annotations

from pathlib import Path

import pytest
from memory.corpus import DOCS, write_corpus

from llamasys.tools.memory import HashingEmbedder, MemoryStore, MiniLMEmbedder


@pytest.fixture(scope="session")
def minilm() -> MiniLMEmbedder:
    embedder = MiniLMEmbedder()
    embedder.embed(["warm-up"])  # load once: every test that uses it shares the loaded model
    return embedder


@pytest.fixture(scope="session")
def corpus_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("corpus")
    write_corpus(folder)
    return folder


@pytest.fixture(scope="session")
def corpus_sources(corpus_dir: Path) -> dict[str, str]:
    """source path (as stored) -> corpus doc id"""
    return {str(corpus_dir / f"{doc.id}.{doc.format}"): doc.id for doc in DOCS}


@pytest.fixture(scope="session")
def corpus_db(tmp_path_factory: pytest.TempPathFactory, corpus_dir: Path, minilm: MiniLMEmbedder) -> Path:
    """A SQLite file with the corpus ingested into bank 'corpus' with MiniLM (read-only for tests)."""
    path = tmp_path_factory.mktemp("db") / "memory.sqlite"
    with MemoryStore(path, embedder=minilm) as store:
        report = store.create_bank("corpus", description="test corpus").add_folder(corpus_dir, progress=False)
        assert report.ok and len(report.added) == len(DOCS), report.summary()
    return path


@pytest.fixture
def hashing_store(tmp_path: Path):
    with MemoryStore(tmp_path / "memory.sqlite", embedder=HashingEmbedder()) as store:
        yield store
