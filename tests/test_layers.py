"""Imports go one way (docs: /work/shared/DESIGN.md): no cycle among pipeline's modules, none among its
packages (pipeline.<name>, a folder or a top-level module), and the lower layer of each pair in LOWER never
imports the higher one. Every import counts, function-level ones included: a lazy import is still a dependency.
"""

from __future__ import annotations

import ast
from pathlib import Path

from pipeline.wiring import ROOT, module_file

# (lower, higher, why): the lower one never imports the higher one, directly or through another package.
LOWER = [
    ("pipeline.models", "pipeline.export", "export converts models; the families name their converters"),
    ("pipeline.variants", "pipeline.export", "every layer names variants"),
]


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """The project modules a file imports (`from m import f` -> m, `from p import sub` -> p.sub: a package's
    __init__ runs first, but importing a submodule does not depend on it)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:  # the project uses absolute imports only
            names.update(f"{node.module}.{a.name}" if module_file(f"{node.module}.{a.name}") else node.module
                         for a in node.names)
    return {n for n in names if n.startswith("pipeline.") and module_file(n) not in (None, path)}


GRAPH = {module_name(p): imports_of(p) for p in sorted((ROOT / "pipeline").rglob("*.py"))}


def package(module: str) -> str:
    return ".".join(module.split(".")[:2])


def package_edges() -> dict[str, dict[str, list[str]]]:
    """package -> imported package -> the `a -> b` module imports that make the edge."""
    edges: dict[str, dict[str, list[str]]] = {}
    for m, targets in GRAPH.items():
        for t in sorted(targets):
            if package(m) != package(t) and package(t) != "pipeline":
                edges.setdefault(package(m), {}).setdefault(package(t), []).append(f"{m} -> {t}")
    return edges


def find_cycle(edges: dict[str, set[str] | dict]) -> list[str] | None:
    """One cycle as [a, b, ..., a], or None."""
    done: set[str] = set()
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        if node in path:
            return path[path.index(node):] + [node]
        if node in done:
            return None
        path.append(node)
        for nxt in sorted(edges.get(node, ())):
            cycle = visit(nxt)
            if cycle:
                return cycle
        path.pop()
        done.add(node)
        return None

    for start in sorted(edges):
        cycle = visit(start)
        if cycle:
            return cycle
    return None


def reaches(edges: dict, start: str, goal: str) -> list[str] | None:
    """A path start -> ... -> goal, or None."""
    todo, came = [start], {start: None}
    while todo:
        node = todo.pop()
        if node == goal:
            path = [node]
            while came[path[-1]] is not None:
                path.append(came[path[-1]])
            return path[::-1]
        for nxt in sorted(edges.get(node, ())):
            if nxt not in came:
                came[nxt] = node
                todo.append(nxt)
    return None


def test_no_import_cycle_among_modules():
    cycle = find_cycle(GRAPH)
    assert cycle is None, f"import cycle: {' -> '.join(cycle)}: move what both need into a module both import"


def test_no_import_cycle_among_packages():
    edges = package_edges()
    cycle = find_cycle(edges)
    assert cycle is None, (f"package cycle: {' -> '.join(cycle)}, through "
                           f"{[i for a, b in zip(cycle, cycle[1:]) for i in edges[a][b]]}")


def test_lower_layers_never_import_higher_ones():
    edges = package_edges()
    for lower, higher, why in LOWER:
        path = reaches(edges, lower, higher)
        assert path is None, (f"{lower} depends on {higher} ({' -> '.join(path)}, first through "
                              f"{edges[path[0]][path[1]]}); it must not: {why}")


def test_only_the_entry_point_runs_stages():
    importers = sorted(m for m, targets in GRAPH.items() if not m.startswith("pipeline.stages")
                       and any(t.startswith("pipeline.stages") for t in targets))
    assert not importers, f"libraries never import stages: {importers}"
