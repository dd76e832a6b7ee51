"""`llamasys serve` as a user starts it (a subprocess, settings from flags, the environment and a llamasys.toml),
and the HTTP mode of the serving benchmark on the tiny model."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import openai
import pytest
from server_fixtures import MODEL_ID

from llamasys.apps.bench.serve_http import bench_serve_http


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def llamasys_command() -> list[str]:
    exe = Path(sys.executable).with_name("llamasys")
    return [str(exe)] if exe.exists() else [shutil.which("llamasys") or "llamasys"]


@pytest.mark.slow
def test_serve_command_reads_flags_env_and_file(tiny_checkpoint, tmp_path):
    port = free_port()
    (tmp_path / "llamasys.toml").write_text(
        f'model = "{tiny_checkpoint}"\ndtype = "float32"\nmax_seq_len = 2048\n[serve]\nport = {port}\n',
        encoding="utf-8",
    )
    env = {**os.environ, "LLAMASYS_SERVE_API_KEY": "from-env", "LLAMASYS_HOME": str(tmp_path)}
    proc = subprocess.Popen(
        [*llamasys_command(), "serve", "--model-name", MODEL_ID, "--device", "cpu"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 180
        while True:
            assert proc.poll() is None, f"llamasys serve exited: {proc.stdout.read()}"
            assert time.monotonic() < deadline, "llamasys serve did not come up"
            try:
                if httpx.get(url + "/health", timeout=2).json()["status"] == "ok":
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        with pytest.raises(openai.AuthenticationError):
            openai.OpenAI(base_url=url + "/v1", api_key="wrong", max_retries=0).models.list()
        client = openai.OpenAI(base_url=url + "/v1", api_key="from-env", max_retries=0)
        reply = client.chat.completions.create(
            model=MODEL_ID, messages=[{"role": "user", "content": "hi"}], max_tokens=4, temperature=0
        )
        assert reply.model == MODEL_ID and reply.usage.completion_tokens >= 1
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_serve_command_rejects_a_bad_setting(tmp_path):
    result = subprocess.run(
        [*llamasys_command(), "serve", "--quantization", "int4"],
        cwd=tmp_path,
        env={**os.environ, "LLAMASYS_HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert "quantization (from flag)" in result.stderr


def test_bench_serve_http_reports_both_sides(tiny_engine):
    report = bench_serve_http(
        "tiny", engine=tiny_engine, concurrency=(1, 2), max_tokens=6, prompt_words=14, repeats=1
    )
    assert [r["concurrency"] for r in report["results"]] == [1, 2]
    for row in report["results"]:
        for side in ("direct", "http"):
            assert row[side]["streams"] == row["concurrency"]
            assert row[side]["tokens"] >= row["concurrency"]
            assert row[side]["aggregate_tok_s"] > 0
        assert row["http_vs_direct"] == pytest.approx(
            row["http"]["aggregate_tok_s"] / row["direct"]["aggregate_tok_s"], rel=1e-2
        )
