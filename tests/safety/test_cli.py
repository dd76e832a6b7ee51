"""`llamasys moderate` and `llamasys bench safety` through typer's runner."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from llamasys.apps.cli import app
from llamasys.core_model.testing import write_random_llama_guard, write_random_prompt_guard

runner = CliRunner()


def test_moderate_code_blocks_with_exit_code_1_and_json():
    result = runner.invoke(
        app, ["moderate", "rm -rf /", "--code", "--llama-guard", "none", "--prompt-guard", "none", "--json"]
    )
    assert result.exit_code == 1, result.output
    [verdict] = json.loads(result.stdout)
    assert (
        verdict["shield"] == "code_shield"
        and verdict["categories"] == ["SH-RM-ROOT"]
        and not verdict["allowed"]
    )


def test_moderate_benign_code_exits_0_and_prints_a_line():
    result = runner.invoke(
        app, ["moderate", "print('hi')", "--code", "--llama-guard", "none", "--prompt-guard", "none"]
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("code_shield") and "allowed" in result.stdout


def test_moderate_missing_models_block_by_default_and_warn_on_request(tmp_path):
    args = [
        "moderate",
        "hello",
        "--llama-guard",
        str(tmp_path / "lg"),
        "--prompt-guard",
        str(tmp_path / "pg"),
        "--json",
    ]
    blocked = runner.invoke(app, args)
    assert blocked.exit_code == 1
    assert [v["unavailable"] for v in json.loads(blocked.stdout)] == [True, True]
    warned = runner.invoke(app, [*args, "--on-unavailable", "warn"])
    assert warned.exit_code == 0 and [v["level"] for v in json.loads(warned.stdout)] == ["warn", "warn"]


def test_moderate_runs_both_model_shields_on_stand_in_models(tmp_path):
    lg = write_random_llama_guard(tmp_path / "lg")
    pg = write_random_prompt_guard(tmp_path / "pg", num_labels=2, max_len=64)
    result = runner.invoke(
        app,
        [
            "moderate",
            "the tool said hi",
            "--role",
            "tool",
            "--prompt",
            "search",
            "--llama-guard",
            str(lg),
            "--prompt-guard",
            str(pg),
            "--threshold",
            "1.0",
            "--json",
        ],  # fmt: skip
    )
    guard, prompt_guard = json.loads(result.stdout)
    assert guard["touchpoint"] == "tool_output" and not guard["unavailable"] and 0 <= guard["score"] <= 1
    assert guard["allowed"]  # threshold 1.0: random weights cannot reach P(unsafe) = 1
    assert prompt_guard["details"]["version"] == 2 and "injection_score" in prompt_guard["details"]
    assert result.exit_code == (0 if prompt_guard["allowed"] else 1)


def test_moderate_rejects_a_bad_role():
    result = runner.invoke(app, ["moderate", "x", "--role", "robot"])
    assert result.exit_code == 2


@pytest.mark.slow
def test_bench_safety_reports_every_shield_against_the_baseline():
    result = runner.invoke(app, ["bench", "safety", "--repeats", "1", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout[result.stdout.index("{") :])
    assert report["baseline_ms"] > 0
    assert set(report["shields"]) == {
        "llama_guard.user_input",
        "prompt_guard.user_input",
        "prompt_guard.tool_output_1500_tokens",
        "code_shield.tool_input_45_lines",
    }
    for r in report["shields"].values():
        assert r["ms_median"] > 0 and r["ratio_to_baseline"] > 0 and r["model"]
    assert "stand-in" in report["shields"]["llama_guard.user_input"]["model"]
