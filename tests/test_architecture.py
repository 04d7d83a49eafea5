"""The package's shape: layers hold, the import graph has no circle, modules stay readable."""

from __future__ import annotations

import ast
from pathlib import Path

import macroinfra

PACKAGE = Path(macroinfra.__file__).parent
MAX_LINES = 400
# A module over MAX_LINES says why in its docstring, with this phrase.
SIZE_NOTE = "size is earned"


def _modules() -> dict[str, Path]:
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        modules[name] = path
    return modules


def _imports(path: Path, module: str, known: set[str]) -> set[str]:
    """The package modules `module` imports anywhere (inside functions too), except imports
    that only type checkers see."""
    tree = ast.parse(path.read_text())
    is_package = path.name == "__init__.py"
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                continue
            if isinstance(child, ast.Import):
                found.update(a.name for a in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    anchor = module.split(".")
                    anchor = anchor if is_package else anchor[:-1]
                    anchor = anchor[: len(anchor) - child.level + 1]
                    base = ".".join([*anchor, base] if base else anchor)
                found.add(base)
                found.update(f"{base}.{a.name}" for a in child.names)
            visit(child)

    visit(tree)
    return {_owner(name, known) for name in found if _owner(name, known)} - {module}


def _owner(name: str, known: set[str]) -> str | None:
    while name:
        if name in known:
            return name
        name = name.rpartition(".")[0]
    return None


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    graph = {m: _imports(p, m, known) for m, p in modules.items()}
    # Importing a.b.c runs a/__init__ and a/b/__init__ first: not an edge of our making.
    return {m: {d for d in deps if not m.startswith(d + ".")} for m, deps in graph.items()}


def test_the_import_graph_has_no_circle():
    graph = _graph()
    state: dict[str, int] = {}
    path: list[str] = []

    def walk(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for dep in sorted(graph[node]):
            if state.get(dep) == 1:
                return [*path[path.index(dep) :], dep]
            if dep not in state and (circle := walk(dep)):
                return circle
        state[node] = 2
        path.pop()
        return None

    for module in sorted(graph):
        if module not in state:
            circle = walk(module)
            assert circle is None, " -> ".join(circle)


def test_the_library_never_imports_the_command_line():
    for module, deps in _graph().items():
        if not module.startswith("macroinfra.cli"):
            assert not any(d.startswith("macroinfra.cli") for d in deps), module
    for module, path in _modules().items():
        if module.startswith("macroinfra.cli"):
            continue
        text = path.read_text()
        for name in ("typer", "rich"):
            assert f"import {name}" not in text and f"from {name}" not in text, (module, name)


def test_no_module_is_over_the_size_limit_without_saying_why():
    for module, path in _modules().items():
        text = path.read_text()
        lines = text.count("\n")
        docstring = ast.get_docstring(ast.parse(text)) or ""
        assert lines <= MAX_LINES or SIZE_NOTE in docstring, f"{module}: {lines} lines"


def test_the_checks_see_a_circle_when_there_is_one(tmp_path):
    # The graph walk itself: two modules importing each other are found.
    known = {"macroinfra.a", "macroinfra.b"}
    a = tmp_path / "a.py"
    a.write_text("def f():\n    from macroinfra import b\n")
    b = tmp_path / "b.py"
    b.write_text(
        "from typing import TYPE_CHECKING\nimport macroinfra.a\n"
        "if TYPE_CHECKING:\n    import macroinfra.c\n"
    )
    assert _imports(a, "macroinfra.a", known) == {"macroinfra.b"}
    assert _imports(b, "macroinfra.b", known) == {"macroinfra.a"}
