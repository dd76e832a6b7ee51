"""Memory banks: named collections of documents, chunked, embedded, stored, and searchable.

    store = MemoryStore()                              # ~/.cache/llamasys/memory.sqlite (LLAMASYS_HOME)
    store = MemoryStore("postgresql+psycopg://u@host/db", embedder=my_embedder)
    bank = store.create_bank("handbook", description="company handbook")
    report = bank.add_folder("docs/", include=["*.md", "*.pdf"])      # IngestReport: added / duplicates / failed
    bank.add_text("...", title="notes"); bank.add_payload(body, source=url, content_type="text/html")
    hits = bank.search("how many vacation days?", k=5, mode="hybrid")  # list[SearchHit]
    store.search("query", banks=["handbook", "wiki"])                 # across banks
    await bank.aadd_file("x.pdf"); await store.asearch("query", banks=["handbook"])

Everything is synchronous and thread-safe; the `a*` variants run the same work in a worker thread so an
event loop is never blocked by parsing, embedding or the database.
"""

from __future__ import annotations

import asyncio
import fnmatch
import hashlib
import logging
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy.exc import IntegrityError

from .chunking import ChunkingConfig, TextChunk, chunk_text
from .embedding import Embedder, MiniLMEmbedder
from .errors import (
    BankExistsError,
    DocumentReadError,
    EmbedderMismatchError,
    MemoryBankError,
    UnknownBankError,
    UnknownDocumentError,
)
from .ingest import EXTENSIONS, LoadedDocument, load_text, read_file, read_payload
from .records import (
    BankInfo,
    DocumentInfo,
    DuplicateDocument,
    IngestFailure,
    IngestReport,
    SearchHit,
    SearchMode,
)
from .search import reciprocal_rank_fusion
from .store import SqlStore, database_url

log = logging.getLogger(__name__)

# Chunks embedded and written per transaction: large enough to batch the model well, small enough that a
# failure loses little and memory stays flat on big folders.
BATCH_CHUNKS = 256
PROGRESS_MIN_DOCUMENTS = 20


def content_hash(text: str) -> str:
    """sha256 of the text with whitespace collapsed: the same words re-wrapped are the same document."""
    return hashlib.sha256(" ".join(text.split()).encode("utf-8")).hexdigest()


class MemoryStore:
    """A database of memory banks with one embedder. Cheap to open; the embedder loads on first use."""

    def __init__(
        self,
        location: str | Path | None = None,
        *,
        embedder: Embedder | None = None,
        pgvector: bool | None = None,
        echo: bool = False,
    ) -> None:
        self.url = database_url(location)
        self.sql = SqlStore(self.url, pgvector=pgvector, echo=echo)
        self._embedder = embedder

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = MiniLMEmbedder()
        return self._embedder

    def __enter__(self) -> MemoryStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.sql.close()

    # -- banks ----------------------------------------------------------------------------------------

    def create_bank(
        self,
        name: str,
        *,
        description: str = "",
        chunking: ChunkingConfig | None = None,
        exist_ok: bool = False,
    ) -> MemoryBank:
        if not name or not name.strip() or len(name) > 200:
            raise MemoryBankError("a bank name must be 1 to 200 characters, not blank")
        existing = self.sql.bank_row(name)
        if existing is not None:
            if exist_ok:
                return self.bank(name)
            raise BankExistsError(f"memory bank {name!r} already exists; open it with store.bank({name!r})")
        chunking = chunking or ChunkingConfig()
        embedder = self.embedder
        if chunking.chunk_tokens > embedder.max_tokens - 2:
            log.warning(
                "chunks of %d tokens are longer than %s reads (%d): the end of each chunk will not be embedded",
                chunking.chunk_tokens, embedder.name, embedder.max_tokens,
            )  # fmt: skip
        try:
            self.sql.insert_bank(
                {
                    "name": name,
                    "description": description,
                    "embedder": embedder.name,
                    "dimension": embedder.dimension,
                    "chunk_tokens": chunking.chunk_tokens,
                    "overlap_tokens": chunking.overlap_tokens,
                }
            )
        except IntegrityError as exc:
            raise BankExistsError(f"memory bank {name!r} already exists (created concurrently)") from exc
        log.info("created memory bank %r (%s, %d dims)", name, embedder.name, embedder.dimension)
        return MemoryBank(self, name)

    def bank(self, name: str) -> MemoryBank:
        self._bank_row(name)
        return MemoryBank(self, name)

    def list_banks(self) -> list[BankInfo]:
        return [BankInfo(**row) for row in self.sql.bank_rows()]

    def delete_bank(self, name: str) -> None:
        self._bank_row(name)
        self.sql.delete_bank(name)
        log.info("deleted memory bank %r", name)

    def _bank_row(self, name: str) -> dict[str, Any]:
        row = self.sql.bank_row(name)
        if row is None:
            raise UnknownBankError(name, [r["name"] for r in self.sql.bank_rows()])
        return row

    def _check_embedder(self, row: dict[str, Any]) -> Embedder:
        embedder = self.embedder
        if row["embedder"] != embedder.name or row["dimension"] != embedder.dimension:
            raise EmbedderMismatchError(
                f"memory bank {row['name']!r} was filled with {row['embedder']} ({row['dimension']} dims) but "
                f"this store embeds with {embedder.name} ({embedder.dimension} dims); open the store with "
                "the same embedder, or re-ingest the documents into a new bank"
            )
        return embedder

    # -- search ---------------------------------------------------------------------------------------

    def search(
        self,
        query: str,
        *,
        banks: Iterable[str],
        k: int = 5,
        mode: SearchMode = "hybrid",
        document_ids: Iterable[str] | None = None,
        candidates: int | None = None,
        query_vector: np.ndarray | None = None,
    ) -> list[SearchHit]:
        """The `k` best chunks for `query` in `banks`: by cosine ("vector"), full text ("keyword") or both
        fused with reciprocal rank fusion ("hybrid", the default). `document_ids` restricts the search;
        `candidates` is how deep each list is read before fusion (default max(4k, 20)); `query_vector`
        is the query's embedding when you already have it (it must come from this store's embedder)."""
        banks = list(dict.fromkeys(banks))
        if not banks:
            raise MemoryBankError("search needs at least one bank name")
        if mode not in ("vector", "keyword", "hybrid"):
            raise MemoryBankError(f"unknown search mode {mode!r}: use 'vector', 'keyword' or 'hybrid'")
        if k <= 0 or not query.strip():
            return []
        rows = [self._bank_row(name) for name in banks]
        docs = list(document_ids) if document_ids is not None else None
        # Each list is asked for more than k so the fusion has overlap to work with.
        depth = candidates or max(4 * k, 20)
        vector_list: list[tuple[int, float]] = []
        keyword_list: list[tuple[int, float]] = []
        if mode in ("vector", "hybrid"):
            for row in rows:
                self._check_embedder(row)
            vector = self.embedder.embed([query])[0] if query_vector is None else query_vector
            vector_list = self.sql.vector_search(vector, banks=banks, limit=depth, document_ids=docs)
        if mode in ("keyword", "hybrid"):
            keyword_list = self.sql.keyword_search(query, banks=banks, limit=depth, document_ids=docs)
        return self._hits(mode, vector_list, keyword_list, k)

    def _hits(
        self,
        mode: SearchMode,
        vector_list: list[tuple[int, float]],
        keyword_list: list[tuple[int, float]],
        k: int,
    ) -> list[SearchHit]:
        vector_rank = {cid: rank for rank, (cid, _) in enumerate(vector_list, start=1)}
        keyword_rank = {cid: rank for rank, (cid, _) in enumerate(keyword_list, start=1)}
        if mode == "vector":
            chosen = vector_list[:k]
        elif mode == "keyword":
            chosen = keyword_list[:k]
        else:
            chosen = reciprocal_rank_fusion([[c for c, _ in vector_list], [c for c, _ in keyword_list]])[:k]
        rows = self.sql.chunk_rows([cid for cid, _ in chosen])
        hits = []
        for cid, score in chosen:
            row = rows.get(cid)
            if row is None:  # deleted between the two reads
                continue
            row["metadata"] = row["metadata"] or {}
            hits.append(
                SearchHit(
                    chunk_id=cid,
                    score=score,
                    vector_rank=vector_rank.get(cid),
                    keyword_rank=keyword_rank.get(cid),
                    **{key: value for key, value in row.items() if key != "id"},
                )
            )
        return hits

    async def asearch(self, query: str, **kwargs: Any) -> list[SearchHit]:
        return await asyncio.to_thread(self.search, query, **kwargs)


class MemoryBank:
    """A handle on one bank of a `MemoryStore` (get it from `create_bank` or `bank`)."""

    def __init__(self, store: MemoryStore, name: str) -> None:
        self.store = store
        self.name = name

    def __repr__(self) -> str:
        return f"MemoryBank({self.name!r}, {self.store.url!r})"

    def info(self) -> BankInfo:
        infos = self.store.list_banks()
        for info in infos:
            if info.name == self.name:
                return info
        raise UnknownBankError(self.name, [b.name for b in infos])

    @property
    def chunking(self) -> ChunkingConfig:
        return _chunking(self.store._bank_row(self.name))

    # -- documents ------------------------------------------------------------------------------------

    def documents(self) -> list[DocumentInfo]:
        self.store._bank_row(self.name)
        return [DocumentInfo(**row) for row in self.store.sql.document_rows(self.name)]

    def document(self, document_id: str) -> DocumentInfo:
        row = self.store.sql.document_row(self.name, document_id)
        if row is None:
            self.store._bank_row(self.name)
            raise UnknownDocumentError(
                f"memory bank {self.name!r} has no document {document_id!r}; see bank.documents()"
            )
        return DocumentInfo(**row)

    def delete_document(self, document_id: str) -> None:
        self.store._bank_row(self.name)
        if not self.store.sql.delete_document(self.name, document_id):
            raise UnknownDocumentError(
                f"memory bank {self.name!r} has no document {document_id!r}; see bank.documents()"
            )

    def add_text(
        self, text: str, *, title: str, source: str | None = None, metadata: dict[str, Any] | None = None
    ) -> IngestReport:
        return self._ingest(
            [(source or title, lambda: load_text(text, title=title, source=source))], metadata
        )

    def add_texts(
        self,
        texts: Iterable[tuple[str, str]],
        *,
        metadata: dict[str, Any] | None = None,
        progress: bool | None = None,
    ) -> IngestReport:
        """Many (title, text) pairs in one ingestion."""
        items = [(title, (lambda t=text, n=title: load_text(t, title=n))) for title, text in texts]
        return self._ingest(items, metadata, progress=progress)

    def add_payload(
        self,
        data: bytes | str,
        *,
        source: str,
        content_type: str | None = None,
        title: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> IngestReport:
        """A document already fetched (an HTTP body and its URL and Content-Type header)."""

        def load() -> LoadedDocument:
            doc = read_payload(data, source=source, content_type=content_type)
            return doc.model_copy(update={"title": title}) if title else doc

        return self._ingest([(source, load)], metadata)

    def add_file(self, path: str | Path, *, metadata: dict[str, Any] | None = None) -> IngestReport:
        return self.add_files([path], metadata=metadata)

    def add_files(
        self,
        paths: Iterable[str | Path],
        *,
        metadata: dict[str, Any] | None = None,
        progress: bool | None = None,
    ) -> IngestReport:
        items = [(str(p), (lambda p=Path(p): read_file(p))) for p in paths]
        return self._ingest(items, metadata, progress=progress)

    def add_folder(
        self,
        folder: str | Path,
        *,
        include: Iterable[str] | None = None,
        exclude: Iterable[str] = (),
        recursive: bool = True,
        metadata: dict[str, Any] | None = None,
        progress: bool | None = None,
    ) -> IngestReport:
        """Every file under `folder` whose name matches `include` (default: every supported type) and no
        `exclude` pattern; hidden files and folders are skipped. Patterns match the name or the relative path."""
        root = Path(folder)
        if not root.is_dir():
            raise DocumentReadError(f"{root}: not a folder; use add_file() for a single file")
        patterns = list(include) if include is not None else [f"*{ext}" for ext in EXTENSIONS]
        excluded = list(exclude)
        files = sorted(_walk(root, recursive=recursive))
        chosen = []
        for path in files:
            rel = path.relative_to(root).as_posix()
            if not any(
                fnmatch.fnmatch(path.name.lower(), p.lower()) or fnmatch.fnmatch(rel, p) for p in patterns
            ):
                continue
            if any(fnmatch.fnmatch(path.name, p) or fnmatch.fnmatch(rel, p) for p in excluded):
                continue
            chosen.append(path)
        log.info("%s: %d of %d files match", root, len(chosen), len(files))
        return self.add_files(chosen, metadata=metadata, progress=progress)

    # async variants: the same work in a worker thread
    async def aadd_text(self, text: str, **kwargs: Any) -> IngestReport:
        return await asyncio.to_thread(self.add_text, text, **kwargs)

    async def aadd_payload(self, data: bytes | str, **kwargs: Any) -> IngestReport:
        return await asyncio.to_thread(self.add_payload, data, **kwargs)

    async def aadd_file(self, path: str | Path, **kwargs: Any) -> IngestReport:
        return await asyncio.to_thread(self.add_file, path, **kwargs)

    async def aadd_folder(self, folder: str | Path, **kwargs: Any) -> IngestReport:
        return await asyncio.to_thread(self.add_folder, folder, **kwargs)

    def search(
        self,
        query: str,
        *,
        k: int = 5,
        mode: SearchMode = "hybrid",
        document_ids: Iterable[str] | None = None,
    ) -> list[SearchHit]:
        return self.store.search(query, banks=[self.name], k=k, mode=mode, document_ids=document_ids)

    async def asearch(self, query: str, **kwargs: Any) -> list[SearchHit]:
        return await asyncio.to_thread(self.search, query, **kwargs)

    # -- the ingestion pipeline -----------------------------------------------------------------------

    def _ingest(
        self,
        items: list[tuple[str, Callable[[], LoadedDocument]]],
        metadata: dict[str, Any] | None,
        *,
        progress: bool | None = None,
    ) -> IngestReport:
        """Read, deduplicate, chunk, embed and store; every item's failure is reported, the rest goes on."""
        row = self.store._bank_row(self.name)
        embedder = self.store._check_embedder(row)
        config = _chunking(row)
        report = IngestReport(bank=self.name)
        show = progress if progress is not None else len(items) >= PROGRESS_MIN_DOCUMENTS
        pending: list[tuple[LoadedDocument, str, list[TextChunk]]] = []
        pending_chunks = 0
        seen: dict[str, str] = {}  # hashes of this ingestion -> source
        bar = _progress(len(items), show, self.name)
        try:
            for source, load in items:
                prepared = _prepare(source, load, embedder, config, seen, report)
                bar.update(1)
                if prepared is None:
                    continue
                pending.append(prepared)
                pending_chunks += len(prepared[2])
                if pending_chunks >= BATCH_CHUNKS:
                    self._store_batch(pending, embedder, metadata, report)
                    pending, pending_chunks = [], 0
                bar.set_postfix(chunks=report.chunks_added + pending_chunks, refresh=False)
            if pending:
                self._store_batch(pending, embedder, metadata, report)
        finally:
            bar.close()
        log.info("%s", report.summary())
        return report

    def _store_batch(
        self,
        pending: list[tuple[LoadedDocument, str, list[TextChunk]]],
        embedder: Embedder,
        metadata: dict[str, Any] | None,
        report: IngestReport,
    ) -> None:
        existing = self.store.sql.existing_hashes(self.name, [digest for _, digest, _ in pending])
        if existing:
            for doc, digest, _ in pending:
                if digest in existing:
                    report.duplicates.append(
                        DuplicateDocument(
                            source=doc.source,
                            existing_id=existing[digest]["id"],
                            existing_source=existing[digest]["source"],
                        )
                    )
            pending = [item for item in pending if item[1] not in existing]
        texts = [chunk.text for _, _, chunks in pending for chunk in chunks]
        if not texts:
            return
        started = time.perf_counter()
        vectors = embedder.embed(texts)
        report.timings.embedding_s += time.perf_counter() - started
        if vectors.shape != (len(texts), embedder.dimension):
            raise MemoryBankError(
                f"embedder {embedder.name} returned shape {vectors.shape} for {len(texts)} texts, "
                f"expected ({len(texts)}, {embedder.dimension})"
            )
        items, infos = [], []
        row = 0
        now = datetime.now(UTC)
        for doc, digest, chunks in pending:
            doc_row = {
                "id": uuid.uuid4().hex,
                "title": doc.title,
                "source": doc.source,
                "content_type": doc.content_type,
                "content_hash": digest,
                "characters": len(doc.text),
                "chunks": len(chunks),
                "metadata": dict(metadata or {}),
                "created_at": now,
            }
            chunk_rows = []
            for chunk in chunks:
                chunk_rows.append(
                    {
                        "chunk_index": chunk.index,
                        "char_start": chunk.char_start,
                        "char_end": chunk.char_end,
                        "token_start": chunk.token_start,
                        "token_end": chunk.token_end,
                        "page": doc.page_of(chunk.char_start),
                        "page_end": doc.page_of(max(chunk.char_end - 1, chunk.char_start)),
                        "text": chunk.text,
                        "embedding": vectors[row],
                    }
                )
                row += 1
            items.append((doc_row, chunk_rows))
            infos.append(DocumentInfo(bank=self.name, **doc_row))
        started = time.perf_counter()
        self.store.sql.insert_documents(self.name, items)
        report.timings.storing_s += time.perf_counter() - started
        report.added += infos
        report.chunks_added += len(texts)


def _prepare(
    source: str,
    load: Callable[[], LoadedDocument],
    embedder: Embedder,
    config: ChunkingConfig,
    seen: dict[str, str],
    report: IngestReport,
) -> tuple[LoadedDocument, str, list[TextChunk]] | None:
    """Read, deduplicate within this ingestion and chunk one item; None when it is reported as skipped."""
    started = time.perf_counter()
    try:
        doc = load()
    except DocumentReadError as exc:
        report.failed.append(IngestFailure(source=source, error=str(exc)))
        log.warning("skipped %s", exc)
        return None
    except Exception as exc:  # a reader's bug on one odd file must not stop the folder
        log.warning("reading %s failed", source, exc_info=True)
        report.failed.append(IngestFailure(source=source, error=f"{source}: {type(exc).__name__}: {exc}"))
        return None
    report.timings.reading_s += time.perf_counter() - started
    digest = content_hash(doc.text)
    if digest in seen:
        report.duplicates.append(
            DuplicateDocument(source=doc.source, existing_id="(this ingestion)", existing_source=seen[digest])
        )
        return None
    seen[digest] = doc.source  # duplicates of documents already in the bank: see _store_batch
    started = time.perf_counter()
    chunks = chunk_text(doc.text, embedder.token_spans, config)
    report.timings.chunking_s += time.perf_counter() - started
    if not chunks:
        report.failed.append(
            IngestFailure(source=source, error=f"{source}: the embedder finds no tokens in its text")
        )
        return None
    return doc, digest, chunks


def _chunking(bank_row: dict[str, Any]) -> ChunkingConfig:
    return ChunkingConfig(chunk_tokens=bank_row["chunk_tokens"], overlap_tokens=bank_row["overlap_tokens"])


def _walk(root: Path, *, recursive: bool) -> Iterator[Path]:
    for entry in root.iterdir():
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            if recursive and not entry.is_symlink():  # a linked folder could loop back on itself
                yield from _walk(entry, recursive=True)
        elif entry.is_file():
            yield entry


def _progress(total: int, show: bool, bank: str):
    from tqdm.auto import tqdm

    return tqdm(total=total, disable=not show, unit="doc", desc=f"ingesting into {bank}", leave=False)
