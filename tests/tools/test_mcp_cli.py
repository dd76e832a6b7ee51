"""`llamasys mcp serve` as a real subprocess, answered by the real `mcp` client over stdio and over
streamable HTTP on 127.0.0.1. A plugin installed through package metadata is served with the built-ins."""

import asyncio
import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from llamasys.tools.mcp_interop import connect_http, connect_stdio

LLAMASYS = Path(sys.executable).with_name("llamasys")


def installed_plugin_tools() -> set[str]:
    """Tools that plugins already installed in this environment provide (`make` installs the sample
    weather plugin), so the tests below expect them beside their own plugin's."""
    from llamasys.tools import ToolRegistry

    registry = ToolRegistry()
    registry.discover()
    return set(registry.names())


PLUGIN = """
    from llamasys.tools import tool

    @tool
    def reverse_text(text: str) -> str:
        '''Reverse a text.

        Args:
            text: What to reverse.
        '''
        return text[::-1]
"""


@pytest.fixture
def plugin_env(tmp_path):
    """An environment whose Python path holds a plugin distribution (module + dist-info with an entry point)."""
    (tmp_path / "cli_demo_plugin.py").write_text(textwrap.dedent(PLUGIN))
    info = tmp_path / "cli_demo_plugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: cli-demo-plugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[llamasys.tools]\nreverse = cli_demo_plugin:reverse_text\n")
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env["PYTHONPATH"] = str(tmp_path)
    return env


def test_serve_list_shows_builtins_and_plugins(plugin_env):
    out = subprocess.run(
        [str(LLAMASYS), "mcp", "serve", "--list", "--code-interpreter"],
        capture_output=True,
        text=True,
        timeout=120,
        env=plugin_env,
    )
    assert out.returncode == 0, out.stderr
    names = [d["name"] for d in json.loads(out.stdout)]
    assert names[:3] == ["web_search", "wolfram_alpha", "code_interpreter"]
    assert sorted(names[3:]) == sorted({"reverse_text"} | installed_plugin_tools())


def test_serve_rejects_an_unknown_tool_with_suggestions(plugin_env):
    out = subprocess.run(
        [str(LLAMASYS), "mcp", "serve", "--tool", "reverse_txt"],
        capture_output=True,
        text=True,
        timeout=120,
        env=plugin_env,
    )
    assert out.returncode == 2
    assert "Unknown tool 'reverse_txt'. Did you mean: reverse_text?" in out.stderr


async def test_serve_over_stdio(plugin_env):
    async with connect_stdio(
        str(LLAMASYS),
        ["mcp", "serve", "--tool", "reverse_text", "--tool", "wolfram_alpha"],
        env=plugin_env,
        connect_timeout=60,
        read_timeout=30,
    ) as toolset:
        tools = {t.name: t for t in toolset.tools}
        assert list(tools) == ["reverse_text", "wolfram_alpha"]
        assert tools["reverse_text"].definition.parameters["properties"]["text"] == {
            "type": "string",
            "description": "What to reverse.",
        }
        assert (await tools["reverse_text"].run(text="llama")).content == "amall"
        # No key in the server's environment: a clear error result naming the variable, not a crash.
        missing = await tools["wolfram_alpha"].run(query="2+2")
        assert missing.error and "WOLFRAM_ALPHA_API_KEY" in missing.content
        invalid = await tools["reverse_text"].run(text=5)
        assert invalid.error and "is not of type 'string'" in invalid.content


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _wait_for_port(port: int, process: subprocess.Popen, timeout: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited with {process.returncode}: {process.stderr.read()}")
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            await writer.wait_closed()
            return
        except OSError:
            await asyncio.sleep(0.1)
    raise AssertionError(f"server did not listen on {port} within {timeout} s")


async def test_serve_over_streamable_http(plugin_env):
    port = _free_port()
    process = subprocess.Popen(
        [str(LLAMASYS), "mcp", "serve", "--http", str(port), "--no-builtins"],
        env=plugin_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        await _wait_for_port(port, process, timeout=60)
        async with connect_http(
            f"http://127.0.0.1:{port}/mcp", connect_timeout=30, read_timeout=30
        ) as toolset:
            tools = {t.name: t for t in toolset.tools}
            assert set(tools) == {"reverse_text"} | installed_plugin_tools()
            assert (await tools["reverse_text"].run(text="abc")).content == "cba"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def test_serve_over_stdio_says_what_it_serves_on_stderr(plugin_env):
    """Issue 12, fault 10: started in a terminal, `mcp serve` printed nothing; stdout stays the protocol's."""
    done = subprocess.run(
        [str(LLAMASYS), "mcp", "serve", "--tool", "reverse_text"],
        env=plugin_env,
        stdin=subprocess.DEVNULL,  # no client: the server sees end of input and stops
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "serving reverse_text over MCP stdio" in done.stderr and "--http PORT" in done.stderr
    assert done.stdout == ""
