"""`run_engine_benchmark` end to end on a tiny Hugging Face checkpoint: the report's shape and its
internal consistency (figures themselves are for `llamasys bench engine`, not for tests)."""

from __future__ import annotations

import json

import torch
from checkpoint_factory import random_meta_state_dict, tiny_args, write_hf_checkpoint
from typer.testing import CliRunner

from llamasys.core_model.benchmark import copy_bandwidth, run_engine_benchmark


def test_report_compares_engine_transformers_and_roofline(tmp_path):
    args = tiny_args()
    path = write_hf_checkpoint(tmp_path / "hf", args, random_meta_state_dict(args, seed=1))
    report = run_engine_benchmark(str(path), dtype=torch.float32, new_tokens=6, prompt_tokens=8, repeats=2)
    assert json.loads(json.dumps(report)) == report  # JSON-able
    ours, theirs = report["engine"], report["transformers"]
    assert len(ours["decode_tok_s_runs"]) == len(theirs["decode_tok_s_runs"]) == 2
    assert ours["decode_tok_s"] == max(ours["decode_tok_s_runs"]) > 0 and theirs["decode_tok_s"] > 0
    assert ours["weight_bytes"] == sum(t.numel() * 4 for t in random_meta_state_dict(args).values())
    roof = report["roofline"]
    assert roof["decode_tok_s_bound"] * roof["bytes_per_token"] > 0
    assert report["ratios"]["decode_vs_transformers"] > 0
    # float32, same weights: greedy decoding agrees with transformers token for token
    assert report["greedy_tokens_equal_to_transformers"] == 6
    assert "llama_cpp" not in report  # only for GGUF sources


def test_int8_report_counts_quantized_bytes(tmp_path):
    args = tiny_args()
    path = write_hf_checkpoint(tmp_path / "hf", args, random_meta_state_dict(args, seed=1))
    report = run_engine_benchmark(
        str(path), quantization="int8", new_tokens=4, prompt_tokens=8, repeats=1, baseline=False
    )
    assert "transformers" not in report and report["quantization"] == "int8"
    assert report["engine"]["decode_bytes_per_token"] < report["engine"]["weight_bytes"]


def test_copy_bandwidth_is_plausible():
    assert 1e8 < copy_bandwidth("cpu", nbytes=16 << 20, repeats=3) < 1e13


def test_cli_prints_json(tmp_path):
    from llamasys.apps.cli.app import app

    args = tiny_args()
    path = write_hf_checkpoint(tmp_path / "hf", args, random_meta_state_dict(args, seed=1))
    result = CliRunner().invoke(
        app,
        [
            "bench",
            "engine",
            "--model",
            str(path),
            "--new-tokens",
            "4",
            "--prompt-tokens",
            "8",
            "--repeats",
            "1",
            "--no-baseline",
            "--json",
            "--dtype",
            "float32",
        ],
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["engine"]["decode_tok_s"] > 0
