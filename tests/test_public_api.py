"""Each package's front door: its `__init__` names the public API in `__all__`, every name there imports, and
every `from llamasys... import ...` line in the README imports from where the README says."""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FRONT_DOORS = [
    "llamasys.core_model",
    "llamasys.core_model.chat",
    "llamasys.core_model.checkpoints",
    "llamasys.core_model.tokenizers",
    "llamasys.tools",
    "llamasys.tools.memory",
    "llamasys.safety",
    "llamasys.agentic",
]


@pytest.mark.parametrize("package", FRONT_DOORS)
def test_front_door_names_its_public_api(package: str) -> None:
    module = importlib.import_module(package)
    names = getattr(module, "__all__", None)
    assert names, f"{package}/__init__.py has no __all__ naming its public API"
    missing = [name for name in names if not hasattr(module, name)]
    assert not missing, f"{package}.__all__ names {missing}, which do not import"


def readme_imports() -> list[tuple[str, str]]:
    """(module, name) for every `from llamasys.X import a, b` inside the README's python code blocks."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    found = []
    for block in re.findall(r"```python\n(.*?)```", text, flags=re.S):
        for node in ast.walk(ast.parse(block)):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("llamasys"):
                found += [(node.module, alias.name) for alias in node.names]
    return found


def test_readme_has_imports_to_check() -> None:
    assert len(readme_imports()) >= 5


@pytest.mark.parametrize("module,name", readme_imports(), ids=lambda v: v)
def test_readme_import_resolves(module: str, name: str) -> None:
    imported = importlib.import_module(module)
    assert hasattr(imported, name) or importlib.util.find_spec(f"{module}.{name}") is not None, (
        f"the README imports {name} from {module}, which has no such name"
    )
