"""The import rules of docs/ARCHITECTURE.md, enforced on the source tree.

The graph is built from the modules' ``import`` statements (every one, including those
inside functions and ``TYPE_CHECKING`` blocks), so a rule cannot be dodged by a lazy import.
"""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx
import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("networks", "sim", "planner", "evplan")

#: The command line: planner.cli and the helper modules beside it (planner/cli_*.py).
CLI = ("planner.cli", "planner.cli_checks", "planner.cli_exits", "planner.cli_output")

#: importer prefix -> prefixes it must never import.
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "networks": ("sim", "planner", "evplan"),
    "sim": ("planner", "evplan"),
    "planner.siting": (
        "planner.study",
        "planner.report",
        "planner.batch",
        "planner.config",
        *CLI,
        "sim",
        "evplan",
    ),
    "planner.config": ("planner.study", "planner.report", "planner.batch", *CLI),
    "planner.study": ("planner.batch", *CLI, "evplan"),
    "planner.report": ("planner.batch", *CLI, "evplan"),
    "planner.batch": (*CLI, "evplan"),
}


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    out = {}
    for pkg in PACKAGES:
        base = ROOT / pkg
        if base.is_dir():
            for path in base.rglob("*.py"):
                out[_module_name(path)] = path
    return out


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    is_pkg = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".")
                base = base if is_pkg else base[:-1]
                base = base[: len(base) - (node.level - 1)]
                mod = ".".join([*base, node.module] if node.module else base)
            else:
                mod = node.module or ""
            # "from pkg import sub" imports the submodule pkg.sub (and runs pkg/__init__, which
            # cannot be avoided and is not counted); "from pkg import name" imports pkg.
            targets = [f"{mod}.{a.name}" if f"{mod}.{a.name}" in known else mod for a in node.names]
        for t in targets:
            # resolve to the longest known module prefix ("from planner.siting import MCLP"
            # -> planner.siting)
            parts = t.split(".")
            for k in range(len(parts), 0, -1):
                cand = ".".join(parts[:k])
                if cand in known:
                    found.add(cand)
                    break
    found.discard(name)
    return found


@pytest.fixture(scope="module")
def graph() -> nx.DiGraph:
    mods = _modules()
    g = nx.DiGraph()
    g.add_nodes_from(mods)
    for name, path in mods.items():
        for dep in _imports(name, path, set(mods)):
            g.add_edge(name, dep)
    return g


def _under(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


@pytest.mark.parametrize("importer", sorted(FORBIDDEN))
def test_import_rules(graph: nx.DiGraph, importer: str) -> None:
    bad = sorted(
        f"{a} -> {b}"
        for a, b in graph.edges
        if _under(a, importer) and any(_under(b, f) for f in FORBIDDEN[importer])
    )
    assert not bad, f"{importer} must not import {FORBIDDEN[importer]}:\n" + "\n".join(bad)


def test_no_import_cycles(graph: nx.DiGraph) -> None:
    # Package __init__ modules re-export their children; an edge child -> parent package is
    # the child importing a sibling through the package, which Python resolves without a
    # cycle only if the package does not import the child back, so it counts.
    cycles = list(nx.simple_cycles(graph))
    assert not cycles, f"{len(cycles)} import cycles, e.g. " + " -> ".join(min(cycles, key=len))


def test_the_rule_checker_sees_lazy_imports(tmp_path: Path) -> None:
    # A function-level import is an import: the checker must report it.
    src = tmp_path / "mod.py"
    src.write_text("def f():\n    from planner.study import run\n")
    assert _imports("sim.x", src, {"planner.study", "planner.study.run"}) == {"planner.study.run"}
