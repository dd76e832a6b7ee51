"""The public data types of the memory package (pydantic v2): banks, documents, hits, ingestion reports."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

SearchMode = Literal["vector", "keyword", "hybrid"]


def _as_utc(value: datetime) -> datetime:
    """SQLite gives timestamps back without their zone; they were written in UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


class BankInfo(BaseModel):
    name: str
    description: str = ""
    embedder: str
    dimension: int
    chunk_tokens: int
    overlap_tokens: int
    documents: int = 0
    chunks: int = 0
    created_at: datetime

    _utc = field_validator("created_at")(_as_utc)


class DocumentInfo(BaseModel):
    id: str
    bank: str
    title: str
    source: str
    content_type: str
    content_hash: str
    characters: int
    chunks: int
    metadata: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime

    _utc = field_validator("created_at")(_as_utc)


class SearchHit(BaseModel):
    """One retrieved chunk, with where it comes from and how it was found."""

    chunk_id: int
    bank: str
    document_id: str
    title: str
    source: str
    chunk_index: int
    chunk_count: int
    char_start: int
    char_end: int
    token_start: int
    token_end: int
    page: int | None = None  # PDF page where the chunk starts, and where it ends
    page_end: int | None = None
    text: str
    score: float  # cosine (vector), -bm25 / ts_rank (keyword), or the RRF sum (hybrid); higher is better
    vector_rank: int | None = None  # 1-based rank in the vector list, when it was there
    keyword_rank: int | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)

    @property
    def position(self) -> str:
        """Human-readable place in the source: 'page 3, chunk 2 of 5, characters 812-1630'."""
        where = f"chunk {self.chunk_index + 1} of {self.chunk_count}, characters {self.char_start}-{self.char_end}"
        if self.page is None:
            return where
        if self.page_end is not None and self.page_end != self.page:
            return f"pages {self.page}-{self.page_end}, {where}"
        return f"page {self.page}, {where}"


class IngestFailure(BaseModel):
    source: str
    error: str


class DuplicateDocument(BaseModel):
    source: str
    existing_id: str
    existing_source: str


class IngestTimings(BaseModel):
    reading_s: float = 0.0
    chunking_s: float = 0.0
    embedding_s: float = 0.0
    storing_s: float = 0.0


class IngestReport(BaseModel):
    """What one ingestion did, per input: added, skipped as a duplicate, or failed with the reason."""

    bank: str
    added: list[DocumentInfo] = Field(default_factory=list)
    duplicates: list[DuplicateDocument] = Field(default_factory=list)
    failed: list[IngestFailure] = Field(default_factory=list)
    chunks_added: int = 0
    timings: IngestTimings = Field(default_factory=IngestTimings)

    @property
    def ok(self) -> bool:
        return not self.failed

    def merge(self, other: IngestReport) -> None:
        self.added += other.added
        self.duplicates += other.duplicates
        self.failed += other.failed
        self.chunks_added += other.chunks_added
        for field in IngestTimings.model_fields:
            setattr(self.timings, field, getattr(self.timings, field) + getattr(other.timings, field))

    def summary(self) -> str:
        lines = [
            f"bank {self.bank!r}: {len(self.added)} document(s) added ({self.chunks_added} chunks), "
            f"{len(self.duplicates)} duplicate(s) skipped, {len(self.failed)} failed"
        ]
        lines += [
            f"  duplicate: {d.source} (same text as {d.existing_source}, id {d.existing_id})"
            for d in self.duplicates
        ]
        lines += [f"  failed: {f.error}" for f in self.failed]
        return "\n".join(lines)
