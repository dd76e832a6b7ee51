"""DESIGN.md's dependency direction, read from the source: apps -> agentic -> safety -> core_model,
agentic -> tools -> core_model, and nothing upward. A new import that breaks it fails here."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ["core_model", "tools", "safety", "agentic", "apps"]

# What each package may import of ours (besides itself).
ALLOWED = {
    "core_model": set(),
    "tools": {"core_model"},
    "safety": {"core_model"},
    "agentic": {"safety", "tools", "core_model"},
    "apps": {"agentic", "safety", "tools", "core_model"},
}


def imported_packages(path: Path) -> set[str]:
    """The llamasys packages a module imports, absolute or relative."""
    package = path.relative_to(ROOT).parts[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative imports stay inside the package unless they climb out of it
                depth = len(path.relative_to(ROOT / package).parts) - 1
                if node.level > depth + 1:
                    found.add("<relative import above the package>")
                continue
            names = [node.module or ""]
        for name in names:
            parts = name.split(".")
            if parts[0] == "llamasys" and len(parts) > 1:
                found.add(parts[1])
            elif parts[0] in PACKAGES:
                found.add(f"<bare import of {parts[0]}: use llamasys.{parts[0]}>")
    return found - {package}


def all_modules() -> list[Path]:
    return sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py") if ".venv" not in p.parts)


@pytest.mark.parametrize("path", all_modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_module_respects_dependency_direction(path: Path) -> None:
    package = path.relative_to(ROOT).parts[0]
    illegal = imported_packages(path) - ALLOWED[package]
    assert not illegal, f"{path.relative_to(ROOT)} ({package}) imports {sorted(illegal)}; see DESIGN.md"


def test_checker_catches_an_upward_import(tmp_path: Path) -> None:
    module = ROOT / "core_model" / "_probe_upward.py"
    module.write_text("from llamasys.agentic import Agent\nimport tools\n")
    try:
        assert imported_packages(module) == {"agentic", "<bare import of tools: use llamasys.tools>"}
    finally:
        module.unlink()
