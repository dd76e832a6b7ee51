"""Banks, documents and storage, with the deterministic hashing embedder (these tests are about the
database, not about the quality of the vectors)."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from memory.pdf_writer import write_pdf

from llamasys.tools.memory import (
    BankExistsError,
    ChunkingConfig,
    DocumentReadError,
    EmbedderMismatchError,
    HashingEmbedder,
    MemoryBankError,
    MemoryStore,
    UnknownBankError,
    UnknownDocumentError,
)

OTTERS = "Sea otters hold hands while they sleep so that they do not drift apart. " * 3
KELP = "Giant kelp forests grow up to half a metre a day along the Pacific coast. " * 3


def test_create_list_delete_banks(hashing_store: MemoryStore) -> None:
    hashing_store.create_bank("b", description="second")
    hashing_store.create_bank("a", chunking=ChunkingConfig(chunk_tokens=64, overlap_tokens=8))
    infos = hashing_store.list_banks()
    assert [i.name for i in infos] == ["a", "b"]
    assert infos[0].chunk_tokens == 64 and infos[1].description == "second"
    assert infos[0].embedder == "hashing-384" and infos[0].dimension == 384
    with pytest.raises(BankExistsError, match="already exists"):
        hashing_store.create_bank("a")
    assert hashing_store.create_bank("a", exist_ok=True).name == "a"
    hashing_store.bank("b").add_text(OTTERS, title="otters")
    hashing_store.delete_bank("b")
    assert [i.name for i in hashing_store.list_banks()] == ["a"]
    with pytest.raises(
        UnknownBankError, match=r"memory bank 'b' does not exist \(banks in this store: 'a'\)"
    ):
        hashing_store.bank("b")


def test_unknown_bank_is_a_clear_error_everywhere(hashing_store: MemoryStore) -> None:
    with pytest.raises(UnknownBankError, match=r"none yet.*create_bank\('nope'\)"):
        hashing_store.bank("nope")
    with pytest.raises(UnknownBankError):
        hashing_store.search("otters", banks=["nope"])
    with pytest.raises(UnknownBankError):
        hashing_store.delete_bank("nope")
    bank = hashing_store.create_bank("gone")
    hashing_store.delete_bank("gone")
    with pytest.raises(UnknownBankError):
        bank.add_text("text", title="t")


def test_folder_ingestion_reports_each_bad_file_and_goes_on(
    hashing_store: MemoryStore, tmp_path: Path
) -> None:
    folder = tmp_path / "docs"
    (folder / "sub" / "deeper").mkdir(parents=True)
    (folder / ".hidden").mkdir()
    (folder / "otters.md").write_text("# Otters\n\n" + OTTERS, encoding="utf-8")
    (folder / "sub" / "kelp.txt").write_text(KELP, encoding="utf-8")
    (folder / "sub" / "deeper" / "kelp-copy.txt").write_text(KELP.replace(". ", ".\n"), encoding="utf-8")
    (folder / "sub" / "empty.txt").write_bytes(b"")
    (folder / "sub" / "table.xlsx").write_bytes(b"PK\x03\x04")
    (folder / ".hidden" / "secret.md").write_text("should be skipped", encoding="utf-8")
    write_pdf(folder / "scan.pdf", [[]])
    write_pdf(folder / "report.pdf", [["The kelp report, page one."], ["Otter census results on page two."]])

    bank = hashing_store.create_bank("docs")
    report = bank.add_folder(folder, include=["*.md", "*.txt", "*.pdf", "*.xlsx"])
    # files go in path order, so sub/deeper/kelp-copy.txt comes first and sub/kelp.txt is its duplicate
    added = sorted(Path(d.source).name for d in report.added)
    assert added == ["kelp-copy.txt", "otters.md", "report.pdf"]
    (dup,) = report.duplicates
    assert Path(dup.source).name == "kelp.txt" and Path(dup.existing_source).name == "kelp-copy.txt"
    failures = {Path(f.source).name: f.error for f in report.failed}
    assert set(failures) == {"empty.txt", "table.xlsx", "scan.pdf"}
    assert "empty" in failures["empty.txt"]
    assert "unsupported file type '.xlsx'" in failures["table.xlsx"]
    assert "OCR" in failures["scan.pdf"]
    assert not report.ok and "3 failed" in report.summary() and "1 duplicate(s) skipped" in report.summary()
    assert report.chunks_added == sum(d.chunks for d in report.added) > 0

    # include patterns filter, non-recursive stops at the top level
    only_md = hashing_store.create_bank("md-only").add_folder(folder, include=["*.md"])
    assert [Path(d.source).name for d in only_md.added] == ["otters.md"] and not only_md.failed
    top = hashing_store.create_bank("top").add_folder(folder, include=["*.md", "*.txt"], recursive=False)
    assert [Path(d.source).name for d in top.added] == ["otters.md"]
    excluded = hashing_store.create_bank("excl").add_folder(
        folder, include=["*.txt"], exclude=["sub/deeper/*"]
    )
    assert [Path(d.source).name for d in excluded.added] == ["kelp.txt"] and not excluded.duplicates
    with pytest.raises(DocumentReadError, match="not a folder"):
        bank.add_folder(folder / "otters.md")


def test_duplicates_against_the_bank_are_skipped_with_a_report(hashing_store: MemoryStore) -> None:
    bank = hashing_store.create_bank("dups")
    first = bank.add_text(OTTERS, title="otters", source="a.txt")
    again = bank.add_text(
        "  " + OTTERS.replace(" ", "\n", 3), title="same words, other wrapping", source="b.txt"
    )
    assert len(first.added) == 1 and not again.added
    (dup,) = again.duplicates
    assert dup.existing_id == first.added[0].id and dup.existing_source == "a.txt" and dup.source == "b.txt"
    assert len(bank.documents()) == 1
    # the same text in another bank is not a duplicate
    assert hashing_store.create_bank("other").add_text(OTTERS, title="otters").added


def test_chunks_keep_document_source_position_and_metadata(
    hashing_store: MemoryStore, tmp_path: Path
) -> None:
    bank = hashing_store.create_bank("pos", chunking=ChunkingConfig(chunk_tokens=40, overlap_tokens=8))
    long_text = " ".join(f"Paragraph {i} mentions a walrus called Number{i}." for i in range(60))
    report = bank.add_text(long_text, title="Walruses", source="walrus.txt", metadata={"team": "marine"})
    doc = report.added[0]
    assert doc.chunks > 5 and doc.characters == len(long_text) and doc.metadata == {"team": "marine"}
    (hit,) = bank.search("Number37", k=1, mode="keyword")
    assert hit.document_id == doc.id and hit.title == "Walruses" and hit.source == "walrus.txt"
    assert hit.metadata == {"team": "marine"} and hit.chunk_count == doc.chunks
    assert long_text[hit.char_start : hit.char_end] == hit.text and "Number37" in hit.text
    assert 0 < hit.chunk_index < doc.chunks - 1 and hit.token_end - hit.token_start <= 40
    assert hit.position.startswith(
        f"chunk {hit.chunk_index + 1} of {doc.chunks}, characters {hit.char_start}-"
    )
    assert hit.page is None

    pages = [[f"Page {p} line {i} about kelp surveys." for i in range(6)] for p in range(1, 4)]
    pages[2].append("Otter census: 412 otters counted.")
    bank.add_file(write_pdf(tmp_path / "census.pdf", pages))
    (hit,) = bank.search("census 412", k=1, mode="keyword")
    assert (hit.page, hit.page_end) == (3, 3) and hit.position.startswith("page 3, chunk")
    spanning = [h for h in bank.search("kelp surveys", k=10, mode="keyword") if h.page != h.page_end]
    assert spanning and spanning[0].position.startswith(
        f"pages {spanning[0].page}-{spanning[0].page_end}, chunk"
    )


def test_delete_document_removes_it_from_every_search(hashing_store: MemoryStore) -> None:
    bank = hashing_store.create_bank("del")
    otters = bank.add_text(OTTERS, title="otters").added[0]
    kelp = bank.add_text(KELP, title="kelp").added[0]
    assert {h.document_id for h in bank.search("otters sleep", mode="vector")} == {otters.id, kelp.id}
    bank.delete_document(otters.id)
    for mode in ("vector", "keyword", "hybrid"):
        assert {h.document_id for h in bank.search("otters sleep hold hands", mode=mode)} <= {kelp.id}
    assert bank.search("otters", mode="keyword") == []
    assert [d.id for d in bank.documents()] == [kelp.id]
    with pytest.raises(UnknownDocumentError, match="has no document"):
        bank.delete_document(otters.id)
    with pytest.raises(UnknownDocumentError):
        bank.document(otters.id)
    # the FTS index holds exactly the remaining chunks (the external-content table stays in sync)
    with sqlite3.connect(hashing_store.url.removeprefix("sqlite:///")) as conn:
        conn.execute("INSERT INTO memory_chunks_fts(memory_chunks_fts) VALUES ('integrity-check')")
    # re-adding the deleted text works: it is no longer a duplicate
    assert bank.add_text(OTTERS, title="otters again").added


def test_filters_by_bank_and_document(hashing_store: MemoryStore) -> None:
    a, b = hashing_store.create_bank("a"), hashing_store.create_bank("b")
    otters_a = a.add_text(OTTERS, title="otters a").added[0]
    kelp_a = a.add_text(KELP, title="kelp a").added[0]
    otters_b = b.add_text(OTTERS + " In bank b.", title="otters b").added[0]
    for mode in ("vector", "keyword", "hybrid"):
        assert {h.bank for h in a.search("otters", mode=mode)} == {"a"}
        both = hashing_store.search("otters hold hands", banks=["a", "b"], k=10, mode=mode)
        assert {h.document_id for h in both} >= {otters_a.id, otters_b.id}
        only = a.search("otters hold hands", mode=mode, document_ids=[kelp_a.id])
        assert {h.document_id for h in only} <= {kelp_a.id}
        assert a.search("otters", mode=mode, document_ids=[]) == []


def test_bank_filter_is_exact_for_any_bank_name(hashing_store: MemoryStore) -> None:
    # names whose UTF-8 bytes end in 0xED or read like English suffixes once hex-encoded: the FTS filter
    # keys must stay distinct (no stemming), and long or odd names must work as filters
    names = ["notes", "notes\ud000", 'Ünïcode bänk / ümlauts: "quoted" OR NEAR(x)', "x" * 200, "sed", "s"]
    for i, name in enumerate(names):
        hashing_store.create_bank(name).add_text(f"Shared walrus text, copy number {i}.", title=f"doc {i}")
    for i, name in enumerate(names):
        hits = hashing_store.search("walrus copy", banks=[name], mode="keyword", k=10)
        assert [h.title for h in hits] == [f"doc {i}"], name
    both = hashing_store.search("walrus", banks=names[:2], mode="keyword", k=10)
    assert sorted(h.title for h in both) == ["doc 0", "doc 1"]


def test_keyword_queries_with_fts_syntax_cannot_break_search(hashing_store: MemoryStore) -> None:
    bank = hashing_store.create_bank("fts")
    bank.add_text('He said "hello" -- then NEAR(the door) AND ran: text* OR {col}: ^start', title="syntax")
    nasty = [
        '"unbalanced',
        "NEAR(",
        "a AND OR NOT",
        "col:value",
        "*",
        "-",
        "(",
        "'; DROP TABLE memory_chunks; --",
        "^start",
        "{x}",
    ]
    for query in nasty:
        for mode in ("keyword", "hybrid"):
            bank.search(query, mode=mode)  # must not raise
    assert bank.search("...!!!", mode="keyword") == []
    assert bank.search('"hello" NEAR(door)', mode="keyword")[0].title == "syntax"
    assert bank.search("the", mode="keyword")  # only stopwords: they are searched rather than dropped


def test_reopening_finds_everything_and_sees_other_writers(tmp_path: Path) -> None:
    path = tmp_path / "memory.sqlite"
    with MemoryStore(path, embedder=HashingEmbedder()) as store:
        bank = store.create_bank("persist")
        bank.add_text(OTTERS, title="otters")
        bank.add_text(KELP, title="kelp")
        before = [(h.chunk_id, round(h.score, 6)) for h in bank.search("kelp forests", mode="hybrid")]
    with (
        MemoryStore(path, embedder=HashingEmbedder()) as reader,
        MemoryStore(path, embedder=HashingEmbedder()) as writer,
    ):
        assert [
            (h.chunk_id, round(h.score, 6)) for h in reader.bank("persist").search("kelp forests")
        ] == before
        assert [i.documents for i in reader.list_banks()] == [2]
        # the reader has cached the vectors; a write through another store must invalidate that cache
        writer.bank("persist").add_text("Kelp forests shelter otters and urchins alike.", title="shelter")
        titles = [h.title for h in reader.bank("persist").search("shelter urchins", mode="vector", k=1)]
        assert titles == ["shelter"]


def test_embedder_mismatch_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "memory.sqlite"
    with MemoryStore(path, embedder=HashingEmbedder()) as store:
        store.create_bank("h").add_text(OTTERS, title="otters")
    with MemoryStore(path, embedder=HashingEmbedder(dimension=64)) as other:
        with pytest.raises(EmbedderMismatchError, match="hashing-384 .384 dims.*hashing-64"):
            other.bank("h").search("otters", mode="vector")
        with pytest.raises(EmbedderMismatchError):
            other.bank("h").add_text(KELP, title="kelp")
        assert other.bank("h").search("otters", mode="keyword")  # keyword search needs no vectors


def test_embedder_returning_a_wrong_shape_is_reported(tmp_path: Path) -> None:
    class Broken(HashingEmbedder):
        def embed(self, texts):
            return np.zeros((len(texts), 3), dtype=np.float32)

    with (
        MemoryStore(tmp_path / "m.sqlite", embedder=Broken()) as store,
        pytest.raises(MemoryBankError, match="returned shape"),
    ):
        store.create_bank("x").add_text(OTTERS, title="otters")


def test_search_arguments_are_checked(hashing_store: MemoryStore) -> None:
    bank = hashing_store.create_bank("args")
    bank.add_text(OTTERS, title="otters")
    with pytest.raises(MemoryBankError, match="unknown search mode"):
        bank.search("otters", mode="semantic")  # type: ignore[arg-type]
    with pytest.raises(MemoryBankError, match="at least one bank"):
        hashing_store.search("otters", banks=[])
    assert bank.search("   ") == [] and bank.search("otters", k=0) == []
    with pytest.raises(MemoryBankError, match="1 to 200 characters"):
        hashing_store.create_bank("  ")


def test_in_memory_database_and_async_api() -> None:
    async def scenario() -> None:
        with MemoryStore("sqlite://", embedder=HashingEmbedder()) as store:
            bank = store.create_bank("mem")
            reports = await asyncio.gather(
                bank.aadd_text(OTTERS, title="otters"),
                bank.aadd_payload(
                    "<p>" + KELP + "</p>", source="https://example.org/kelp", content_type="text/html"
                ),
            )
            assert all(len(r.added) == 1 for r in reports)
            hits = await bank.asearch("kelp forests grow", k=1)
            assert hits[0].source == "https://example.org/kelp"
            assert (await store.asearch("otters", banks=["mem"], k=1))[0].title == "otters"

    asyncio.run(scenario())


def test_default_location_is_under_llamasys_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLAMASYS_HOME", str(tmp_path / "home"))
    with MemoryStore(embedder=HashingEmbedder()) as store:
        store.create_bank("default")
        assert store.url == f"sqlite:///{tmp_path / 'home' / 'memory.sqlite'}"
    assert (tmp_path / "home" / "memory.sqlite").is_file()
