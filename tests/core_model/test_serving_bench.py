"""`llamasys bench serve` on a tiny random-weight GGUF: the report's shape and what it must show (reused
prefixes on the agent steps, every stream's tokens); speed figures are only reported, never asserted."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from llamasys.apps.cli import app
from llamasys.core_model.testing import tiny_args, write_gguf_checkpoint


def test_bench_serve_reports_batching_reuse_and_llama_cpp_absence(tmp_path):
    gguf = write_gguf_checkpoint(tmp_path / "tiny.gguf", tiny_args())
    args = ["bench", "serve", "--model", str(gguf), "--quantization", "none", "--streams", "1,2"]
    args += ["--new-tokens", "4", "--prompt-tokens", "8", "--agent-prompt", "40", "--agent-step", "6"]
    args += ["--no-contention-section", "--threads", "1", "--json"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout[result.stdout.index("{") :])
    assert [r["streams"] for r in report["concurrency"]] == [1, 2] and report["threads"] == 1
    for row in report["concurrency"]:
        assert row["engine_step"]["rows"] == row["streams"] and row["engine_step"]["threads"] == 1
        for side in ("batched", "one_at_a_time"):
            assert row[side]["tokens"] == 4 * row["streams"] and len(row[side]["load_avg"]) == 3
            assert row[side]["ttft"]["n"] == row["streams"]
            steps = row[side]["steps"]  # 3 decode steps per stream (the first token comes from prefill)
            assert steps["steps"] * steps["rows_per_step"] == 3 * row["streams"]
            assert 0 < steps["model_ms_per_step"] <= steps["step_ms_per_step"]
    with_reuse, without = report["agent"]["with_reuse"], report["agent"]["without_reuse"]
    assert [s["prompt_tokens"] for s in with_reuse] == [s["prompt_tokens"] for s in without]
    assert all(s["reused_tokens"] == 0 for s in without)
    # Each later step reuses all its slot holds: the previous prompt and every token fed back (all
    # but the last reply token).
    for prev, step in zip(with_reuse, with_reuse[1:], strict=False):
        assert step["reused_tokens"] == prev["prompt_tokens"] + prev["reply_tokens"] - 1
    assert report["targets"]["ttft_steps_2_5_with_vs_without_reuse"] > 0
    llama_cpp = report["llama_cpp"]
    assert llama_cpp["available"] is False or "aggregate_tok_s" in llama_cpp or "error" in llama_cpp
