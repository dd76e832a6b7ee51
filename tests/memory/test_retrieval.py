"""Retrieval quality on the test corpus with the real all-MiniLM-L6-v2: recall@5 of hybrid, keyword and
vector search, reopening the database, and what never gets indexed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from memory.corpus import DOCS, HTML_DECOY, QUESTIONS, Question

from llamasys.tools.memory import MemoryStore, MiniLMEmbedder, SearchHit

pytestmark = pytest.mark.slow  # embeds the corpus with MiniLM once per session (a few seconds)


def _answers(hit: SearchHit, question: Question, sources: dict[str, str]) -> bool:
    return sources.get(hit.source) == question.doc and " ".join(question.answer.split()) in " ".join(
        hit.text.split()
    )


def _evaluate(store: MemoryStore, mode: str, sources: dict[str, str], k: int = 5) -> dict[str, float]:
    recall_1 = recall_k = reciprocal = 0.0
    # the questions are embedded in one batch (the same vectors one at a time would give, much faster)
    vectors = store.embedder.embed([q.question for q in QUESTIONS])
    for question, vector in zip(QUESTIONS, vectors, strict=True):
        hits = store.search(question.question, banks=["corpus"], k=k, mode=mode, query_vector=vector)
        ranks = [rank for rank, hit in enumerate(hits, start=1) if _answers(hit, question, sources)]
        if ranks:
            recall_k += 1
            recall_1 += ranks[0] == 1
            reciprocal += 1 / ranks[0]
    n = len(QUESTIONS)
    return {"recall@1": recall_1 / n, f"recall@{k}": recall_k / n, "mrr": reciprocal / n}


def test_corpus_is_a_real_test_set() -> None:
    assert len(DOCS) >= 30 and len(QUESTIONS) >= 40
    assert {d.format for d in DOCS} == {"md", "txt", "html", "pdf"}
    assert {q.doc for q in QUESTIONS} == {d.id for d in DOCS}  # every document is asked about


def test_recall_at_5(corpus_db: Path, minilm: MiniLMEmbedder, corpus_sources: dict[str, str]) -> None:
    with MemoryStore(corpus_db, embedder=minilm) as store:
        figures = {mode: _evaluate(store, mode, corpus_sources) for mode in ("hybrid", "keyword", "vector")}
    print(f"\nretrieval on {len(DOCS)} documents, {len(QUESTIONS)} questions (MiniLM, SQLite):")
    for mode, values in figures.items():
        print(f"  {mode:8s} " + "  ".join(f"{name} {value:.3f}" for name, value in values.items()))
    assert figures["hybrid"]["recall@5"] >= 0.9
    assert figures["vector"]["recall@5"] >= 0.8
    assert figures["keyword"]["recall@5"] >= 0.7
    assert figures["hybrid"]["mrr"] >= 0.8


def test_languages_written_without_spaces_are_found_by_keyword(
    corpus_db: Path, minilm: MiniLMEmbedder, corpus_sources: dict[str, str]
) -> None:
    """Chinese and Japanese questions: the word index sees a whole sentence as one token; the trigram
    index beside it finds the words (before it, keyword recall on these was 0)."""
    unspaced = [q for q in QUESTIONS if not q.question.isascii()]
    assert len(unspaced) >= 5
    with MemoryStore(corpus_db, embedder=minilm) as store:
        for mode in ("keyword", "hybrid"):
            for question in unspaced:
                hits = store.search(question.question, banks=["corpus"], k=5, mode=mode)
                assert any(_answers(h, question, corpus_sources) for h in hits), (mode, question.question)
        # the reported case: a bank holding the sentence, the keyword query of two of its words
        (hit, *_) = store.search("带薪休假", banks=["corpus"], k=5, mode="keyword")
        assert "新员工每年有二十天带薪休假。" in hit.text


def test_reopened_database_gives_the_same_results(corpus_db: Path, minilm: MiniLMEmbedder) -> None:
    questions = [q.question for q in QUESTIONS[::5]]
    vectors = minilm.embed(questions)

    def run(store: MemoryStore) -> list[list[tuple[int, float]]]:
        return [
            [(h.chunk_id, round(h.score, 5)) for h in store.search(q, banks=["corpus"], query_vector=v)]
            for q, v in zip(questions, vectors, strict=True)
        ]

    with MemoryStore(corpus_db, embedder=minilm) as first:
        before = run(first)
        (info,) = first.list_banks()
    with MemoryStore(corpus_db, embedder=minilm) as reopened:  # a new engine, an empty vector cache
        assert reopened.list_banks() == [info]
        after = run(reopened)
    assert after == before
    assert info.documents == len(DOCS) and info.chunks >= len(DOCS)


def test_batched_and_single_query_vectors_agree(minilm: MiniLMEmbedder) -> None:
    import torch

    threads = torch.get_num_threads()
    questions = [q.question for q in QUESTIONS[: minilm.small_batch + 2]]
    batched = minilm.embed(questions)  # a batch: torch's own thread setting
    single = np.stack([minilm.embed([q])[0] for q in questions])  # queries: query_threads (1)
    assert np.allclose(batched, single, atol=1e-5)
    assert torch.get_num_threads() == threads  # the query setting was restored


def test_stored_vectors_are_minilm_unit_vectors(corpus_db: Path, minilm: MiniLMEmbedder) -> None:
    with MemoryStore(corpus_db, embedder=minilm) as store:
        (hit,) = store.search("How many hearts does an octopus have?", banks=["corpus"], k=1, mode="vector")
        cache = store.sql._vectors("corpus")
        row = int(np.flatnonzero(cache.ids == hit.chunk_id)[0])
        stored = cache.matrix[row]
    assert stored.shape == (384,) and abs(float(np.linalg.norm(stored)) - 1) < 1e-4
    fresh = minilm.embed([hit.text])[0]
    assert float(stored @ fresh) > 0.999  # the stored vector is the chunk's own embedding
    assert hit.score == pytest.approx(
        float(minilm.embed(["How many hearts does an octopus have?"])[0] @ stored), abs=1e-5
    )


def test_scripts_and_styles_of_html_pages_are_not_indexed(corpus_db: Path, minilm: MiniLMEmbedder) -> None:
    with MemoryStore(corpus_db, embedder=minilm) as store:
        assert store.search(HTML_DECOY, banks=["corpus"], mode="keyword") == []
        (hit,) = store.search("Octopus blood hemocyanin", banks=["corpus"], k=1)
    assert hit.title == "Octopus anatomy" and "<" not in hit.text and "Home" not in hit.text  # <nav> dropped
