"""The GPU check script's own logic, run as a CPU dry run on tiny shapes (the real run needs a card)."""

from __future__ import annotations

import json

import torch

from llamasys.core_model import gpu_check


def test_cpu_dry_run_checks_fp8_against_bf16(capsys):
    status = gpu_check.main(
        ["--device", "cpu", "--tiny", "--layers", "3", "--steps", "8", "--timing-tokens", "8"]
    )
    report = json.loads(capsys.readouterr().out)
    assert status == 0 and report["all_checks_passed"]
    results = report["results"]
    assert set(results) == {"bf16_eager", "fp8_eager", "fp8_all_eager"}
    for name in ("fp8_eager", "fp8_all_eager"):
        r = results[name]
        assert r["finite"] and r["same_greedy_tokens"] and r["min_cosine"] > 0.98 and r["decode_tok_s"] > 0
    # fp8-all stores every linear in one byte per weight: it must read fewer bytes per token
    assert results["fp8_all_eager"]["bytes_per_token"] < results["fp8_eager"]["bytes_per_token"]
    assert results["fp8_eager"]["bytes_per_token"] < results["bf16_eager"]["bytes_per_token"]
    assert len(report["reference_tokens"]) == 8


def test_without_a_gpu_it_says_so(capsys, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # the same answer on a GPU machine
    assert gpu_check.main([]) == 2
    out = capsys.readouterr()
    assert "no CUDA device" in json.loads(out.out)["error"] and "--device cpu --tiny" in out.err


def test_cpu_needs_tiny(capsys):
    assert gpu_check.main(["--device", "cpu"]) == 2
