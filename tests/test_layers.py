"""The import graph of ltrl_cli: layers one way, no circles (read statically with ast).

Layers, top to bottom (a module may import its own layer and the ones below):

    4  commands/, app, cli, __main__,            the command line, and the developer tools
       manpages, constraints
    3  stages/, report/                          one stage per command, over the domain; the
                                                 HTML report, which reads what they write
    2  agent/, synth/, reward/, grpo/, eval/,    the method's domains
       context/, corpus
    1  backends/, llm/                           indexes, pages, tokenizers, model clients
    0  io, errors, records, schema, stats,       the ground floor
       console, think, keyenv, concurrency, lru, provenance, signals,
       the package

Imports inside functions count like the others: a lazy import is still a dependency.
Exceptions are listed in ALLOWED with the reason; one that no longer happens fails too,
so the list only shrinks.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from functools import cache
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "ltrl_cli"

# Module-name prefixes and their layer; the longest prefix that matches wins.
LAYERS = {
    "ltrl_cli.commands": 4, "ltrl_cli.app": 4, "ltrl_cli.cli": 4, "ltrl_cli.__main__": 4,
    "ltrl_cli.manpages": 4, "ltrl_cli.constraints": 4,  # developer tools: `python -m ltrl_cli.X`
    "ltrl_cli.stages": 3, "ltrl_cli.report": 3,
    "ltrl_cli.agent": 2, "ltrl_cli.synth": 2, "ltrl_cli.reward": 2, "ltrl_cli.grpo": 2, "ltrl_cli.eval": 2,
    "ltrl_cli.context": 2, "ltrl_cli.corpus": 2,
    "ltrl_cli.backends": 1, "ltrl_cli.llm": 1,
    "ltrl_cli": 0, "ltrl_cli.io": 0, "ltrl_cli.errors": 0, "ltrl_cli.records": 0, "ltrl_cli.console": 0,
    "ltrl_cli.concurrency": 0, "ltrl_cli.lru": 0, "ltrl_cli.think": 0, "ltrl_cli.keyenv": 0,
    "ltrl_cli.schema": 0, "ltrl_cli.stats": 0, "ltrl_cli.signals": 0, "ltrl_cli.provenance": 0,
}

# Layers whose modules stand alone: one stage never imports another.
NO_PEER_IMPORTS = ("ltrl_cli.stages",)

# (importer, imported) -> why the import is allowed although it breaks a rule above.
ALLOWED: dict[tuple[str, str], str] = {}

# Third-party packages that must not load on a training rank (they are the command line's).
CLI_ONLY = ("typer", "click")


@cache
def modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _owner(name: str) -> str | None:
    """The ltrl_cli module `name` lives in (`ltrl_cli.io.stdin_records` -> `ltrl_cli.io`)."""
    while name and name not in modules():
        name = name.rpartition(".")[0]
    return name or None


def parse_imports(text: str, module: str, is_package: bool = False) -> tuple[set[str], set[str]]:
    """(ltrl_cli modules, top-level third-party names) that the source of `module` imports
    anywhere in it, inside functions too."""
    package = module if is_package else module.rpartition(".")[0]
    ours, theirs = set(), set()
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                stem = ".".join(base + ([node.module] if node.module else []))
            else:
                stem = node.module or ""
            # `from pkg import sub` imports the submodule; `from mod import name` the module.
            names = [f"{stem}.{alias.name}" if f"{stem}.{alias.name}" in modules() else stem for alias in node.names]
        else:
            continue
        for name in names:
            if name == "ltrl_cli" or name.startswith("ltrl_cli."):
                target = _owner(name)
                if target and target != module:
                    ours.add(target)
            else:
                theirs.add(name.split(".")[0])
    return ours, theirs


@cache
def imports(module: str) -> tuple[frozenset[str], frozenset[str]]:
    path = modules()[module]
    ours, theirs = parse_imports(path.read_text(encoding="utf-8"), module, path.name == "__init__.py")
    return frozenset(ours), frozenset(theirs)


def layer(module: str) -> int:
    # "ltrl_cli" is the package's own __init__ only: a new top-level module needs its own line.
    prefix = max((p for p in LAYERS if module == p or p != "ltrl_cli" and module.startswith(p + ".")), key=len,
                 default=None)
    assert prefix is not None, f"{module} has no layer: add it to LAYERS in {Path(__file__).name}"
    return LAYERS[prefix]


def _unit(module: str) -> str:
    """The package a module belongs to (ltrl_cli.llm.hf -> ltrl_cli.llm); a top-level module is its own."""
    return ".".join(module.split(".")[:2])


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one node (Tarjan), each sorted."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def _edges() -> dict[str, set[str]]:
    return {m: set(imports(m)[0]) for m in modules()}


def test_every_module_has_a_layer():
    for module in modules():
        layer(module)


def test_no_import_runs_up_a_layer_or_across_stages():
    bad = []
    for module, targets in _edges().items():
        for target in sorted(targets):
            if (module, target) in ALLOWED or target == "ltrl_cli" or module.startswith(target + "."):
                continue  # the package's own __init__ (its version, its docstring) is ground floor for all
            if layer(target) > layer(module):
                bad.append(f"{module} (layer {layer(module)}) imports {target} (layer {layer(target)})")
            peers = [p for p in NO_PEER_IMPORTS if module.startswith(p + ".") and target.startswith(p + ".")]
            if peers:
                bad.append(f"{module} imports {target}: one stage does not import another")
    assert not bad, "imports against the layering:\n" + "\n".join(bad)


def test_allowed_exceptions_still_happen():
    edges = _edges()
    stale = [f"{a} -> {b}" for a, b in ALLOWED if b not in edges.get(a, set())]
    assert not stale, "ALLOWED lists imports that no longer happen; remove them: " + ", ".join(stale)


def test_no_circles_between_modules():
    cycles = _cycles({m: {t for t in ts if t != "ltrl_cli"} for m, ts in _edges().items()})
    assert not cycles, "import circles: " + "; ".join(" <-> ".join(c) for c in cycles)


def test_no_circles_between_packages():
    graph: dict[str, set[str]] = {}
    for module, targets in _edges().items():
        source = _unit(module)
        graph.setdefault(source, set()).update(_unit(t) for t in targets if t != "ltrl_cli" and _unit(t) != source)
    cycles = _cycles(graph)
    assert not cycles, "import circles between packages: " + "; ".join(" <-> ".join(c) for c in cycles)


def _reachable(start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        module = todo.pop()
        if module not in seen:
            seen.add(module)
            todo.extend(imports(module)[0])
    return seen


def test_training_ranks_do_not_import_the_command_line():
    """Nothing the GRPO recipe can reach, even through a lazy import, needs typer."""
    reach = _reachable("ltrl_cli.grpo.recipe")
    assert not any(m.startswith("ltrl_cli.commands") or m in ("ltrl_cli.app", "ltrl_cli.cli") for m in reach)
    bad = sorted(f"{m} imports {lib}" for m in reach for lib in imports(m)[1] if lib in CLI_ONLY)
    assert not bad, bad


def test_importing_the_recipe_and_the_model_clients_loads_no_typer():
    code = ("import sys, ltrl_cli.grpo.recipe, ltrl_cli.grpo.launch, ltrl_cli.llm.factory, ltrl_cli.llm.hf, "
            "ltrl_cli.llm.vllm; print(sorted(m for m in ('typer', 'click') if m in sys.modules))")
    env = {**os.environ, "PYTHONPATH": str(PACKAGE.parent)}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_the_checker_sees_circles_and_every_kind_of_import():
    # The rules above are only as good as the graph: check it on code written here.
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    source = ("import typer\nfrom ltrl_cli import console\nfrom ltrl_cli.io import stdin_records\n"
              "def f():\n    from . import base\n    from ..errors import UsageError\n    import ltrl_cli.lru\n")
    ours, theirs = parse_imports(source, "ltrl_cli.llm.x")
    assert ours == {"ltrl_cli.console", "ltrl_cli.io", "ltrl_cli.llm.base", "ltrl_cli.errors", "ltrl_cli.lru"}
    assert theirs == {"typer"}
    assert parse_imports("from . import text\n", "ltrl_cli.llm", is_package=True)[0] == {"ltrl_cli.llm.text"}
