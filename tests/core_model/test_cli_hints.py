"""CLI errors name what fixes them (issue 12, fault 10): a missing folder, no network, --tiny honoured."""

from __future__ import annotations

import httpx
from typer.testing import CliRunner

from llamasys.apps.cli import app


def test_verify_of_a_folder_that_does_not_exist_says_so(tmp_path):
    result = CliRunner().invoke(app, ["model", "verify", str(tmp_path / "missing")])
    assert result.exit_code == 1
    assert "no such folder" in result.output and "llamasys model list" in result.output


def test_download_without_network_gives_a_hint(monkeypatch):
    import llamasys.apps.cli.model_commands as commands

    def offline(*args, **kwargs):
        raise httpx.ConnectError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(commands, "download", offline)
    result = CliRunner().invoke(app, ["model", "download", "llama3.2-1b-instruct"])
    assert result.exit_code == 1
    assert "cannot reach the Hugging Face Hub (ConnectError" in result.output
    assert "check the network" in result.output and "Traceback" not in result.output


def test_bench_gpu_tiny_on_cpu_gets_tiny_layers(monkeypatch):
    import llamasys.core_model.gpu_check as gpu_check

    seen: list[list[str]] = []
    monkeypatch.setattr(gpu_check, "main", lambda argv: seen.append(argv) or 0)
    result = CliRunner().invoke(app, ["bench", "gpu", "--device", "cpu", "--tiny"])
    assert result.exit_code == 0, result.output
    assert "--layers" not in seen[0] and "--tiny" in seen[0]  # gpu_check's own default: 4 layers with --tiny
    CliRunner().invoke(app, ["bench", "gpu", "--layers", "2", "--device", "cpu", "--tiny"])
    assert seen[1][:2] == ["--layers", "2"]
