"""Search primitives with no database in them: exact cosine top-k, keyword terms, reciprocal rank fusion.

    top_k_cosine(matrix, query, 5)                  -> [(row, cosine), ...] best first
    keyword_terms("What's 'bm25'?! (FTS5)")          -> ["bm25", "fts5"]  (safe to quote into FTS5 / tsquery)
    reciprocal_rank_fusion([vector_ids, keyword_ids], k=60) -> [(chunk_id, fused score), ...]

Reciprocal rank fusion (Cormack et al., 2009) scores an item by the sum over the lists it appears in of
1 / (k + rank), rank counted from 1; k = 60 damps the head so that an item ranked well by both lists beats
one ranked first by a single list.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

RRF_K = 60

# Words so common that matching them says nothing; dropping them keeps FTS from scoring every row. The
# last line holds what an apostrophe leaves of a contraction ("what's" -> "what", "s"; "don't" -> "don", "t").
_STOPWORD_TEXT = """a an and are as at be been but by can could did do does for from had has have how i if in into is it
    its me my no not of on or our so than that the their them then there these they this to was we were what
    when where which who whom why will with would you your
    d ll m re s t ve don doesn didn isn wasn aren"""
STOPWORDS = frozenset(_STOPWORD_TEXT.split())

_TERM = re.compile(r"[^\W_]+", re.UNICODE)
MAX_TERMS = 32


def keyword_terms(query: str) -> list[str]:
    """Lower-cased letter/digit runs of `query`, stopwords dropped (unless nothing else is left), deduplicated.

    Only letters and digits survive, so user text can never inject FTS5 or tsquery syntax (quotes, NEAR,
    column filters, `*`, `-`, parentheses...).
    """
    words = [w.lower() for w in _TERM.findall(query)]
    kept = [w for w in words if w not in STOPWORDS] or words
    return list(dict.fromkeys(kept))[:MAX_TERMS]


def top_k_cosine(
    matrix: np.ndarray, query: np.ndarray, k: int, *, mask: np.ndarray | None = None
) -> list[tuple[int, float]]:
    """Rows of `matrix` (unit rows) most similar to `query` (unit vector): exact, via one matrix-vector product."""
    if matrix.shape[0] == 0 or k <= 0:
        return []
    # einsum runs in one thread: a BLAS matrix-vector product is memory-bound and OpenBLAS's threads only
    # add latency (15x on this busy 2-core machine) when the cores are shared.
    scores = np.einsum("ij,j->i", matrix, query)
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)
        available = int(mask.sum())
    else:
        available = scores.shape[0]
    k = min(k, available)
    if k == 0:
        return []
    top = np.argpartition(-scores, k - 1)[:k] if k < scores.shape[0] else np.arange(scores.shape[0])
    top = top[np.argsort(-scores[top], kind="stable")]
    return [(int(i), float(scores[i])) for i in top]


def reciprocal_rank_fusion(rankings: Sequence[Sequence[int]], *, k: int = RRF_K) -> list[tuple[int, float]]:
    """Fuse ranked id lists (best first) into one, best first; ties keep first-seen order."""
    scores: dict[int, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
    return sorted(scores.items(), key=lambda pair: -pair[1])
