"""Token chunking: sizes in the embedder's tokens, overlap, offsets that point back into the text."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from llamasys.tools.memory import ChunkingConfig, HashingEmbedder, MiniLMEmbedder, chunk_text
from llamasys.tools.memory.chunking import _continues_word

LONG_WORDS = (
    "Electroencephalography and immunohistochemistry laboratories characterise "
    "uncharacteristically antidisestablishmentarian pseudohypoparathyroidism. "
)


@pytest.fixture(scope="module")
def wordpiece() -> MiniLMEmbedder:
    return MiniLMEmbedder()  # only its tokenizer is used here: the model is never loaded


def _check_invariants(text: str, chunks, spans, config: ChunkingConfig) -> None:
    assert chunks, "a text with tokens gives at least one chunk"
    assert chunks[0].token_start == 0 and chunks[-1].token_end == len(spans)
    for chunk in chunks:
        assert text[chunk.char_start : chunk.char_end] == chunk.text
        assert 0 < chunk.token_count <= config.chunk_tokens
        assert (
            chunk.char_start == spans[chunk.token_start][0]
            and chunk.char_end == spans[chunk.token_end - 1][1]
        )
    for prev, cur in zip(chunks, chunks[1:], strict=False):
        assert cur.index == prev.index + 1
        assert prev.token_start < cur.token_start <= prev.token_end  # moves forward, leaves no gap
        assert prev.token_end - cur.token_start >= min(
            config.overlap_tokens, prev.token_count - 1
        )  # overlap kept


def test_defaults_fit_minilm_window(wordpiece: MiniLMEmbedder) -> None:
    config = ChunkingConfig()
    assert (config.chunk_tokens, config.overlap_tokens) == (200, 40)
    assert config.chunk_tokens + 2 <= wordpiece.max_tokens  # [CLS] + chunk + [SEP] fits 256


def test_word_piece_chunks_never_split_a_word(wordpiece: MiniLMEmbedder) -> None:
    text = LONG_WORDS * 40
    spans = wordpiece.token_spans(text)
    config = ChunkingConfig(chunk_tokens=50, overlap_tokens=10)
    chunks = chunk_text(text, wordpiece.token_spans, config)
    _check_invariants(text, chunks, spans, config)
    assert len(chunks) > 5
    for chunk in chunks:
        assert not _continues_word(text, spans, chunk.token_start), chunk.text[:30]
        assert not _continues_word(text, spans, chunk.token_end), chunk.text[-30:]


def test_chunks_prefer_sentence_ends(wordpiece: MiniLMEmbedder) -> None:
    sentences = [f"Sentence number {i} talks about topic {i} in a few more words." for i in range(60)]
    text = " ".join(sentences)
    chunks = chunk_text(text, wordpiece.token_spans, ChunkingConfig(chunk_tokens=64, overlap_tokens=16))
    assert len(chunks) > 3
    assert all(chunk.text.endswith(".") for chunk in chunks)


def test_token_counts_are_the_embedders(wordpiece: MiniLMEmbedder) -> None:
    text = LONG_WORDS * 3
    (chunk,) = chunk_text(text, wordpiece.token_spans, ChunkingConfig())
    assert chunk.token_count == wordpiece.count_tokens(text) > len(text.split())  # word pieces, not words


def test_empty_and_blank_texts_give_no_chunks() -> None:
    spans = HashingEmbedder().token_spans
    assert chunk_text("", spans) == []
    assert chunk_text(" \n\t ", spans) == []


def test_overlap_must_be_smaller_than_chunk() -> None:
    with pytest.raises(ValidationError, match="overlap_tokens"):
        ChunkingConfig(chunk_tokens=50, overlap_tokens=50)


@settings(max_examples=60, deadline=None)
@given(
    words=st.lists(
        st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12), max_size=300
    ),
    size=st.integers(8, 64),
    overlap_fraction=st.floats(0, 0.9),
)
def test_invariants_hold_for_any_text(words: list[str], size: int, overlap_fraction: float) -> None:
    text = " ".join(words)
    embedder = HashingEmbedder()
    config = ChunkingConfig(chunk_tokens=size, overlap_tokens=min(size - 1, int(size * overlap_fraction)))
    spans = embedder.token_spans(text)
    chunks = chunk_text(text, embedder.token_spans, config)
    if not spans:
        assert chunks == []
    else:
        _check_invariants(text, chunks, spans, config)
