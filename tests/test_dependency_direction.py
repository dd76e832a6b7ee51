"""The dependency direction, read from the source: apps -> agentic -> safety -> core_model,
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
    assert not illegal, (
        f"{path.relative_to(ROOT)} ({package}) imports {sorted(illegal)}; see the README's Layout section"
    )


def test_checker_catches_an_upward_import(tmp_path: Path) -> None:
    module = ROOT / "core_model" / "_probe_upward.py"
    module.write_text("from llamasys.agentic import Agent\nimport tools\n")
    try:
        assert imported_packages(module) == {"agentic", "<bare import of tools: use llamasys.tools>"}
    finally:
        module.unlink()


# Import cycles between modules ----------------------------------------------------------------------


def module_name(path: Path) -> str:
    """`core_model/chat/format.py` -> `llamasys.core_model.chat.format` (a package is its __init__)."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(["llamasys", *parts])


def _is_type_checking_block(node: ast.AST) -> bool:
    test = getattr(node, "test", None)
    return isinstance(node, ast.If) and (
        (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING")
        or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")
    )


def _import_nodes(tree: ast.AST):
    """Every import statement, top-level or inside functions, except those under `if TYPE_CHECKING:`."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if _is_type_checking_block(node):
            stack.extend(node.orelse)
            continue
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        stack.extend(ast.iter_child_nodes(node))


def import_graph(paths: list[Path]) -> dict[str, set[str]]:
    """module -> the llamasys modules it imports (a `from package import submodule` names the submodule).
    Importing a submodule also runs its parent packages' __init__, but that edge is Python's, not ours:
    only the modules named in import statements count."""
    modules = {module_name(p): p for p in paths}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        package = name if is_package else name.rpartition(".")[0]
        edges: set[str] = set()
        for node in _import_nodes(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")
                    anchor = anchor[: len(anchor) - (node.level - 1)]
                    base = ".".join(anchor + ([base] if base else []))
                targets = [
                    f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                    for alias in node.names
                ]
            edges |= {t for t in targets if t in modules and t != name}
        graph[name] = edges
    return graph


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each as a sorted list."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    cycles: list[list[str]] = []
    counter = 0

    def visit(v: str) -> None:
        nonlocal counter
        index[v] = low[v] = counter
        counter += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return cycles


def test_no_import_cycles_between_modules() -> None:
    cycles = import_cycles(import_graph(all_modules()))
    assert not cycles, "modules that import each other (function-level imports count too):\n" + "\n".join(
        " <-> ".join(c) for c in cycles
    )


def test_cycle_checker_sees_function_level_imports(tmp_path: Path) -> None:
    a = ROOT / "core_model" / "_probe_cycle_a.py"
    b = ROOT / "core_model" / "_probe_cycle_b.py"
    a.write_text("from llamasys.core_model import _probe_cycle_b\n")
    b.write_text("def f():\n    from llamasys.core_model._probe_cycle_a import x\n")
    try:
        graph = import_graph([a, b])
        assert import_cycles(graph) == [
            ["llamasys.core_model._probe_cycle_a", "llamasys.core_model._probe_cycle_b"]
        ]
    finally:
        a.unlink()
        b.unlink()
