"""Split a document into overlapping windows measured in the embedder's own tokens.

    chunks = chunk_text(text, embedder.token_spans, ChunkingConfig(chunk_tokens=200, overlap_tokens=40))
    chunks[0].text, chunks[0].char_start, chunks[0].token_start

Why 200 / 40 by default: all-MiniLM-L6-v2 reads at most 256 word pieces, two of which are [CLS] and
[SEP], and silently drops the rest; a chunk of 200 word pieces is therefore embedded whole, with room
left for the boundary adjustments below (a chunk never grows past `chunk_tokens`). Meta's 512-token
chunks (counted with the Llama tokenizer, which is denser still) would leave half of every chunk unseen
by the embedder. An overlap of 40 tokens (20%) is longer than a typical sentence (20–30 word pieces),
so a sentence cut by one boundary is whole in the neighbouring chunk.

Boundaries are moved, within limits, to where a reader would put them: a window ends after a sentence
when one ends in its last quarter, else between two words, never inside a word; the next window starts
at a word. Each chunk keeps its character and token offsets in the source text.
"""

from __future__ import annotations

from collections.abc import Callable

from pydantic import BaseModel, Field, model_validator

TokenSpans = Callable[[str], list[tuple[int, int]]]

_SENTENCE_END = {".", "!", "?", "。", "！", "？"}


class ChunkingConfig(BaseModel):
    chunk_tokens: int = Field(200, ge=8, description="largest chunk, in the embedder's tokens")
    overlap_tokens: int = Field(40, ge=0, description="tokens shared by neighbouring chunks")

    @model_validator(mode="after")
    def _overlap_below_size(self) -> ChunkingConfig:
        if self.overlap_tokens >= self.chunk_tokens:
            raise ValueError(
                f"overlap_tokens ({self.overlap_tokens}) must be smaller than chunk_tokens "
                f"({self.chunk_tokens}), or no window would move forward"
            )
        return self


class TextChunk(BaseModel):
    index: int
    text: str
    char_start: int
    char_end: int
    token_start: int
    token_end: int  # exclusive

    @property
    def token_count(self) -> int:
        return self.token_end - self.token_start


def chunk_text(text: str, token_spans: TokenSpans, config: ChunkingConfig | None = None) -> list[TextChunk]:
    """Overlapping token windows over `text`; an empty or blank text gives no chunks."""
    config = config or ChunkingConfig()
    spans = token_spans(text)
    n = len(spans)
    if n == 0:
        return []
    size, overlap = config.chunk_tokens, config.overlap_tokens
    chunks: list[TextChunk] = []
    start = 0
    while True:
        end = n if n - start <= size else _pick_end(text, spans, start, start + size)
        chunks.append(
            TextChunk(
                index=len(chunks),
                text=text[spans[start][0] : spans[end - 1][1]],
                char_start=spans[start][0],
                char_end=spans[end - 1][1],
                token_start=start,
                token_end=end,
            )
        )
        if end >= n:
            return chunks
        next_start = max(end - overlap, start + 1)
        start = _word_start_at_or_before(text, spans, next_start, lowest=start + 1)


def _continues_word(text: str, spans: list[tuple[int, int]], i: int) -> bool:
    """Is token i glued to token i-1 inside one word (a word piece such as '##ing')?"""
    if i <= 0 or i >= len(spans):
        return False
    prev_end, cur_start = spans[i - 1][1], spans[i][0]
    if cur_start != prev_end or prev_end == 0 or cur_start >= len(text):
        return False
    return text[prev_end - 1].isalnum() and text[cur_start].isalnum()


def _ends_sentence(text: str, spans: list[tuple[int, int]], i: int) -> bool:
    """Does a sentence end with token i (a full stop followed by space, or a blank line after it)?"""
    start, end = spans[i]
    token = text[start:end]
    next_start = spans[i + 1][0] if i + 1 < len(spans) else len(text)
    gap = text[end:next_start]
    if "\n\n" in gap or (gap and "\n" in gap and token.strip() and not token[-1].isalnum()):
        return True
    return token[-1:] in _SENTENCE_END and bool(gap) and gap[0].isspace()


def _pick_end(text: str, spans: list[tuple[int, int]], start: int, limit: int) -> int:
    """Exclusive end <= limit: after a sentence in the last quarter, else at a word boundary."""
    window = limit - start
    for end in range(limit, start + max(1, window * 3 // 4), -1):
        if _ends_sentence(text, spans, end - 1):
            return end
    for end in range(limit, max(start, limit - 16), -1):
        if not _continues_word(text, spans, end):
            return end
    return limit


def _word_start_at_or_before(text: str, spans: list[tuple[int, int]], i: int, *, lowest: int) -> int:
    j = i
    while j > lowest and _continues_word(text, spans, j):
        j -= 1
    return j if not _continues_word(text, spans, j) else i
