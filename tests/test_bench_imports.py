"""The benchmarks under bench/ are run by hand, so nothing else notices when a name they import from ltrl moves.

This reads each script's imports (inside functions too) and checks that every name taken
from an `ltrl_cli` module still exists there: `make bench` once lost a row to an import
of a constant that the redesign had moved.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = sorted((ROOT / "bench").glob("*.py"))


def ltrl_imports(path: Path) -> list[tuple[str, str, int]]:
    """(module, name, line) of every `from ltrl_cli... import name` in the file."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "ltrl_cli":
            found += [(node.module, alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.Import):
            found += [(alias.name, "", node.lineno) for alias in node.names if alias.name.split(".")[0] == "ltrl_cli"]
    return found


def test_the_benchmarks_import_something_from_ltrl():
    assert sum(len(ltrl_imports(path)) for path in SCRIPTS) > 20


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: p.name)
def test_every_name_a_benchmark_imports_from_ltrl_exists(path):
    missing = []
    for module, name, line in ltrl_imports(path):
        try:
            imported = importlib.import_module(module)
        except ImportError as exc:
            missing.append(f"line {line}: {module}: {exc}")
            continue
        if name and not hasattr(imported, name):
            try:
                importlib.import_module(f"{module}.{name}")  # a submodule
            except ImportError:
                missing.append(f"line {line}: {module} has no {name}")
    assert not missing, f"{path.name}: " + "; ".join(missing)


def bench_imports(path: Path) -> set[str]:
    """The bench/ modules a script imports (`bench.X`), inside functions too."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        names = [node.module] if isinstance(node, ast.ImportFrom) and node.module else \
            [a.name for a in node.names] if isinstance(node, ast.Import) else []
        found |= {n.split(".")[1] for n in names if n.startswith("bench.")}
    return found


def test_no_benchmark_imports_in_a_circle():
    # bench_walk once imported peers.py, which imported bench_walk: the shared helpers live in
    # bench/common.py now, and the row modules import it, never peers.py.
    graph = {path.stem: bench_imports(path) for path in SCRIPTS}

    def reaches(start: str, goal: str, seen: frozenset = frozenset()) -> bool:
        return any(n == goal or (n not in seen and reaches(n, goal, seen | {n})) for n in graph.get(start, ()))

    circles = sorted(name for name in graph if reaches(name, name))
    assert not circles, f"bench modules in an import circle: {circles}"
    assert not any("peers" in imported for name, imported in graph.items() if name != "peers")
