"""`llamasys bench rag`: ingestion throughput and query latency of memory banks, against baselines.

    llamasys bench rag --json                    # 10,000 chunks with all-MiniLM-L6-v2 into a temporary SQLite file
    llamasys bench rag --chunks 2000 --embedder hashing --json   # storage and search only, no model

It generates `--chunks` documents of about `--words` words (each fits one chunk of the bank's default
200 tokens), ingests them through the public API (`MemoryBank.add_texts`), and reports chunks/s overall
and per stage (embedding, storing). Then `--queries` questions, each a few words of a random document,
are searched by vector, keyword and hybrid; latencies p50/p95 are reported with the query embedding
measured separately, next to two baselines measured in the same run over the same data:

- vector: brute force without the cache (read every vector from the database, numpy dot product, top-k);
- keyword: a naive scan (`LIKE '%term%'` on every term, ranked by how many terms match).

`ratios` are baseline p50 / ours p50 (above 1 means faster than the baseline). `recall@5` is the share of
queries whose source document is among the five hits, a check that the fast paths find the right thing.
"""

from __future__ import annotations

import json
import os
import random
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import typer
from sqlalchemy import text

from llamasys.apps.bench.timing import percentiles
from llamasys.tools.memory import HashingEmbedder, MemoryStore, MiniLMEmbedder
from llamasys.tools.memory.search import keyword_terms, top_k_cosine

_WORD_TEXT = """
account address agreement airport animal answer apple april area army arrival article artist audience august
autumn baby balance bank basket battery beach bicycle bird birthday blanket boat body bottle bread bridge
budget building cabin camera candle capital captain carbon card carpet castle cattle ceiling century chair
channel cheese chemistry chicken church circle city climate clock cloud coast coffee college colour comfort
company computer concert copper corner cotton council country course cousin crystal culture customer danger
december desert design desk diamond dinner doctor dollar dragon drawer dream driver eagle earth economy
editor effort engine evening exam factory family farmer feather festival field finger fire fish flower
forest fortune fountain freedom friday fruit furniture galaxy garden gate glass glove gold government grain
grammar guitar hammer harbour harvest health heart helmet highway history holiday honey horse hospital
hotel island jacket january jewel journey judge jungle kettle kingdom kitchen ladder lake language lantern
lawyer leather lemon letter library light lion liquid machine magnet manager market marble meadow medicine
memory message metal meteor minister mirror monday monkey morning mountain museum music nation needle
network night novel ocean office orange orchard oxygen painter palace paper parent parrot passenger pencil
pepper person piano picture pilot planet plastic pocket poem police potato powder prison profit program
question rabbit radio railway rainbow record region river rocket salary salt school science season secret
shadow signal silver sister soldier spring square station steam stone storm student sugar summer sunday
surface system table teacher temple theatre thunder ticket tiger timber tomato tower traffic train treasure
tunnel umbrella uncle valley velvet village violin volcano wagon wallet water weather wheat window winter
wizard wool yellow
"""
_WORDS = _WORD_TEXT.split()
_VERB_TEXT = "carries finds keeps moves opens reads builds shows follows changes watches needs sends holds"
_VERBS = _VERB_TEXT.split()
_LINK_TEXT = "near under beside behind across inside through without before after"
_LINKS = _LINK_TEXT.split()
_WORD_SET = set(_WORDS)


def _document(rng: random.Random, serial: int, words: int) -> str:
    sentences: list[str] = []
    count = 0
    while count < words:
        a, b, c = rng.sample(_WORDS, 3)
        sentence = f"The {a} {rng.choice(_VERBS)} the {b} {rng.choice(_LINKS)} the {c}."
        sentences.append(sentence.capitalize())
        count += len(sentence.split())
    return f"Record {serial}. " + " ".join(sentences)


def _query(rng: random.Random, document: str) -> str:
    """A handful of the document's content words in another order: a keyword-style question."""
    words = [w.strip(".").lower() for w in document.split() if w.strip(".").lower() in _WORD_SET]
    return " ".join(rng.sample(words, min(5, len(words))))


def _timed(fn, *args, **kwargs) -> tuple[Any, float]:
    started = time.perf_counter()
    value = fn(*args, **kwargs)
    return value, time.perf_counter() - started


def run_benchmark(
    *, chunks: int, queries: int, words: int, embedder_name: str, database: str | None, seed: int = 0
) -> dict[str, Any]:
    """`database`: a new SQLite file, a PostgreSQL URL (bank 'bench' is made and dropped), or None (temporary)."""
    rng = random.Random(seed)
    embedder = MiniLMEmbedder() if embedder_name == "minilm" else HashingEmbedder()
    if isinstance(embedder, MiniLMEmbedder):
        _, load_s = _timed(embedder.embed, ["warm-up"])
    else:
        load_s = 0.0
    workdir = None
    if database is None:
        workdir = tempfile.TemporaryDirectory(prefix="llamasys-bench-rag-")
        database = str(Path(workdir.name) / "memory.sqlite")
    is_url = "://" in database
    documents = [(f"record-{i}", _document(rng, i, words)) for i in range(chunks)]
    try:
        with MemoryStore(database, embedder=embedder) as store:
            bank = store.create_bank("bench", exist_ok=False)
            backend = store.sql.dialect + (" + pgvector" if store.sql.pgvector else "")
            report, ingest_s = _timed(bank.add_texts, documents, progress=True)
            if report.chunks_added != chunks or report.failed:
                raise RuntimeError(f"expected {chunks} chunks, got {report.chunks_added}: {report.summary()}")
            result: dict[str, Any] = {
                "benchmark": "rag",
                "config": {
                    "chunks": chunks,
                    "queries": queries,
                    "words_per_chunk": words,
                    "embedder": embedder.name,
                    "database": backend if is_url else "sqlite file",
                    "cpus": os.cpu_count(),
                    "load_average_1m": round(os.getloadavg()[0], 2),
                },
                "embedder_load_s": round(load_s, 2),
                "ingestion": {
                    "seconds": round(ingest_s, 2),
                    "chunks_per_s": round(chunks / ingest_s, 1),
                    "embedding_s": round(report.timings.embedding_s, 2),
                    "embedding_chunks_per_s": round(chunks / max(report.timings.embedding_s, 1e-9), 1),
                    "storing_s": round(report.timings.storing_s, 3),
                    "storing_chunks_per_s": round(chunks / max(report.timings.storing_s, 1e-9), 1),
                    "chunking_s": round(report.timings.chunking_s, 3),
                    "database_mb": None if is_url else round(Path(database).stat().st_size / 2**20, 1),
                },
            }
            try:
                result.update(_measure_queries(store, documents, queries, rng))
            finally:
                if is_url:
                    store.delete_bank("bench")
    finally:
        if workdir is not None:
            workdir.cleanup()
    return result


def _measure_queries(
    store: MemoryStore, documents: list[tuple[str, str]], n: int, rng: random.Random
) -> dict[str, Any]:
    picks = [rng.randrange(len(documents)) for _ in range(n)]
    questions = [_query(rng, documents[i][1]) for i in picks]
    targets = [documents[i][0] for i in picks]
    embedder = store.embedder

    embed_times = []
    vectors = []
    for question in questions:
        vector, seconds = _timed(embedder.embed, [question])
        vectors.append(vector[0])
        embed_times.append(seconds)

    # The first vector search builds the bank's cache: measured on its own.
    _, cache_build_s = _timed(
        store.search, questions[0], banks=["bench"], mode="vector", query_vector=vectors[0]
    )

    latencies: dict[str, list[float]] = {
        "vector": [],
        "keyword": [],
        "hybrid": [],
        "hybrid_with_embedding": [],
    }
    found: dict[str, int] = {"vector": 0, "keyword": 0, "hybrid": 0}
    for question, vector, target in zip(questions, vectors, targets, strict=True):
        for mode in ("vector", "keyword", "hybrid"):
            hits, seconds = _timed(
                store.search, question, banks=["bench"], k=5, mode=mode, query_vector=vector
            )
            latencies[mode].append(seconds)
            found[mode] += any(h.title == target for h in hits)
        _, seconds = _timed(store.search, question, banks=["bench"], k=5, mode="hybrid")
        latencies["hybrid_with_embedding"].append(seconds)

    baseline_vector, baseline_keyword, numpy_only = [], [], []
    baseline_found = {"vector": 0, "keyword": 0}
    cache = store.sql._vectors("bench")
    matrix, ids = cache.matrix, cache.ids
    title_of = {int(cid): row["title"] for cid, row in store.sql.chunk_rows([int(i) for i in ids]).items()}
    for question, vector, target in zip(questions, vectors, targets, strict=True):
        hits, seconds = _timed(_brute_force_vector, store, vector)
        baseline_vector.append(seconds)
        baseline_found["vector"] += any(title_of[c] == target for c in hits)
        _, seconds = _timed(top_k_cosine, matrix, vector, 5)
        numpy_only.append(seconds)
        hits, seconds = _timed(_naive_keyword, store, question)
        baseline_keyword.append(seconds)
        baseline_found["keyword"] += any(title_of[c] == target for c in hits)

    ours = {mode: percentiles(values) for mode, values in latencies.items()}
    baselines = {
        "vector_uncached_bruteforce": percentiles(baseline_vector),
        "keyword_like_scan": percentiles(baseline_keyword),
        "numpy_matmul_only": percentiles(numpy_only),
    }
    return {
        "query_embedding_ms": percentiles(embed_times),
        "vector_cache_build_ms": round(cache_build_s * 1000, 1),
        "query_latency_ms": ours,
        "baseline_latency_ms": baselines,
        "ratios_p50": {
            "vector_vs_uncached_bruteforce": round(
                baselines["vector_uncached_bruteforce"]["p50_ms"] / ours["vector"]["p50_ms"], 1
            ),
            "keyword_vs_like_scan": round(
                baselines["keyword_like_scan"]["p50_ms"] / ours["keyword"]["p50_ms"], 1
            ),
            "vector_overhead_vs_numpy_matmul": round(
                ours["vector"]["p50_ms"] / baselines["numpy_matmul_only"]["p50_ms"], 1
            ),
        },
        "recall@5": {
            **{mode: round(count / n, 3) for mode, count in found.items()},
            "baseline_vector": round(baseline_found["vector"] / n, 3),
            "baseline_keyword": round(baseline_found["keyword"] / n, 3),
        },
        "notes": (
            "recall@5 here only checks that each fast path returns what its baseline returns: the generated "
            "chunks are shuffled words from one small vocabulary, which keyword search tells apart and a "
            "sentence embedder cannot; retrieval quality is measured on the written corpus of tests/memory."
        ),
    }


def _brute_force_vector(store: MemoryStore, vector: np.ndarray) -> list[int]:
    """What vector search costs without the cache: every embedding read back from the database per query."""
    with store.sql.engine.connect() as conn:
        rows = conn.execute(text("SELECT id, embedding FROM memory_chunks WHERE bank = 'bench'")).all()
    ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    matrix = np.frombuffer(b"".join(r[1] for r in rows), dtype="<f4").reshape(len(rows), -1)
    return [int(ids[i]) for i, _ in top_k_cosine(matrix, vector, 5)]


def _naive_keyword(store: MemoryStore, question: str) -> list[int]:
    """Full-text search without an index: LIKE on every term, ranked by the number of terms matched."""
    terms = keyword_terms(question)
    score = " + ".join(f"(CASE WHEN text LIKE :t{i} THEN 1 ELSE 0 END)" for i in range(len(terms))) or "0"
    sql = text(
        f"SELECT id, {score} AS s FROM memory_chunks WHERE bank = 'bench' AND ({score}) > 0 ORDER BY s DESC LIMIT 5"
    )
    with store.sql.engine.connect() as conn:
        return [int(r[0]) for r in conn.execute(sql, {f"t{i}": f"%{t}%" for i, t in enumerate(terms)})]


def bench_rag(
    chunks: int = typer.Option(10_000, min=10, help="How many chunks to ingest."),
    queries: int = typer.Option(200, min=5, help="How many queries per search mode."),
    words: int = typer.Option(
        100, min=10, max=150, help="Words per generated chunk (100 words ~ 140 word pieces)."
    ),
    embedder: str = typer.Option(
        "minilm", help="minilm (all-MiniLM-L6-v2) or hashing (no model: storage only)."
    ),
    database: str = typer.Option(
        None,
        help="A new SQLite file to fill, or a PostgreSQL URL (default: a temporary SQLite file, deleted after).",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print only the JSON result."),
) -> None:
    """Ingest generated chunks into a memory bank and time vector, keyword and hybrid search."""
    if embedder not in ("minilm", "hashing"):
        raise typer.BadParameter("use --embedder minilm or --embedder hashing")
    if database is not None and "://" not in database and Path(database).exists():
        raise typer.BadParameter(f"{database} exists; the benchmark needs a new file")
    result = run_benchmark(
        chunks=chunks, queries=queries, words=words, embedder_name=embedder, database=database
    )
    if as_json:
        typer.echo(json.dumps(result, indent=2))
        return
    ingestion, latency = result["ingestion"], result["query_latency_ms"]
    typer.echo(
        f"ingested {chunks} chunks in {ingestion['seconds']} s ({ingestion['chunks_per_s']} chunks/s; "
        f"embedding {ingestion['embedding_chunks_per_s']} chunks/s, storing {ingestion['storing_chunks_per_s']} chunks/s)"
    )
    for mode, values in latency.items():
        typer.echo(f"  {mode:22s} p50 {values['p50_ms']:8.2f} ms   p95 {values['p95_ms']:8.2f} ms")
    for name, values in result["baseline_latency_ms"].items():
        typer.echo(f"  baseline {name:13s} p50 {values['p50_ms']:8.2f} ms   p95 {values['p95_ms']:8.2f} ms")
    typer.echo(json.dumps(result["ratios_p50"]) + "  recall@5 " + json.dumps(result["recall@5"]))
