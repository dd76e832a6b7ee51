"""The skip rule itself: CI's true values, and no test that skips any way but through `support`."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest
from support import in_ci

TESTS = Path(__file__).resolve().parent
FORBIDDEN = {
    ("pytest", "skip"): "pytest.skip",
    ("pytest", "importorskip"): "pytest.importorskip",
    ("pytest", "mark", "skip"): "pytest.mark.skip",
    ("pytest", "mark", "skipif"): "pytest.mark.skipif",
}


@pytest.mark.parametrize("value", ["true", "TRUE", "True", "1", "yes", "YES", "Yes", " true "])
def test_true_values_of_ci(value: str) -> None:
    assert in_ci({"CI": value})


@pytest.mark.parametrize("value", ["", "false", "0", "no", "off", "2", "truthy", "y"])
def test_other_values_of_ci(value: str) -> None:
    assert not in_ci({"CI": value})
    assert not in_ci({})


def _dotted(node: ast.AST) -> tuple[str, ...]:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    return tuple(reversed(parts))


def skips_outside_support() -> list[str]:
    found = []
    for path in sorted(TESTS.rglob("*.py")):
        if path.name == "support.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and _dotted(node) in FORBIDDEN:
                found.append(f"{path.relative_to(TESTS)}:{node.lineno} {FORBIDDEN[_dotted(node)]}")
            if isinstance(node, ast.ImportFrom) and node.module == "pytest":
                names = {alias.name for alias in node.names}
                if names & {"skip", "importorskip"}:
                    found.append(f"{path.relative_to(TESTS)}:{node.lineno} from pytest import skip")
    return found


def test_every_skip_goes_through_support() -> None:
    """A skip that depends on the environment must fail in CI: `support.require_in_ci`,
    `support.import_or_require` or `support.postgres_url`, never pytest's own skip functions."""
    assert skips_outside_support() == []


def test_the_scan_finds_each_forbidden_form(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    planted = tmp_path / "test_planted.py"
    planted.write_text(
        "import pytest\nfrom pytest import importorskip\n"
        "@pytest.mark.skipif(True, reason='x')\ndef test_a():\n    pytest.skip('y')\n"
        "def test_b():\n    pytest.importorskip('z')\n",
        encoding="utf-8",
    )
    monkeypatch.setattr(sys.modules[__name__], "TESTS", tmp_path)
    assert [line.split(" ", 1)[1] for line in skips_outside_support()] == [
        "from pytest import skip",
        "pytest.mark.skipif",
        "pytest.skip",
        "pytest.importorskip",
    ]


@pytest.mark.parametrize(("ci", "outcome"), [("yes", "failed"), ("", "skipped")])
def test_require_in_ci_fails_in_ci_and_skips_elsewhere(tmp_path: Path, ci: str, outcome: str) -> None:
    (tmp_path / "test_probe.py").write_text(
        "from support import require_in_ci\n\ndef test_probe():\n    require_in_ci('no widget here')\n",
        encoding="utf-8",
    )
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rA", "-p", "no:cacheprovider", str(tmp_path)],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "CI": ci, "PYTHONPATH": str(TESTS)},
        cwd=tmp_path,
        timeout=120,
    )
    assert f"1 {outcome}" in done.stdout, done.stdout
    assert "no widget here" in done.stdout
