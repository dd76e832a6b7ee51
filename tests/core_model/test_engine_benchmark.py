"""`run_engine_benchmark` end to end on a tiny Hugging Face checkpoint: the report's shape and its
internal consistency (figures themselves are for `llamasys bench engine`, not for tests)."""

from __future__ import annotations

import json
import os

import pytest
import torch
from typer.testing import CliRunner

from llamasys.apps.bench.engine import run_engine_benchmark
from llamasys.apps.bench.timing import copy_bandwidth, read_bandwidth
from llamasys.core_model.testing import (
    random_meta_state_dict,
    tiny_args,
    write_gguf_checkpoint,
    write_hf_checkpoint,
)


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
    assert roof["decode_tok_s_bound_by_reads"] == pytest.approx(
        roof["read_bandwidth_gb_s"] * 1e9 / roof["bytes_per_token"], rel=0.01
    )
    assert report["ratios"]["decode_vs_transformers"] > 0
    # float32, same weights: greedy decoding agrees with transformers token for token
    assert report["greedy_tokens_equal_to_transformers"] == 6
    assert "llama_cpp" not in report  # only for GGUF sources
    # the C decode step is timed against the same engine decoding in PyTorch
    assert ours["decode_step"].startswith("C (")
    assert (
        report["engine_pytorch_step"]["decode_tok_s"] > 0 and report["ratios"]["decode_vs_pytorch_step"] > 0
    )


def test_batched_report_sums_the_rows(tmp_path):
    args = tiny_args()
    path = write_hf_checkpoint(tmp_path / "hf", args, random_meta_state_dict(args, seed=1))
    report = run_engine_benchmark(
        str(path), dtype=torch.float32, new_tokens=5, prompt_tokens=8, repeats=1, batch=3
    )
    assert report["batch"] == 3 and report["greedy_tokens_equal_to_transformers"] == 5
    one = run_engine_benchmark(str(path), dtype=torch.float32, new_tokens=5, prompt_tokens=8, repeats=1)
    # three rows per step: the roofline bound triples with the batch
    assert report["roofline"]["decode_tok_s_bound"] > 2 * one["roofline"]["decode_tok_s_bound"]


# llama-cpp-python is not installable here without a source build: a stand-in module on the baseline
# process's PYTHONPATH records what the benchmark asks for (into a file) and yields a fixed token stream.
_FAKE_LLAMA_CPP = """
import json, os
__version__ = "fake"
def _log(*call):
    with open(os.environ["FAKE_LLAMA_CPP_LOG"], "a") as f:
        f.write(json.dumps(call) + "\\n")
class Llama:
    def __init__(self, model_path, n_threads, n_ctx, verbose):
        _log("init", model_path, n_threads, n_ctx)
    def reset(self):
        _log("reset")
    def generate(self, tokens, temp, top_k, reset):
        _log("generate", list(tokens), temp, top_k)
        while True:
            yield 7
"""
_SIGILL_ON_IMPORT = "import os, signal\nos.kill(os.getpid(), signal.SIGILL)\n"


def _on_baseline_path(monkeypatch, folder, modules: dict[str, str]) -> None:
    """Put modules on the PYTHONPATH of the baseline processes (this process has already imported)."""
    folder.mkdir(exist_ok=True)
    for name, source in modules.items():
        (folder / f"{name}.py").write_text(source)
    monkeypatch.setenv("PYTHONPATH", f"{folder}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")


def test_llama_cpp_runs_on_the_same_gguf_and_prompt(tmp_path, monkeypatch):
    args = tiny_args()
    path = write_gguf_checkpoint(tmp_path / "m.gguf", args, random_meta_state_dict(args, seed=1))
    _on_baseline_path(monkeypatch, tmp_path / "fake", {"llama_cpp": _FAKE_LLAMA_CPP})
    monkeypatch.setenv("FAKE_LLAMA_CPP_LOG", str(tmp_path / "calls.jsonl"))
    report = run_engine_benchmark(str(path), new_tokens=5, prompt_tokens=8, repeats=2, baseline=False)
    timed = report["llama_cpp"]
    assert timed["version"] == "fake" and len(timed["decode_tok_s_runs"]) == 2
    # the ratio is ours over llama.cpp's, whatever the machine's load makes of either
    expected = round(report["engine"]["decode_tok_s"] / timed["decode_tok_s"], 3)
    assert report["ratios"]["decode_vs_llama_cpp"] == expected
    init, *rest = [json.loads(line) for line in (tmp_path / "calls.jsonl").read_text().splitlines()]
    assert init[1] == str(path) and init[3] >= 8 + 5
    generates = [c for c in rest if c[0] == "generate"]
    assert len(generates) == 3 and all(len(c[1]) == 8 and c[2] == 0.0 for c in generates)  # warm-up + 2
    assert rest.count(["reset"]) == 3  # every run prefills the whole prompt
    assert "tokens" not in timed
    # the stand-in answers 7, 7, 7, ...: agreement is the engine's own run of leading 7s on that prompt
    from llamasys.core_model import SamplingParams, load_model

    engine = load_model(str(path))
    engine.stop_ids = frozenset()
    [ours] = engine.generate([generates[0][1]], SamplingParams(max_tokens=5))
    leading_sevens = next((i for i, t in enumerate(ours.tokens) if t != 7), len(ours.tokens))
    assert timed["greedy_tokens_equal_to_engine"] == leading_sevens


def test_a_baseline_that_crashes_is_reported_not_fatal(tmp_path, monkeypatch):
    """The reported case: llama.cpp built from source dies with SIGILL on an AMX CPU. Both baselines
    crash here (a module that kills its process with SIGILL on import); our figures stand."""
    args = tiny_args()
    path = write_gguf_checkpoint(tmp_path / "m.gguf", args, random_meta_state_dict(args, seed=1))
    _on_baseline_path(
        monkeypatch, tmp_path / "crash", {"llama_cpp": _SIGILL_ON_IMPORT, "transformers": _SIGILL_ON_IMPORT}
    )
    report = run_engine_benchmark(str(path), dtype=torch.float32, new_tokens=4, prompt_tokens=8, repeats=1)
    assert json.loads(json.dumps(report)) == report
    assert report["engine"]["decode_tok_s"] > 0
    for side in ("llama_cpp", "transformers"):
        assert report[side]["failed"] == "the baseline process crashed with SIGILL", report[side]
    assert "decode_vs_llama_cpp" not in report["ratios"] and "decode_vs_transformers" not in report["ratios"]
    assert "greedy_tokens_equal_to_transformers" not in report


def test_an_absent_baseline_is_reported_as_skipped(tmp_path):
    args = tiny_args()
    path = write_gguf_checkpoint(tmp_path / "m.gguf", args, random_meta_state_dict(args, seed=1))
    report = run_engine_benchmark(str(path), new_tokens=4, prompt_tokens=8, repeats=1, baseline=False)
    assert report["llama_cpp"]["skipped"].startswith("llama-cpp-python is not installed")
    assert report["engine"]["decode_tok_s"] > 0


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
    assert 1e8 < read_bandwidth("cpu", nbytes=16 << 20, repeats=3) < 1e13


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
