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
