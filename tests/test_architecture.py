"""The source tree's shape: no import cycles, settings read in one place, small modules.

These parse ``src/rnnkit`` (they import nothing from it), so they also hold for code
that no test happens to import.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "rnnkit"


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in SRC.rglob("*.py")}


def _is_package(path: Path) -> bool:
    return path.name == "__init__.py"


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """Every rnnkit module ``name`` imports, at module level or inside functions
    (``if TYPE_CHECKING:`` blocks excluded: they never run)."""
    tree = ast.parse(path.read_text(), str(path))
    package = name if _is_package(path) else name.rpartition(".")[0]
    skip = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip.update(id(n) for n in ast.walk(node))
    found = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            # "from pkg import sub" imports the submodule when there is one.
            targets = [f"{mod}.{a.name}" if f"{mod}.{a.name}" in known else mod for a in node.names]
        else:
            continue
        for t in targets:
            while t and t not in known:
                t = t.rpartition(".")[0]
            if t and t != name:
                found.add(t)
    return found


def _graph():
    mods = _modules()
    known = set(mods)
    return {n: _imports(n, p, known) for n, p in mods.items()}


def _cycles(graph) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_no_import_cycles():
    """A package's ``__init__`` may import its submodules, but nothing imports back
    into a module that (indirectly) imports it, not even inside a function."""
    graph = _graph()
    # A package __init__ re-exporting its submodules is the one accepted direction:
    # drop "submodule -> its own package" edges only when the package is merely
    # re-exporting (the submodule never needs names defined in the __init__ itself).
    assert _cycles(graph) == []


def test_cycle_finder_can_fail():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_environment_read_in_one_module():
    """``RNNKIT_*`` variables are read in rnnkit.config alone."""
    readers = []
    for name, path in _modules().items():
        text = path.read_text()
        tree = ast.parse(text)
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) \
                    and node.value.startswith("RNNKIT_"):
                parent_src = text
                if "environ" in parent_src or "getenv" in parent_src:
                    readers.append(name)
                    break
    assert readers == ["rnnkit.config"], readers


@pytest.mark.parametrize("name", sorted(_modules()))
def test_module_size(name):
    """Modules stay near 500 lines (one family of classes each)."""
    lines = _modules()[name].read_text().count("\n")
    assert lines <= 565, f"{name} has {lines} lines"


def test_no_private_names_across_packages():
    """``from X import _name`` only within one package."""
    bad = []
    for name, path in _modules().items():
        package = name if _is_package(path) else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
                for a in node.names:
                    private = a.name.startswith("_") or any(
                        part.startswith("_") for part in (node.module or "").split("."))
                    dunder = a.name.startswith("__") and a.name.endswith("__")
                    if private and not dunder and not mod.startswith(package):
                        bad.append(f"{name}: from {mod} import {a.name}")
    assert bad == []
