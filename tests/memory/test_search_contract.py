"""The search primitives of `llamasys.tools.memory.search` held to exact values, without the MiniLM embedder.

Fast on purpose (well under a second): it is what `.ci/mutation.py hybrid_fusion` runs against every mutant of
`search.py`. The oracles are written out here: reciprocal rank fusion is Cormack et al. (2009), score =
sum over lists of 1 / (k + rank), rank from 1, k = 60; cosine top-k is compared with a brute-force sort.
The last test runs hybrid search end to end through a store with the deterministic hashing embedder.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from llamasys.tools.memory import HashingEmbedder, MemoryStore
from llamasys.tools.memory.search import (
    MAX_TERMS,
    RRF_K,
    STOPWORDS,
    keyword_terms,
    reciprocal_rank_fusion,
    top_k_cosine,
)

# ------------------------------------------------------------------------------------- reciprocal rank fusion


def test_rrf_constant_is_the_papers_60() -> None:
    assert RRF_K == 60


def test_rrf_scores_are_one_over_k_plus_rank_from_one() -> None:
    fused = dict(reciprocal_rank_fusion([[7, 8, 9]]))
    assert fused == {7: 1 / 61, 8: 1 / 62, 9: 1 / 63}


def test_rrf_sums_over_lists_and_sorts_best_first() -> None:
    fused = reciprocal_rank_fusion([[1, 2, 3], [3, 4, 1]])
    expected = {1: 1 / 61 + 1 / 63, 2: 1 / 62, 3: 1 / 63 + 1 / 61, 4: 1 / 62}
    assert [item for item, _ in fused][:2] in ([1, 3], [3, 1])
    assert dict(fused) == pytest.approx(expected, rel=1e-15, abs=0)
    scores = [s for _, s in fused]
    assert scores == sorted(scores, reverse=True)


def test_an_item_ranked_well_by_both_lists_beats_one_ranked_first_by_one() -> None:
    # 5 is second in both lists (2 / 62); 1 and 9 are first in one list and absent from the other (1 / 61)
    fused = reciprocal_rank_fusion([[1, 5, 2], [9, 5, 3]])
    assert fused[0] == (5, pytest.approx(2 / 62, rel=1e-15))
    assert [item for item, _ in fused][1:3] == [1, 9]


def test_rrf_ties_keep_first_seen_order() -> None:
    fused = reciprocal_rank_fusion([[4, 2], [3, 1]])
    assert [item for item, _ in fused] == [4, 3, 2, 1]  # 4 and 3 tie at 1/61, 2 and 1 at 1/62


def test_rrf_custom_k_and_empty_inputs() -> None:
    assert reciprocal_rank_fusion([[5, 6]], k=0) == [(5, 1.0), (6, 0.5)]
    assert reciprocal_rank_fusion([]) == []
    assert reciprocal_rank_fusion([[], []]) == []


# ---------------------------------------------------------------------------------------------- keyword terms


def test_keyword_terms_lower_case_letters_and_digits_only() -> None:
    # the module docstring's example, word for word: what an apostrophe leaves of a contraction is no term
    assert keyword_terms("What's 'bm25'?! (FTS5)") == ["bm25", "fts5"]
    assert keyword_terms("Don't we'll they're I'm it's you've she'd") == ["she"]
    assert keyword_terms("Isn't the T-rex's tail long?") == ["rex", "tail", "long"]
    assert keyword_terms('NEAR("a" b*) -c col:x') == ["near", "b", "c", "col", "x"]


def test_underscores_split_terms_and_non_latin_letters_are_kept() -> None:
    assert keyword_terms("snake_case Überhaupt 東京 x²") == ["snake", "case", "überhaupt", "東京", "x²"]


def test_stopwords_dropped_unless_nothing_else_is_left() -> None:
    assert keyword_terms("the cat and a dog of your") == ["cat", "dog"]
    assert keyword_terms("What is the") == ["what", "is", "the"]
    assert keyword_terms("") == []
    assert keyword_terms("?! ...") == []


def test_stopword_list_first_and_last_words_and_its_size() -> None:
    # the list is one whitespace-separated string: pin both ends and the count
    assert {"a", "an", "your", "you", "would", "with", "d", "ll", "aren"} <= STOPWORDS
    assert "won" not in STOPWORDS  # "who won the cup?" keeps its verb
    assert len(STOPWORDS) == 63 + 13  # + the contraction fragments
    assert all(word == word.lower() and word.isalpha() for word in STOPWORDS)


def test_terms_are_deduplicated_in_first_seen_order() -> None:
    assert keyword_terms("Beta alpha BETA gamma alpha") == ["beta", "alpha", "gamma"]


def test_at_most_max_terms_are_kept() -> None:
    assert MAX_TERMS == 32
    words = [f"w{i}" for i in range(40)]
    assert keyword_terms(" ".join(words)) == words[:32]


# --------------------------------------------------------------------------------------------- cosine top-k


def _unit_rows(n: int, dim: int, seed: int) -> np.ndarray:
    rows = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def _brute_force(matrix: np.ndarray, query: np.ndarray, k: int, mask: np.ndarray | None = None):
    scores = [float(row @ query) for row in matrix]
    order = sorted(range(len(scores)), key=lambda i: -scores[i])
    if mask is not None:
        order = [i for i in order if mask[i]]
    return [(i, scores[i]) for i in order[:k]]


@pytest.mark.parametrize("k", [1, 2, 5, 49, 50, 51, 200])
def test_top_k_equals_a_brute_force_sort(k: int) -> None:
    matrix = _unit_rows(50, 16, seed=1)
    query = _unit_rows(1, 16, seed=2)[0]
    got = top_k_cosine(matrix, query, k)
    want = _brute_force(matrix, query, k)
    assert [i for i, _ in got] == [i for i, _ in want]
    assert [s for _, s in got] == pytest.approx([s for _, s in want], abs=1e-6)
    assert all(type(i) is int and type(s) is float for i, s in got)


@pytest.mark.parametrize("k", [1, 3, 10, 50])
def test_mask_keeps_only_allowed_rows(k: int) -> None:
    matrix = _unit_rows(50, 8, seed=3)
    query = _unit_rows(1, 8, seed=4)[0]
    mask = np.zeros(50, dtype=bool)
    mask[[0, 7, 13, 21, 42]] = True
    got = top_k_cosine(matrix, query, k, mask=mask)
    assert got == [(i, pytest.approx(s, abs=1e-6)) for i, s in _brute_force(matrix, query, k, mask)]
    assert len(got) == min(k, 5)


def test_best_row_comes_first_even_when_it_is_negative() -> None:
    # every score is negative: a mask that filled with +inf, or a top-k taking the lowest, shows here
    matrix = np.array([[-1.0, 0.0], [-0.6, -0.8], [0.0, -1.0]], dtype=np.float32)
    query = np.array([1.0, 0.0], dtype=np.float32)
    assert top_k_cosine(matrix, -query, 1) == [(0, 1.0)]
    assert top_k_cosine(matrix, query, 2) == [(2, 0.0), (1, pytest.approx(-0.6))]
    mask = np.array([True, False, True])
    assert top_k_cosine(matrix, query, 3, mask=mask) == [(2, 0.0), (0, -1.0)]


def test_equal_scores_keep_row_order() -> None:
    matrix = np.tile(np.array([[0.6, 0.8]], dtype=np.float32), (6, 1))
    query = np.array([0.6, 0.8], dtype=np.float32)
    assert [i for i, _ in top_k_cosine(matrix, query, 6)] == [0, 1, 2, 3, 4, 5]
    assert [i for i, _ in top_k_cosine(matrix, query, 10)] == [0, 1, 2, 3, 4, 5]


def test_empty_matrix_zero_k_and_an_all_false_mask_give_nothing() -> None:
    matrix = _unit_rows(4, 3, seed=5)
    query = matrix[2]
    assert top_k_cosine(np.zeros((0, 3), dtype=np.float32), query, 3) == []
    assert top_k_cosine(matrix, query, 0) == []
    assert top_k_cosine(matrix, query, -1) == []
    assert top_k_cosine(matrix, query, 2, mask=np.zeros(4, dtype=bool)) == []
    # one row is enough to answer
    assert top_k_cosine(matrix[:1], matrix[0], 1) == [(0, pytest.approx(1.0, abs=1e-6))]
    assert top_k_cosine(matrix, query, 1) == [(2, pytest.approx(1.0, abs=1e-6))]


# ------------------------------------------------------------------------------ hybrid search through a store


def test_hybrid_search_scores_are_the_fusion_of_the_vector_and_keyword_ranks(tmp_path: Path) -> None:
    texts = {
        "a": "Zebras graze on the savanna grasslands of Kenya.",
        "b": "The kettle whistles when the water in it boils.",
        "c": "Savanna elephants and zebras share the waterholes.",
        "d": "Quarterly revenue grew by four percent.",
    }
    with MemoryStore(tmp_path / "m.sqlite", embedder=HashingEmbedder()) as store:
        bank = store.create_bank("b")
        for name, text in texts.items():
            bank.add_text(text, title=name)
        hits = bank.search("zebras savanna", k=4, mode="hybrid")
    assert hits, "hybrid search found nothing"
    for hit in hits:
        expected = sum(1 / (60 + r) for r in (hit.vector_rank, hit.keyword_rank) if r is not None)
        assert hit.score == pytest.approx(expected, rel=1e-12)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    # both zebra texts match both words, so they lead
    assert {hits[0].title, hits[1].title} == {"a", "c"}


def test_many_equal_scores_keep_row_order() -> None:
    # past numpy's insertion-sort threshold (16), only a stable sort keeps rows with equal scores in order
    matrix = np.tile(np.array([[0.6, 0.8]], dtype=np.float32), (200, 1))
    matrix[::7] = [0.8, 0.6]  # a second group, tied among themselves too
    query = np.array([0.6, 0.8], dtype=np.float32)
    got = [i for i, _ in top_k_cosine(matrix, query, 200)]
    first = [i for i in range(200) if i % 7]
    assert got == first + [i for i in range(200) if i % 7 == 0]
    # with k below the row count, argpartition picks which tied rows come back and in what order: only the
    # scores are promised
    top30 = top_k_cosine(matrix, query, 30)
    assert len(top30) == 30 and {i for i, _ in top30} <= set(first)


@pytest.mark.parametrize("seed", range(5))
def test_every_k_gives_the_k_best_rows(seed: int) -> None:
    matrix = _unit_rows(40, 6, seed=10 + seed)
    query = _unit_rows(1, 6, seed=20 + seed)[0]
    for k in range(1, 41):
        assert [i for i, _ in top_k_cosine(matrix, query, k)] == [
            i for i, _ in _brute_force(matrix, query, k)
        ]
