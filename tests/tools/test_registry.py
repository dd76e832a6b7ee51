"""ToolRegistry: names, clashes, unknown tools, running by name, and plugin discovery through real
package metadata (a `.dist-info` folder with `entry_points.txt` on sys.path, read by importlib.metadata)."""

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from llamasys.tools import (
    Tool,
    ToolError,
    ToolNameClashError,
    ToolRegistry,
    ToolResult,
    UnknownToolError,
    tool,
)

REPO = Path(__file__).resolve().parents[2]
WEATHER_PLUGIN = REPO / "apps" / "samples" / "weather_plugin"


@tool
def web_search(query: str) -> str:
    """Search."""
    return f"results for {query}"


@tool
def wolfram_alpha(query: str) -> str:
    """Compute."""
    return "42"


def test_register_lookup_and_definitions():
    registry = ToolRegistry([web_search, wolfram_alpha])
    assert registry.names() == ["web_search", "wolfram_alpha"]
    assert registry.get("web_search") is web_search and registry["wolfram_alpha"] is wolfram_alpha
    assert "web_search" in registry and len(registry) == 2
    assert [d.name for d in registry.definitions()] == ["web_search", "wolfram_alpha"]
    assert list(registry.select(["wolfram_alpha"])) == [wolfram_alpha]


def test_unknown_name_raises_with_close_matches():
    registry = ToolRegistry([web_search, wolfram_alpha])
    with pytest.raises(UnknownToolError) as info:
        registry.get("web_serch")
    assert info.value.suggestions == ["web_search"]
    assert "Did you mean: web_search?" in str(info.value)
    assert isinstance(info.value, ToolError) and isinstance(info.value, LookupError)


def test_name_clash_raises_unless_replace():
    registry = ToolRegistry([web_search])

    @tool(name="web_search")
    def other(query: str) -> str:
        """Another search."""
        return ""

    with pytest.raises(ToolNameClashError, match="replace=True"):
        registry.register(other)
    assert registry.get("web_search") is web_search
    registry.register(other, replace=True)
    assert registry.get("web_search") is other
    registry.register(other)  # the same object again is not a clash


def test_invalid_names_and_non_tools_are_refused():
    registry = ToolRegistry()

    @tool(name="has space")
    def spaced() -> str:
        """x"""
        return ""

    with pytest.raises(ToolError, match="invalid tool name"):
        registry.register(spaced)

    def plain(x: int) -> int:
        return x

    with pytest.raises(ToolError, match="decorate it with @llamasys.tools.tool"):
        registry.register(plain)
    with pytest.raises(ToolError, match="register an instance"):
        registry.register(Tool)


async def test_run_by_name_never_raises():
    registry = ToolRegistry([web_search])
    assert (await registry.run("web_search", {"query": "llama"})).content == "results for llama"
    assert (
        await registry.run("web_search", '{"query": "from json text"}')
    ).content == "results for from json text"

    unknown = await registry.run("web_serch", {"query": "x"})
    assert unknown.error and unknown.metadata == {"kind": "unknown_tool", "suggestions": ["web_search"]}
    assert "Did you mean: web_search?" in unknown.content

    not_json = await registry.run("web_search", '{"query": ')
    assert not_json.error and "not valid JSON" in not_json.content

    not_object = await registry.run("web_search", "[1, 2]")
    assert not_object.error and "must be a JSON object" in not_object.content

    missing = await registry.run("web_search", None)
    assert missing.error and "query: Field required" in missing.content


async def test_run_contains_a_tool_that_breaks_the_contract():
    class Rude(Tool):
        name = "rude"

        async def run(self, **arguments):  # overrides the never-raise run
            raise RuntimeError("boom")

    registry = ToolRegistry([Rude()])
    result = await registry.run("rude", {})
    assert result.error and "RuntimeError: boom" in result.content


async def test_close_closes_every_tool_even_if_one_fails():
    closed = []

    class Closing(Tool):
        def __init__(self, name, fail=False):
            self.name, self.fail = name, fail

        async def close(self):
            closed.append(self.name)
            if self.fail:
                raise OSError("stuck")

    await ToolRegistry([Closing("a", fail=True), Closing("b")]).close()
    assert closed == ["a", "b"]


# --- discovery through real package metadata ------------------------------------------------------


def _install_dist_info(site: Path, dist: str, entry_points: dict[str, str], modules: dict[str, str]) -> None:
    """Lay out what pip leaves behind: modules plus `<dist>-<version>.dist-info/{METADATA,entry_points.txt}`."""
    for name, source in modules.items():
        (site / f"{name}.py").write_text(textwrap.dedent(source))
    info = site / f"{dist.replace('-', '_')}-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1.0\n")
    lines = "".join(f"{name} = {target}\n" for name, target in entry_points.items())
    (info / "entry_points.txt").write_text(f"[llamasys.tools]\n{lines}")


PLUGIN_MODULE = """
    from pydantic import BaseModel
    from llamasys.tools import Tool, ToolResult, tool

    @tool
    def reverse_text(text: str) -> str:
        '''Reverse a text.'''
        return text[::-1]

    class Shout(Tool):
        name = "shout"
        description = "Upper-case a text."

        class Arguments(BaseModel):
            text: str

        async def call(self, text):
            return text.upper()

    @tool
    def count_words(text: str) -> int:
        '''Count words.'''
        return len(text.split())

    @tool
    def first_word(text: str) -> str:
        '''First word.'''
        return text.split()[0]

    def make_tools():
        return [count_words, first_word]

    NOT_A_TOOL = 42

    @tool(name="reverse_text")
    def reverse_again(text: str) -> str:
        '''A second tool with a taken name.'''
        return text
"""


def test_discover_loads_every_kind_of_entry_point_and_reports_broken_ones(tmp_path, monkeypatch):
    already = ToolRegistry()  # plugins installed in this environment (`make` installs the weather sample)
    already.discover()
    _install_dist_info(
        tmp_path,
        "demo-tools",
        {
            "a_instance": "demo_tools_plugin:reverse_text",
            "b_class": "demo_tools_plugin:Shout",
            "c_factory": "demo_tools_plugin:make_tools",
            "d_broken_import": "no_such_module_xyz:thing",
            "e_not_a_tool": "demo_tools_plugin:NOT_A_TOOL",
            "f_clash": "demo_tools_plugin:reverse_again",
        },
        {"demo_tools_plugin": PLUGIN_MODULE},
    )
    monkeypatch.syspath_prepend(str(tmp_path))

    registry = ToolRegistry()
    report = registry.discover()

    ours = [name for name in registry.names() if name not in already.names()]
    assert ours == ["reverse_text", "shout", "count_words", "first_word"]
    assert report.loaded["a_instance = demo_tools_plugin:reverse_text"] == ["reverse_text"]
    assert report.loaded["c_factory = demo_tools_plugin:make_tools"] == ["count_words", "first_word"]
    failures = {f.entry_point.split(" = ")[0]: f for f in report.failures}
    assert set(failures) == {"d_broken_import", "e_not_a_tool", "f_clash"}
    assert all(f.distribution == "demo-tools" for f in report.failures)
    assert "ModuleNotFoundError" in failures["d_broken_import"].error
    assert "expected a Tool" in failures["e_not_a_tool"].error
    assert "already registered" in failures["f_clash"].error


async def test_discovered_tools_run(tmp_path, monkeypatch):
    _install_dist_info(
        tmp_path, "demo-tools-two", {"shout": "demo_tools_two:Shout"}, {"demo_tools_two": PLUGIN_MODULE}
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    registry = ToolRegistry()
    registry.discover()
    assert await registry.run("shout", {"text": "hey"}) == ToolResult(content="HEY")


def test_the_sample_weather_plugin_is_found_through_its_entry_point(tmp_path, monkeypatch):
    entry = _entry_point_of_sample()
    _install_dist_info(tmp_path, "llamasys-weather", {"weather": entry}, {})
    shutil.copytree(WEATHER_PLUGIN / "llamasys_weather", tmp_path / "llamasys_weather")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "llamasys_weather", raising=False)
    registry = ToolRegistry()
    report = registry.discover()
    assert report.failures == []
    assert registry.names() == ["get_weather"]
    assert set(registry.get("get_weather").definition.parameters["properties"]) == {
        "location",
        "days",
        "units",
    }


def _entry_point_of_sample() -> str:
    import tomllib

    project = tomllib.loads((WEATHER_PLUGIN / "pyproject.toml").read_text())["project"]
    return project["entry-points"]["llamasys.tools"]["weather"]


def test_pip_installed_sample_plugin_is_discovered(tmp_path):
    """`pip install` the sample distribution (offline, no build isolation) into a target folder, then
    discover it in a fresh interpreter that has that folder on its path."""
    target = tmp_path / "site"
    source = tmp_path / "weather_plugin"  # pip builds in place: keep the repository's copy clean
    shutil.copytree(
        WEATHER_PLUGIN, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__")
    )
    install = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--target",
            str(target),
            str(source),
        ],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=tmp_path,
    )
    assert install.returncode == 0, install.stderr
    assert list(target.glob("llamasys_weather-0.1.0.dist-info/entry_points.txt"))
    probe = (
        "import json; from llamasys.tools import ToolRegistry\n"
        "r = ToolRegistry(); rep = r.discover()\n"
        "print(json.dumps({'names': r.names(), 'loaded': rep.loaded}))\n"
    )
    env = {"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 0, out.stderr
    found = json.loads(out.stdout.strip().splitlines()[-1])
    assert "get_weather" in found["names"]
    assert found["loaded"]["weather = llamasys_weather:WeatherTool"] == ["get_weather"]
