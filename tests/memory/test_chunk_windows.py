"""Exact chunk windows where no boundary moves them: one-token words, so every window starts
`chunk_tokens - overlap_tokens` after the previous one. The invariant tests elsewhere only bound the
overlap from below, which a stride of `overlap` (46 chunks instead of 13) also satisfies (issue 18)."""

from __future__ import annotations

import pytest

from llamasys.tools.memory import ChunkingConfig, HashingEmbedder, chunk_text


def words(n: int) -> str:
    return " ".join(f"word{i}" for i in range(n))


def reference_windows(n: int, size: int, overlap: int) -> list[tuple[int, int]]:
    """Token windows of `size` moving by `size - overlap`, the last one ending at n."""
    windows, start = [], 0
    while True:
        end = min(start + size, n)
        windows.append((start, end))
        if end == n:
            return windows
        start += size - overlap


def test_two_thousand_tokens_make_thirteen_chunks_with_the_defaults() -> None:
    text = words(2000)
    spans = HashingEmbedder().token_spans
    assert len(spans(text)) == 2000  # one token per word: no boundary can shift a window
    chunks = chunk_text(text, spans)
    assert ChunkingConfig() == ChunkingConfig(chunk_tokens=200, overlap_tokens=40)
    assert len(chunks) == 13
    assert [(c.token_start, c.token_end) for c in chunks] == [
        (160 * i, min(160 * i + 200, 2000)) for i in range(13)
    ]
    assert chunks[1].text.startswith("word160 ") and chunks[-1].text.endswith(" word1999")


@pytest.mark.parametrize(
    ("n", "size", "overlap", "count"),
    [
        (2000, 100, 0, 20),
        (2000, 50, 10, 50),
        (2000, 64, 63, 1937),
        (200, 200, 40, 1),
        (201, 200, 40, 2),
        (360, 200, 40, 2),
        (361, 200, 40, 3),
        (10, 8, 0, 2),
    ],
)
def test_windows_move_by_size_minus_overlap(n: int, size: int, overlap: int, count: int) -> None:
    config = ChunkingConfig(chunk_tokens=size, overlap_tokens=overlap)
    chunks = chunk_text(words(n), HashingEmbedder().token_spans, config)
    assert [(c.token_start, c.token_end) for c in chunks] == reference_windows(n, size, overlap)
    assert len(chunks) == count
    assert [c.index for c in chunks] == list(range(count))
