"""`llamasys bench rag` runs end to end (tiny sizes, hashing embedder) and prints the JSON it promises."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from llamasys.apps.cli import bench  # noqa: F401  (registers the command)
from llamasys.apps.cli.app import bench_app


def test_bench_rag_prints_json_with_baselines() -> None:
    result = CliRunner().invoke(
        bench_app, ["rag", "--chunks", "60", "--queries", "10", "--embedder", "hashing", "--json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout[result.stdout.index("{") :])
    assert report["config"]["chunks"] == 60 and report["ingestion"]["chunks_per_s"] > 0
    for mode in ("vector", "keyword", "hybrid", "hybrid_with_embedding"):
        assert 0 < report["query_latency_ms"][mode]["p50_ms"] <= report["query_latency_ms"][mode]["p95_ms"]
    assert set(report["baseline_latency_ms"]) == {
        "vector_uncached_bruteforce",
        "keyword_like_scan",
        "numpy_matmul_only",
    }
    assert report["ratios_p50"]["vector_vs_uncached_bruteforce"] > 0
    # the fast paths return what the brute-force baselines return
    assert report["recall@5"]["vector"] == report["recall@5"]["baseline_vector"]
    assert report["recall@5"]["keyword"] >= 0.9


def test_bench_rag_rejects_unknown_embedder() -> None:
    result = CliRunner().invoke(bench_app, ["rag", "--embedder", "word2vec"])
    assert result.exit_code != 0 and "minilm" in result.output
