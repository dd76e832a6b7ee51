"""The same memory banks on PostgreSQL (tsvector full text; pgvector when the server has it).

These run only where LLAMASYS_TEST_POSTGRES_URL names a database to use, e.g.
`postgresql+psycopg://postgres@127.0.0.1:5432/postgres`; each run works in a database of its own (or, where
the role cannot create databases, a schema of its own) and drops it.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import numpy as np
import pytest
from memory.corpus import DOCS, QUESTIONS
from support import postgres_url, require_in_ci

from llamasys.tools.memory import HashingEmbedder, MemoryStore, MiniLMEmbedder, UnknownBankError
from llamasys.tools.memory.store import PgVector


def test_pgvector_type_round_trips_text_form() -> None:
    vector = np.array([0.5, -1.25, 3.0e-8], dtype=np.float32)
    bound = PgVector().bind_processor(None)(vector)
    assert bound == "[0.5,-1.25,3e-08]"
    parsed = PgVector().result_processor(None, None)(bound)
    assert parsed.dtype == np.float32 and np.allclose(parsed, vector)


@pytest.fixture(scope="module")
def pg_url():
    """A database of its own for this module (dropped after), or a schema of its own where the role
    may not create databases (then tables of the same names in `public` would shadow it: say so)."""
    from sqlalchemy import create_engine, make_url, text

    url = postgres_url()  # skips on a laptop without LLAMASYS_TEST_POSTGRES_URL, fails in CI
    name = f"llamasys_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f"CREATE DATABASE {name}"))
    except Exception:
        with admin.connect() as conn:
            conn.execute(text(f"CREATE SCHEMA {name}"))
            visible = conn.execute(
                text(
                    "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename LIKE 'memory_%'"
                )
            ).scalar()
        if visible:
            pytest.fail("public has memory_* tables that would shadow the test schema: use an empty database")
        separator = "&" if "?" in url else "?"
        yield f"{url}{separator}options=-csearch_path%3D{name},public"
        with admin.connect() as conn:
            conn.execute(text(f"DROP SCHEMA {name} CASCADE"))
    else:
        yield make_url(url).set(database=name).render_as_string(hide_password=False)
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE {name} WITH (FORCE)"))
    admin.dispose()


@pytest.fixture
def pg_store(pg_url: str):
    with MemoryStore(pg_url, embedder=HashingEmbedder()) as store:
        yield store
        for info in store.list_banks():
            store.delete_bank(info.name)


def test_banks_documents_and_search_on_postgres(pg_store: MemoryStore, pg_url: str) -> None:
    assert pg_store.sql.dialect == "postgresql"
    bank = pg_store.create_bank("pg", description="on postgres")
    otters = bank.add_text(
        "Sea otters hold hands while they sleep. " * 3, title="otters", metadata={"k": 1}
    ).added[0]
    kelp = bank.add_text("Giant kelp forests grow fast along the coast. " * 3, title="kelp").added[0]
    assert bank.add_text("Sea otters hold hands while they sleep. " * 3, title="again").duplicates
    other = pg_store.create_bank("other")
    other.add_text("Otters in another bank entirely.", title="elsewhere")
    for mode in ("vector", "keyword", "hybrid"):
        hits = bank.search("otters sleeping", mode=mode, k=5)
        assert hits[0].document_id == otters.id and hits[0].metadata == {"k": 1}, mode
        assert {h.bank for h in hits} == {"pg"}
        assert {h.document_id for h in bank.search("otters", mode=mode, document_ids=[kelp.id])} <= {kelp.id}
    leave = bank.add_text("新员工每年有二十天带薪休假。", title="leave").added[0]  # no spaces between words
    for query in ("带薪休假", "休假", "新员工有几天带薪休假？"):
        assert bank.search(query, mode="keyword")[0].document_id == leave.id, query
    for nasty in ['"unbalanced', "a & b | !c", "x:*", "(", "'; DROP TABLE memory_chunks; --", "<->"]:
        bank.search(nasty, mode="keyword")
        bank.search(nasty, mode="hybrid")
    bank.delete_document(otters.id)
    assert bank.search("otters", mode="keyword") == []
    with MemoryStore(pg_url, embedder=HashingEmbedder()) as reopened:
        assert [i.name for i in reopened.list_banks()] == ["other", "pg"]
        assert [h.title for h in reopened.bank("pg").search("kelp forests", k=1)] == ["kelp"]
        # a write through the first store is seen by the second (its vector cache is invalidated)
        bank.add_text("Sea urchins graze on kelp holdfasts.", title="urchins")
        assert (
            reopened.bank("pg").search("sea urchins graze holdfasts", mode="vector", k=1)[0].title
            == "urchins"
        )
    with pytest.raises(UnknownBankError):
        pg_store.bank("missing")
    if not pg_store.sql.pgvector:  # CI's server (.ci/postgres.py) has it: vector search runs in SQL there
        require_in_ci("this PostgreSQL server has no pgvector extension: vector search ran in numpy")


@pytest.mark.slow
def test_recall_on_postgres(
    pg_url: str, corpus_dir: Path, corpus_sources: dict[str, str], minilm: MiniLMEmbedder
) -> None:
    with MemoryStore(pg_url, embedder=minilm) as store:
        store.create_bank("corpus").add_folder(corpus_dir, progress=False)
        recalls = {}
        for mode in ("hybrid", "keyword", "vector"):
            found = 0
            for question in QUESTIONS:
                hits = store.search(question.question, banks=["corpus"], k=5, mode=mode)
                answer = " ".join(question.answer.split())
                found += any(
                    corpus_sources.get(h.source) == question.doc and answer in " ".join(h.text.split())
                    for h in hits
                )
            recalls[mode] = found / len(QUESTIONS)
        vector_backend = "pgvector" if store.sql.pgvector else "numpy over cached vectors"
        store.delete_bank("corpus")
    print(f"\nPostgreSQL recall@5 on {len(DOCS)} documents ({vector_backend}): {recalls}")
    assert recalls["hybrid"] >= 0.9 and recalls["vector"] >= 0.8 and recalls["keyword"] >= 0.6


def test_chunks_written_without_pgvector_are_found_with_it(pg_url: str) -> None:
    with MemoryStore(pg_url, embedder=HashingEmbedder(), pgvector=False) as plain:
        assert not plain.sql.pgvector
        plain.create_bank("late").add_text("Narwhal tusks are long spiral teeth.", title="narwhal")
        assert plain.bank("late").search("narwhal tusks", mode="vector")[0].title == "narwhal"
    with MemoryStore(pg_url, embedder=HashingEmbedder()) as auto:
        hits = auto.bank("late").search("narwhal tusks", mode="vector")
        assert [h.title for h in hits] == ["narwhal"] and hits[0].score > 0.5
        auto.delete_bank("late")
