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


def spans_of(text: str, pieces: list[str]) -> list[tuple[int, int]]:
    """Character spans of `pieces`, found left to right in `text` (what an embedder's tokenizer gives)."""
    spans, at = [], 0
    for piece in pieces:
        start = text.index(piece, at)
        spans.append((start, start + len(piece)))
        at = start + len(piece)
    return spans


@pytest.mark.parametrize(
    ("text", "pieces", "i", "expected"),
    [
        ("playing", ["play", "ing"], 1, True),  # a word piece glued to the one before
        ("playing", ["play", "ing"], 0, False),  # the first token continues nothing
        ("playing", ["play", "ing"], 2, False),  # past the end
        ("a b", ["a", "b"], 1, False),  # a space between
        ("a.b", ["a", ".", "b"], 1, False),  # punctuation is not inside a word
        ("a.b", ["a", ".", "b"], 2, False),
        ("ab9", ["ab", "9"], 1, True),  # digits are word characters
        ("ab", ["a", "b"], 1, True),  # the first token is one character long
        ("x", ["x", ""], 1, False),  # an empty token at the end of the text
    ],
)
def test_continues_word(text: str, pieces: list[str], i: int, expected: bool) -> None:
    from llamasys.tools.memory.chunking import _continues_word

    assert _continues_word(text, spans_of(text, pieces), i) is expected


@pytest.mark.parametrize(
    ("text", "pieces", "i", "expected"),
    [
        ("Hi. There", ["Hi", ".", "There"], 1, True),  # a full stop, then a space
        ("Hi. There", ["Hi", ".", "There"], 0, False),
        ("Hi.There", ["Hi", ".", "There"], 1, False),  # no space after the stop
        ("Hi! Yes? No", ["Hi", "!", "Yes", "?", "No"], 1, True),
        ("Hi! Yes? No", ["Hi", "!", "Yes", "?", "No"], 3, True),
        ("end.", ["end", "."], 1, False),  # nothing after the last stop
        ("end. ", ["end", "."], 1, True),
        ("a\n\nb", ["a", "b"], 0, True),  # a blank line ends a paragraph
        ("a:\nb", ["a", ":", "b"], 1, True),  # a line break after punctuation
        ("a\nb", ["a", "b"], 0, False),  # a line break inside running words is not an end
        ("a b\n\nc", ["a", "b", "c"], 0, False),  # the blank line belongs to the next token's gap
        ("a b\n\nc", ["a", "b", "c"], 1, True),
        ("x. y z", ["x", ".", "y", "z"], 2, False),  # the gap ends at the next token, not the text's end
        ("v1.2 ok", ["v1", ".", "2", "ok"], 1, False),
        ("Hi. There", ["Hi.", "There"], 0, True),  # a token that ends with the stop
        ("a.b\n\n", ["a", ".", "b"], 1, False),  # the blank line after the next token is not this gap
    ],
)
def test_ends_sentence(text: str, pieces: list[str], i: int, expected: bool) -> None:
    from llamasys.tools.memory.chunking import _ends_sentence

    assert _ends_sentence(text, spans_of(text, pieces), i) is expected
