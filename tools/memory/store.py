"""The SQL side of memory banks, through SQLAlchemy 2 Core: tables, writes, keyword search, vectors.

    sql = SqlStore("sqlite:////path/memory.sqlite")      # or postgresql+psycopg://user@host/db
    sql.insert_document(bank, document_row, chunk_rows)   # one transaction, bumps the bank's revision
    sql.keyword_search("why is the sky blue", banks=["docs"], limit=20)  -> [(chunk_id, score), ...]
    sql.vector_search(query_vector, banks=["docs"], limit=20)            -> [(chunk_id, cosine), ...]

Tables: `memory_banks`, `memory_documents`, `memory_chunks` (text, offsets, float32 embedding bytes).
Keyword search is SQLite FTS5 (an external-content table kept in sync by triggers, porter stemming,
bm25) or PostgreSQL full text (a generated `tsvector` column with a GIN index, `ts_rank`; on OR queries it ranks
better than `ts_rank_cd`: recall@5 1.0 against 0.7 on the benchmark's data). Words of scripts written without
spaces (Chinese, Japanese, Thai) are matched as substrings: an FTS5 `trigram` index beside the word index
on SQLite, a `LIKE` scan of two-character pieces where trigrams find too little and on PostgreSQL.
Vector search is exact cosine: over a numpy matrix cached per bank and rebuilt when the bank's revision
changes (any write bumps it, in the same transaction, so other processes' writes are seen too), or, on
PostgreSQL with the pgvector extension, the `<=>` operator on a `vector` column.

SQLite here cannot load extensions (no sqlite-vec), which is why the vectors live in BLOBs.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Computed,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    bindparam,
    create_engine,
    delete,
    event,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import StaticPool
from sqlalchemy.types import UserDefinedType

from .errors import MemoryBankError
from .search import keyword_terms, top_k_cosine

log = logging.getLogger(__name__)


class PgVector(UserDefinedType):
    """pgvector's `vector` type without the pgvector client package: bound and read as '[x,y,...]' text."""

    cache_ok = True

    def get_col_spec(self, **kw: Any) -> str:
        return "vector"

    def bind_processor(self, dialect):
        def process(value):
            if value is None:
                return None
            return "[" + ",".join(f"{float(x):.7g}" for x in np.asarray(value).ravel()) + "]"

        return process

    def result_processor(self, dialect, coltype):
        def process(value):
            if value is None or isinstance(value, np.ndarray):
                return value
            return np.array([float(x) for x in str(value).strip("[]").split(",")], dtype=np.float32)

        return process


@dataclass
class Tables:
    metadata: MetaData
    banks: Table
    documents: Table
    chunks: Table


def build_tables(dialect: str, *, pgvector: bool) -> Tables:
    metadata = MetaData()
    banks = Table(
        "memory_banks",
        metadata,
        Column("name", String(200), primary_key=True),
        Column("description", Text, nullable=False, default=""),
        Column("embedder", String(200), nullable=False),
        Column("dimension", Integer, nullable=False),
        Column("chunk_tokens", Integer, nullable=False),
        Column("overlap_tokens", Integer, nullable=False),
        Column("revision", BigInteger, nullable=False, default=0),
        Column("created_at", DateTime(timezone=True), nullable=False),
    )
    documents = Table(
        "memory_documents",
        metadata,
        Column("id", String(32), primary_key=True),
        Column("bank", String(200), ForeignKey("memory_banks.name", ondelete="CASCADE"), nullable=False),
        Column("title", Text, nullable=False),
        Column("source", Text, nullable=False),
        Column("content_type", String(100), nullable=False),
        Column("content_hash", String(64), nullable=False),
        Column("characters", Integer, nullable=False),
        Column("chunks", Integer, nullable=False),
        Column("metadata", JSON, nullable=False, default=dict),
        Column("created_at", DateTime(timezone=True), nullable=False),
        UniqueConstraint("bank", "content_hash", name="uq_memory_documents_bank_hash"),
        Index("ix_memory_documents_bank", "bank"),
    )
    chunk_columns: list[Any] = [
        Column("id", Integer().with_variant(BigInteger, "postgresql"), primary_key=True, autoincrement=True),
        Column("bank", String(200), ForeignKey("memory_banks.name", ondelete="CASCADE"), nullable=False),
        Column(
            "document_id", String(32), ForeignKey("memory_documents.id", ondelete="CASCADE"), nullable=False
        ),
        Column("chunk_index", Integer, nullable=False),
        Column("char_start", Integer, nullable=False),
        Column("char_end", Integer, nullable=False),
        Column("token_start", Integer, nullable=False),
        Column("token_end", Integer, nullable=False),
        Column("page", Integer, nullable=True),  # PDF pages where the chunk starts and ends
        Column("page_end", Integer, nullable=True),
        Column("text", Text, nullable=False),
        Column("embedding", LargeBinary, nullable=False),  # float32 little-endian, the source of truth
        Index("ix_memory_chunks_bank", "bank"),
        Index("ix_memory_chunks_document", "document_id"),
    ]
    if dialect == "sqlite":  # the FTS5 filter keys (see _FTS_DDL), computed by SQLite itself
        chunk_columns.append(Column("fts_bank", Text, Computed(_fts_key_sql("k", "bank"), persisted=False)))
        chunk_columns.append(
            Column("fts_document", Text, Computed(_fts_key_sql("d", "document_id"), persisted=False))
        )
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import TSVECTOR

        chunk_columns.append(
            Column("tsv", TSVECTOR, Computed("to_tsvector('english', text)", persisted=True), nullable=True)
        )
        chunk_columns.append(Index("ix_memory_chunks_tsv", "tsv", postgresql_using="gin"))
        if pgvector:
            chunk_columns.append(Column("embedding_vec", PgVector(), nullable=True))
    chunks = Table("memory_chunks", metadata, *chunk_columns, sqlite_autoincrement=True)
    return Tables(metadata, banks, documents, chunks)


# The FTS5 index also holds the chunk's bank and document as one token each ("filter keys"), so a bank or
# document filter is part of the MATCH and runs inside FTS5 instead of a join per matching row (2x faster
# at 10k chunks). A key is the hex of the name with A-F spelled b c d f g h: no vowels, so the porter
# stemmer leaves it whole and two names can never stem to the same key.
_HEX_TO_KEY = str.maketrans("ABCDEF", "bcdfgh")


# Scripts written without spaces between words: Thai, Lao, Myanmar, Khmer, kana, CJK ideographs, Hangul
# syllables (Korean puts particles on its words, so its words are substrings too).
_UNSPACED = re.compile(
    "[\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff"
    "\uac00-\ud7af\uf900-\ufaff\U00020000-\U0002fa1f]"
)
MAX_PIECES = 64


def _pieces(term: str, n: int) -> list[str]:
    """The overlapping n-character pieces of a term (the term itself when shorter)."""
    if len(term) <= n:
        return [term]
    return [term[i : i + n] for i in range(len(term) - n + 1)]


def fts_key(prefix: str, value: str) -> str:
    return prefix + value.encode("utf-8").hex().upper().translate(_HEX_TO_KEY)


def _fts_key_sql(prefix: str, column: str) -> str:
    expression = f"hex({column})"
    for hex_digit, letter in zip("ABCDEF", "bcdfgh", strict=True):
        expression = f"replace({expression}, '{hex_digit}', '{letter}')"
    return f"'{prefix}' || {expression}"


_FTS_COLUMNS = "text, fts_bank, fts_document"
_FTS_DDL = [
    f"CREATE VIRTUAL TABLE IF NOT EXISTS memory_chunks_fts USING fts5({_FTS_COLUMNS}, content='memory_chunks', "
    "content_rowid='id', tokenize='porter unicode61 remove_diacritics 2')",
    "CREATE TRIGGER IF NOT EXISTS memory_chunks_fts_insert AFTER INSERT ON memory_chunks BEGIN "
    f"INSERT INTO memory_chunks_fts(rowid, {_FTS_COLUMNS}) VALUES (new.id, new.text, new.fts_bank, new.fts_document); END",
    "CREATE TRIGGER IF NOT EXISTS memory_chunks_fts_delete AFTER DELETE ON memory_chunks BEGIN "
    f"INSERT INTO memory_chunks_fts(memory_chunks_fts, rowid, {_FTS_COLUMNS}) "
    "VALUES ('delete', old.id, old.text, old.fts_bank, old.fts_document); END",
    "CREATE TRIGGER IF NOT EXISTS memory_chunks_fts_update AFTER UPDATE ON memory_chunks BEGIN "
    f"INSERT INTO memory_chunks_fts(memory_chunks_fts, rowid, {_FTS_COLUMNS}) "
    "VALUES ('delete', old.id, old.text, old.fts_bank, old.fts_document); "
    f"INSERT INTO memory_chunks_fts(rowid, {_FTS_COLUMNS}) VALUES (new.id, new.text, new.fts_bank, new.fts_document); END",
]
# Beside the word index: a trigram index of the same text, for scripts written without spaces between
# words (Chinese, Japanese, Thai...), where the word tokenizer sees a whole sentence as one token.
_TRIGRAM_DDL = [
    "CREATE VIRTUAL TABLE IF NOT EXISTS memory_chunks_trigram USING fts5(text, content='memory_chunks', "
    "content_rowid='id', tokenize='trigram')",
    "CREATE TRIGGER IF NOT EXISTS memory_chunks_trigram_insert AFTER INSERT ON memory_chunks BEGIN "
    "INSERT INTO memory_chunks_trigram(rowid, text) VALUES (new.id, new.text); END",
    "CREATE TRIGGER IF NOT EXISTS memory_chunks_trigram_delete AFTER DELETE ON memory_chunks BEGIN "
    "INSERT INTO memory_chunks_trigram(memory_chunks_trigram, rowid, text) VALUES ('delete', old.id, old.text); END",
    "CREATE TRIGGER IF NOT EXISTS memory_chunks_trigram_update AFTER UPDATE ON memory_chunks BEGIN "
    "INSERT INTO memory_chunks_trigram(memory_chunks_trigram, rowid, text) VALUES ('delete', old.id, old.text); "
    "INSERT INTO memory_chunks_trigram(rowid, text) VALUES (new.id, new.text); END",
]


def database_url(location: str | Path | None) -> str:
    """A SQLAlchemy URL from a URL, a file path, or None (the default file under LLAMASYS_HOME)."""
    if location is None:
        import os

        home = Path(os.environ.get("LLAMASYS_HOME") or Path.home() / ".cache" / "llamasys")
        location = home / "memory.sqlite"
    if isinstance(location, str) and "://" in location:
        return location
    path = Path(location).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


@dataclass
class _VectorCache:
    revision: int
    ids: np.ndarray  # int64 chunk ids
    documents: np.ndarray  # document id per row (object array of str)
    matrix: np.ndarray  # (n, dimension) float32


class SqlStore:
    """Tables, transactions and the two search primitives; the bank-level API lives in bank.py."""

    def __init__(self, url: str, *, pgvector: bool | None = None, echo: bool = False) -> None:
        self.url = url
        self.engine = _make_engine(url, echo=echo)
        # One writer at a time in this process (SQLite allows one anyway); an in-memory SQLite database is a
        # single shared connection, so there reads take the lock too.
        self._lock = threading.RLock()
        self._serialize_reads = isinstance(self.engine.pool, StaticPool)
        self.dialect = self.engine.dialect.name
        if self.dialect not in ("sqlite", "postgresql"):
            raise MemoryBankError(
                f"unsupported database {self.dialect!r}: use a SQLite file or a PostgreSQL URL"
            )
        self.pgvector = False
        if self.dialect == "postgresql":
            self.pgvector = self._enable_pgvector(wanted=pgvector)
        self.tables = build_tables(self.dialect, pgvector=self.pgvector)
        self._create_schema()
        self._cache: dict[str, _VectorCache] = {}
        self._cache_lock = threading.Lock()

    # -- set-up ---------------------------------------------------------------------------------------

    def _enable_pgvector(self, *, wanted: bool | None) -> bool:
        if wanted is False:
            return False
        try:
            with self._writing() as conn:
                available = conn.execute(
                    text("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'")
                ).first()
                if available is None:
                    raise MemoryBankError("the pgvector extension is not installed on this PostgreSQL server")
                conn.execute(text("CREATE EXTENSION IF NOT EXISTS vector"))
            return True
        except (SQLAlchemyError, MemoryBankError) as exc:
            if wanted:
                raise MemoryBankError(
                    f"pgvector was asked for but cannot be enabled ({exc}); install it on the server "
                    "(https://github.com/pgvector/pgvector) or pass pgvector=None to fall back to exact "
                    "search in numpy"
                ) from exc
            log.info("pgvector not available (%s); vector search runs in numpy over cached vectors", exc)
            return False

    def _create_schema(self) -> None:
        with self._writing() as conn:
            self.tables.metadata.create_all(conn)
            if self.dialect == "sqlite":
                for statement in _FTS_DDL:
                    conn.exec_driver_sql(statement)
                had_trigrams = conn.exec_driver_sql(
                    "SELECT 1 FROM sqlite_master WHERE name = 'memory_chunks_trigram'"
                ).first()
                for statement in _TRIGRAM_DDL:
                    conn.exec_driver_sql(statement)
                if not had_trigrams:  # a database from before the trigram index: index what it holds
                    conn.exec_driver_sql(
                        "INSERT INTO memory_chunks_trigram(memory_chunks_trigram) VALUES ('rebuild')"
                    )
            else:
                # Keep what the searches read in the row (TOAST moves the text and the bytea copy out
                # instead): ts_rank and the exact vector scan then read no TOAST table (2x faster at 10k).
                conn.exec_driver_sql("ALTER TABLE memory_chunks ALTER COLUMN tsv SET STORAGE MAIN")
                if self.pgvector:
                    conn.exec_driver_sql(
                        "ALTER TABLE memory_chunks ADD COLUMN IF NOT EXISTS embedding_vec vector"
                    )
                    conn.exec_driver_sql(
                        "ALTER TABLE memory_chunks ALTER COLUMN embedding_vec SET STORAGE MAIN"
                    )
        if self.pgvector:
            self._backfill_pgvector()

    def _backfill_pgvector(self, batch: int = 1000) -> None:
        """Fill `embedding_vec` for chunks written while pgvector was off or not installed yet."""
        t = self.tables.chunks
        filled = 0
        while True:
            with self._writing() as conn:
                rows = conn.execute(
                    select(t.c.id, t.c.embedding).where(t.c.embedding_vec.is_(None)).limit(batch)
                ).all()
                if not rows:
                    break
                conn.execute(
                    update(t).where(t.c.id == bindparam("chunk_id")).values(embedding_vec=bindparam("vec")),
                    [{"chunk_id": r.id, "vec": np.frombuffer(r.embedding, dtype="<f4")} for r in rows],
                )
                filled += len(rows)
        if filled:
            log.info("pgvector: filled the vector column of %d chunks stored without it", filled)

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def _reading(self) -> Iterator[Connection]:
        if self._serialize_reads:
            with self._lock, self.engine.connect() as conn:
                yield conn
        else:
            with self.engine.connect() as conn:
                yield conn

    @contextmanager
    def _writing(self) -> Iterator[Connection]:
        with self._lock, self.engine.begin() as conn:
            yield conn

    # -- banks ----------------------------------------------------------------------------------------

    def bank_rows(self) -> list[dict[str, Any]]:
        t = self.tables
        docs = (
            select(t.documents.c.bank, func.count().label("n"), func.sum(t.documents.c.chunks).label("c"))
            .group_by(t.documents.c.bank)
            .subquery()
        )
        query = (
            select(
                t.banks,
                func.coalesce(docs.c.n, 0).label("documents"),
                func.coalesce(docs.c.c, 0).label("chunks"),
            )
            .select_from(t.banks.outerjoin(docs, docs.c.bank == t.banks.c.name))
            .order_by(t.banks.c.name)
        )
        with self._reading() as conn:
            return [dict(row._mapping) for row in conn.execute(query)]

    def bank_row(self, name: str) -> dict[str, Any] | None:
        with self._reading() as conn:
            row = conn.execute(select(self.tables.banks).where(self.tables.banks.c.name == name)).first()
        return dict(row._mapping) if row else None

    def insert_bank(self, row: dict[str, Any]) -> None:
        with self._writing() as conn:
            conn.execute(insert(self.tables.banks).values(**row, revision=0, created_at=datetime.now(UTC)))

    def delete_bank(self, name: str) -> None:
        t = self.tables
        with self._writing() as conn:  # children first: the FTS triggers must see every chunk go
            conn.execute(delete(t.chunks).where(t.chunks.c.bank == name))
            conn.execute(delete(t.documents).where(t.documents.c.bank == name))
            conn.execute(delete(t.banks).where(t.banks.c.name == name))
        with self._cache_lock:
            self._cache.pop(name, None)

    def _bump(self, conn: Connection, bank: str) -> None:
        conn.execute(
            update(self.tables.banks)
            .where(self.tables.banks.c.name == bank)
            .values(revision=self.tables.banks.c.revision + 1)
        )

    # -- documents ------------------------------------------------------------------------------------

    def document_rows(self, bank: str) -> list[dict[str, Any]]:
        t = self.tables.documents
        with self._reading() as conn:
            rows = conn.execute(select(t).where(t.c.bank == bank).order_by(t.c.created_at, t.c.id))
            return [dict(row._mapping) for row in rows]

    def document_row(self, bank: str, document_id: str) -> dict[str, Any] | None:
        t = self.tables.documents
        with self._reading() as conn:
            row = conn.execute(select(t).where(t.c.bank == bank, t.c.id == document_id)).first()
        return dict(row._mapping) if row else None

    def existing_hashes(self, bank: str, hashes: list[str]) -> dict[str, dict[str, Any]]:
        if not hashes:
            return {}
        t = self.tables.documents
        with self._reading() as conn:
            rows = conn.execute(
                select(t.c.content_hash, t.c.id, t.c.source).where(
                    t.c.bank == bank, t.c.content_hash.in_(hashes)
                )
            )
            return {row.content_hash: {"id": row.id, "source": row.source} for row in rows}

    def insert_documents(self, bank: str, items: list[tuple[dict[str, Any], list[dict[str, Any]]]]) -> None:
        """Documents with their chunks (each chunk row holds `embedding` as float32 numpy), one transaction."""
        t = self.tables
        doc_rows, chunk_rows = [], []
        for doc, chunks in items:
            doc_rows.append({**doc, "bank": bank})
            for chunk in chunks:
                vector = np.asarray(chunk["embedding"], dtype="<f4")
                row = {**chunk, "bank": bank, "document_id": doc["id"], "embedding": vector.tobytes()}
                if self.pgvector:
                    row["embedding_vec"] = vector
                chunk_rows.append(row)
        with self._writing() as conn:
            if doc_rows:
                conn.execute(insert(t.documents), doc_rows)
            if chunk_rows:
                conn.execute(insert(t.chunks), chunk_rows)
            self._bump(conn, bank)

    def delete_document(self, bank: str, document_id: str) -> bool:
        t = self.tables
        with self._writing() as conn:
            conn.execute(
                delete(t.chunks).where(t.chunks.c.bank == bank, t.chunks.c.document_id == document_id)
            )
            gone = conn.execute(
                delete(t.documents).where(t.documents.c.bank == bank, t.documents.c.id == document_id)
            ).rowcount
            self._bump(conn, bank)
        return bool(gone)

    # -- search ---------------------------------------------------------------------------------------

    def keyword_search(
        self, query: str, *, banks: list[str], limit: int, document_ids: list[str] | None = None
    ) -> list[tuple[int, float]]:
        """Chunk ids and scores (higher is better) of a full-text search; punctuation cannot break it.

        Words of scripts written without spaces (Chinese, Japanese, Thai...) are found as substrings:
        through the trigram index on SQLite, `LIKE` on PostgreSQL, scored by how many of the query's
        three-character pieces a chunk holds; those scores are added to the word search's."""
        all_terms = keyword_terms(query)
        if not all_terms or not banks:
            return []
        if document_ids is not None and not document_ids:
            return []
        unspaced = [t for t in all_terms if _UNSPACED.search(t)]
        terms = [t for t in all_terms if not _UNSPACED.search(t)]
        scores: dict[int, float] = {}
        if unspaced:
            for chunk_id, score in self._substring_search(unspaced, banks, limit, document_ids):
                scores[chunk_id] = scores.get(chunk_id, 0.0) + score
        if terms:
            for chunk_id, score in self._word_search(terms, banks, limit, document_ids):
                scores[chunk_id] = scores.get(chunk_id, 0.0) + score
        return sorted(scores.items(), key=lambda item: (-item[1], item[0]))[:limit]

    def _substring_search(
        self, terms: list[str], banks: list[str], limit: int, document_ids: list[str] | None
    ) -> list[tuple[int, float]]:
        """Chunks holding pieces of `terms`: SQLite's trigram index ranks those sharing three-character
        pieces (bm25); where that leaves fewer than `limit` (or on PostgreSQL), a scan adds those sharing
        two-character pieces (most Chinese words are two characters), scored by the share they hold."""
        doc_filter = " AND c.document_id IN :docs" if document_ids is not None else ""
        scores: dict[int, float] = {}
        trigrams = list(dict.fromkeys(g for t in terms if len(t) >= 3 for g in _pieces(t, 3)))[:MAX_PIECES]
        if self.dialect == "sqlite" and trigrams:
            # Each piece is quoted (letters and digits only), so the query is pure data.
            statement = text(
                "SELECT c.id AS id, -bm25(memory_chunks_trigram) AS score FROM memory_chunks_trigram "
                "JOIN memory_chunks c ON c.id = memory_chunks_trigram.rowid "
                f"WHERE memory_chunks_trigram MATCH :q AND c.bank IN :banks{doc_filter} "
                "ORDER BY bm25(memory_chunks_trigram) LIMIT :limit"
            )
            query = " OR ".join(f'"{g}"' for g in trigrams)
            scores |= dict(
                self._scored(statement, {"q": query, "banks": banks, "limit": limit}, document_ids)
            )
        if len(scores) < limit:
            bigrams = list(dict.fromkeys(g for t in terms for g in _pieces(t, 2)))[:MAX_PIECES]
            hits = " + ".join(
                f"(CASE WHEN lower(c.text) LIKE :g{i} THEN 1 ELSE 0 END)" for i in range(len(bigrams))
            )
            statement = text(
                f"SELECT id, score FROM (SELECT c.id AS id, {hits} AS score FROM memory_chunks c "
                f"WHERE c.bank IN :banks{doc_filter}) scored WHERE score > 0 ORDER BY score DESC, id LIMIT :limit"
            )
            params = {"banks": banks, "limit": limit} | {f"g{i}": f"%{g}%" for i, g in enumerate(bigrams)}
            for chunk_id, score in self._scored(statement, params, document_ids):
                scores[chunk_id] = scores.get(chunk_id, 0.0) + score / len(bigrams)
        return list(scores.items())

    def _scored(
        self, statement: Any, params: dict[str, Any], document_ids: list[str] | None
    ) -> list[tuple[int, float]]:
        statement = statement.bindparams(bindparam("banks", expanding=True))
        if document_ids is not None:
            statement = statement.bindparams(bindparam("docs", expanding=True))
            params = {**params, "docs": document_ids}
        with self._reading() as conn:
            return [(int(row.id), float(row.score)) for row in conn.execute(statement, params)]

    def _word_search(
        self, terms: list[str], banks: list[str], limit: int, document_ids: list[str] | None
    ) -> list[tuple[int, float]]:
        if self.dialect == "sqlite":
            # Every term is quoted (letters and digits only, see keyword_terms), so the query is pure data.
            match = "text : (" + " OR ".join(f'"{term}"' for term in terms) + ")"
            match += " AND fts_bank : (" + " OR ".join(f'"{fts_key("k", b)}"' for b in banks) + ")"
            if document_ids is not None:
                match += (
                    " AND fts_document : (" + " OR ".join(f'"{fts_key("d", d)}"' for d in document_ids) + ")"
                )
            # bm25 weights: the text column only; the filter keys must not count.
            statement = text(
                "SELECT rowid AS id, -bm25(memory_chunks_fts, 1.0, 0.0, 0.0) AS score FROM memory_chunks_fts "
                "WHERE memory_chunks_fts MATCH :q ORDER BY bm25(memory_chunks_fts, 1.0, 0.0, 0.0) LIMIT :limit"
            )
            params: dict[str, Any] = {"q": match, "limit": limit}
        else:
            doc_filter = " AND c.document_id IN :docs" if document_ids is not None else ""
            statement = text(
                "SELECT c.id AS id, ts_rank(c.tsv, q) AS score "
                "FROM memory_chunks c, to_tsquery('english', :q) q "
                f"WHERE c.tsv @@ q AND c.bank IN :banks{doc_filter} ORDER BY score DESC, c.id LIMIT :limit"
            ).bindparams(bindparam("banks", expanding=True))
            params = {"q": " | ".join(terms), "banks": banks, "limit": limit}
            if document_ids is not None:
                statement = statement.bindparams(bindparam("docs", expanding=True))
                params["docs"] = document_ids
        with self._reading() as conn:
            return [(int(row.id), float(row.score)) for row in conn.execute(statement, params)]

    def vector_search(
        self, vector: np.ndarray, *, banks: list[str], limit: int, document_ids: list[str] | None = None
    ) -> list[tuple[int, float]]:
        """Chunk ids and cosine similarities of the nearest chunks (exact search)."""
        if not banks or (document_ids is not None and not document_ids):
            return []
        vector = np.asarray(vector, dtype=np.float32).ravel()
        if self.pgvector:
            return self._pgvector_search(vector, banks=banks, limit=limit, document_ids=document_ids)
        caches = [self._vectors(bank) for bank in banks]
        caches = [c for c in caches if len(c.ids)]
        if not caches:
            return []
        for cache in caches:
            if cache.matrix.shape[1] != vector.shape[0]:
                raise MemoryBankError(
                    f"query vector has {vector.shape[0]} dimensions but the bank's vectors have "
                    f"{cache.matrix.shape[1]}: search with the embedder that filled the bank"
                )
        if len(caches) == 1:
            ids, docs, matrix = caches[0].ids, caches[0].documents, caches[0].matrix
        else:
            ids = np.concatenate([c.ids for c in caches])
            docs = np.concatenate([c.documents for c in caches])
            matrix = np.concatenate([c.matrix for c in caches])
        mask = np.isin(docs, np.asarray(document_ids, dtype=object)) if document_ids is not None else None
        return [(int(ids[i]), score) for i, score in top_k_cosine(matrix, vector, limit, mask=mask)]

    def _pgvector_search(
        self, vector: np.ndarray, *, banks: list[str], limit: int, document_ids: list[str] | None
    ) -> list[tuple[int, float]]:
        doc_filter = " AND c.document_id IN :docs" if document_ids is not None else ""
        # The distance is computed once per row (named in ORDER BY), not again for the select list.
        statement = text(
            "SELECT c.id AS id, c.embedding_vec <=> CAST(:q AS vector) AS distance FROM memory_chunks c "
            f"WHERE c.bank IN :banks{doc_filter} AND c.embedding_vec IS NOT NULL "
            "ORDER BY distance LIMIT :limit"
        ).bindparams(bindparam("banks", expanding=True))
        params: dict[str, Any] = {
            "q": PgVector().bind_processor(None)(vector),
            "banks": banks,
            "limit": limit,
        }
        if document_ids is not None:
            statement = statement.bindparams(bindparam("docs", expanding=True))
            params["docs"] = document_ids
        with self._reading() as conn:
            return [(int(row.id), 1.0 - float(row.distance)) for row in conn.execute(statement, params)]

    def _revision(self, conn: Connection, bank: str) -> int:
        t = self.tables.banks
        value = conn.execute(select(t.c.revision).where(t.c.name == bank)).scalar()
        return -1 if value is None else int(value)

    def _vectors(self, bank: str) -> _VectorCache:
        with self._cache_lock, self._reading() as conn:
            revision = self._revision(conn, bank)
            cached = self._cache.get(bank)
            if cached is not None and cached.revision == revision:
                return cached
            # The revision is read before the rows: a write landing in between makes the cache look
            # stale (reloaded next time), never newer than it is.
            t = self.tables.chunks
            rows = conn.execute(
                select(t.c.id, t.c.document_id, t.c.embedding).where(t.c.bank == bank).order_by(t.c.id)
            ).all()
            if rows:
                ids = np.fromiter((r.id for r in rows), dtype=np.int64, count=len(rows))
                documents = np.array([r.document_id for r in rows], dtype=object)
                matrix = np.frombuffer(b"".join(r.embedding for r in rows), dtype="<f4").reshape(
                    len(rows), -1
                )
            else:
                ids, documents, matrix = (
                    np.zeros(0, np.int64),
                    np.zeros(0, object),
                    np.zeros((0, 0), np.float32),
                )
            cached = _VectorCache(revision, ids, documents, np.ascontiguousarray(matrix, dtype=np.float32))
            self._cache[bank] = cached
            log.debug("cached %d vectors of bank %r at revision %d", len(ids), bank, revision)
            return cached

    def chunk_rows(self, chunk_ids: list[int]) -> dict[int, dict[str, Any]]:
        """Chunks with their document's title, source, metadata and chunk count, by id."""
        if not chunk_ids:
            return {}
        c, d = self.tables.chunks, self.tables.documents
        query = (
            select(
                c.c.id,
                c.c.bank,
                c.c.document_id,
                c.c.chunk_index,
                c.c.char_start,
                c.c.char_end,
                c.c.token_start,
                c.c.token_end,
                c.c.page,
                c.c.page_end,
                c.c.text,
                d.c.title,
                d.c.source,
                d.c.metadata,
                d.c.chunks.label("chunk_count"),
            )  # fmt: skip
            .select_from(c.join(d, d.c.id == c.c.document_id))
            .where(c.c.id.in_(chunk_ids))
        )
        with self._reading() as conn:
            return {int(row.id): dict(row._mapping) for row in conn.execute(query)}


def _make_engine(url: str, *, echo: bool) -> Engine:
    if url.startswith("sqlite"):
        memory = url in ("sqlite://", "sqlite:///:memory:") or ":memory:" in url
        kwargs: dict[str, Any] = {"connect_args": {"check_same_thread": False, "timeout": 30}}
        if memory:
            kwargs["poolclass"] = StaticPool
        engine = create_engine(url, echo=echo, **kwargs)

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection, _record):
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            if not memory:
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    try:
        return create_engine(url, echo=echo, pool_pre_ping=True)
    except ModuleNotFoundError as exc:
        raise MemoryBankError(
            f"no database driver for {re.sub(r'//[^@/]*@', '//***@', url)} ({exc.name} is missing); for PostgreSQL "
            "install psycopg (pip install 'psycopg[binary]') and use a postgresql+psycopg:// URL"
        ) from exc
