"""Retrieval over the user's documents: memory banks, ingestion, hybrid search, `knowledge_search`.

    from llamasys.tools.memory import MemoryStore, KnowledgeSearchTool

    store = MemoryStore("memory.sqlite")                # SQLite file (default: LLAMASYS_HOME/memory.sqlite)
    bank = store.create_bank("handbook", exist_ok=True)  # chunks of 200 MiniLM tokens, 40 overlap
    report = bank.add_folder("docs/")                    # .txt .md .html .pdf ...; report.failed per file
    hits = bank.search("vacation days", k=5)             # hybrid: cosine + FTS5 bm25, fused by RRF (k=60)
    tool = KnowledgeSearchTool(store, banks=["handbook"])
    result = await tool.run(query="vacation days for new staff")

Modules: `bank` (MemoryStore, MemoryBank), `ingest` (readers), `chunking`, `embedding` (Embedder protocol,
MiniLMEmbedder, HashingEmbedder), `store` (SQLAlchemy tables, FTS5 / tsvector, pgvector), `search`
(cosine top-k, RRF), `knowledge_search` (the tool), `records` (pydantic types), `errors`.
"""

from .bank import MemoryBank, MemoryStore, content_hash
from .chunking import ChunkingConfig, TextChunk, chunk_text
from .embedding import Embedder, HashingEmbedder, MiniLMEmbedder
from .errors import (
    BankExistsError,
    DocumentReadError,
    EmbedderMismatchError,
    MemoryBankError,
    UnknownBankError,
    UnknownDocumentError,
    UnsupportedDocumentError,
)
from .ingest import LoadedDocument, read_file, read_payload
from .knowledge_search import KnowledgeSearchTool
from .records import (
    BankInfo,
    DocumentInfo,
    DuplicateDocument,
    IngestFailure,
    IngestReport,
    SearchHit,
    SearchMode,
)

__all__ = [
    "BankExistsError",
    "BankInfo",
    "ChunkingConfig",
    "DocumentInfo",
    "DocumentReadError",
    "DuplicateDocument",
    "Embedder",
    "EmbedderMismatchError",
    "HashingEmbedder",
    "IngestFailure",
    "IngestReport",
    "KnowledgeSearchTool",
    "LoadedDocument",
    "MemoryBank",
    "MemoryBankError",
    "MemoryStore",
    "MiniLMEmbedder",
    "SearchHit",
    "SearchMode",
    "TextChunk",
    "UnknownBankError",
    "UnknownDocumentError",
    "UnsupportedDocumentError",
    "chunk_text",
    "content_hash",
    "read_file",
    "read_payload",
]
