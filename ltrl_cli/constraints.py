"""constraints.txt: the exact versions `make demo` and `make test` install, and its check.

    python -m ltrl_cli.constraints freeze > constraints.txt   # what `make constraints` runs
    python -m ltrl_cli.constraints check [--extras index,train,stats,dev]

`freeze` pins every distribution installed beside ltrl (what `pip freeze --all` lists,
less ltrl itself; pip is pinned in the Makefile). A local build label is dropped
(`torch==2.13.0+cpu` is pinned as `torch==2.13.0`, which pip satisfies with the CPU build
where one lies on disk and GPU users replace, see the README).

`check` walks the requirements of ltrl with the given extras (read from pyproject.toml)
through the installed distributions' own requirements, and reports each distribution it
reaches that constraints.txt does not pin, or pins at another version than the one
installed: a dependency that `pip install -c constraints.txt` would have resolved freely.
The test suite runs it (tests/test_constraints.py), so `make test` and CI fail on it.
"""

from __future__ import annotations

import argparse
import importlib.metadata as metadata
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Iterable, Mapping

ROOT = Path(__file__).resolve().parent.parent
CONSTRAINTS = ROOT / "constraints.txt"
NOT_PINNED = {"ltrl", "pip"}  # ltrl is what is installed; pip is pinned in the Makefile
# What a CUDA build of torch brings with it: a GPU user's own stack (README), not pinned here.
GPU_STACK = ("nvidia-", "triton", "cuda-")
HEADER = """\
# The versions `make demo` and `make test` install (pip -c), as tested: every distribution
# of the development environment. Refresh with `make constraints` after an upgrade has
# passed `make test`; the test suite checks that nothing ltrl resolves to is left unpinned.
# GPU users replace the torch line with their CUDA build (README, "Set-up").
"""


def canonical(name: str) -> str:
    """PEP 503 normal form: `PyYAML` and `pyyaml`, `typing_extensions` and `typing-extensions` agree."""
    return re.sub(r"[-_.]+", "-", name).lower()


def public(version: str) -> str:
    """A version without its local label: 2.13.0+cpu -> 2.13.0."""
    return version.split("+", 1)[0]


def freeze_lines(frozen: Iterable[str]) -> list[str]:
    """Pins from `pip freeze` output: editable and ltrl lines dropped, local labels too."""
    pins = {}
    for line in frozen:
        line = line.strip()
        if not line or line.startswith(("#", "-e")) or "==" not in line:
            continue
        name, version = line.split("==", 1)
        if canonical(name) not in NOT_PINNED:
            pins[canonical(name)] = f"{name}=={public(version.strip())}"
    return [pins[name] for name in sorted(pins)]


def read_pins(path: Path = CONSTRAINTS) -> dict[str, str]:
    """{canonical name: version} of the `name==version` lines of a constraints file."""
    pins = {}
    for number, raw in enumerate(path.read_text().splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if "==" not in line:
            raise ValueError(f"{path.name}: line {number}: expected NAME==VERSION, got {line!r}")
        name, version = line.split("==", 1)
        pins[canonical(name)] = version.strip()
    return pins


def root_requirements(extras: Iterable[str], pyproject: Path = ROOT / "pyproject.toml") -> list[str]:
    """ltrl's own requirements with the given extras, as written in pyproject.toml."""
    project = tomllib.loads(pyproject.read_text())["project"]
    optional = project.get("optional-dependencies", {})
    unknown = [extra for extra in extras if extra not in optional]
    if unknown:
        raise ValueError(f"pyproject.toml has no extra {', '.join(unknown)}")
    return list(project.get("dependencies", [])) + [req for extra in extras for req in optional[extra]]


def reached(requirements: Iterable[str], installed: Mapping[str, tuple[str, list[str]]]) -> dict[str, str]:
    """{canonical name: installed version} of every installed distribution the requirements reach.

    `installed` maps a canonical name to (version, its Requires-Dist lines). A requirement
    whose marker excludes this interpreter, or an extra nobody asked for, is not followed;
    one that is not installed is not followed either (an extra left out of this environment).
    """
    from packaging.requirements import Requirement

    found: dict[str, str] = {}
    asked: set[tuple[str, str]] = set()
    todo = [(Requirement(text), "") for text in requirements]
    while todo:
        requirement, extra = todo.pop()
        if requirement.marker and not requirement.marker.evaluate({"extra": extra}):
            continue
        name = canonical(requirement.name)
        if name not in installed:
            continue
        version, requires = installed[name]
        found[name] = version
        for wanted in ("", *sorted(requirement.extras)):
            if (name, wanted) in asked:
                continue
            asked.add((name, wanted))
            todo += [(Requirement(text), wanted) for text in requires]
    return found


def problems(found: Mapping[str, str], pins: Mapping[str, str]) -> list[str]:
    """One line for each reached distribution that is unpinned or pinned at another version."""
    out = []
    for name, version in sorted(found.items()):
        if name in NOT_PINNED or name.startswith(GPU_STACK):
            continue
        if name not in pins:
            out.append(f"{name} {version} is installed and required, but constraints.txt does not pin it")
        elif pins[name] != public(version):
            out.append(f"{name} is installed at {version}, but constraints.txt pins {pins[name]}")
    return out


def installed_distributions() -> dict[str, tuple[str, list[str]]]:
    return {canonical(dist.metadata["Name"]): (dist.version, list(dist.requires or []))
            for dist in metadata.distributions()}


def check(extras: Iterable[str], path: Path = CONSTRAINTS) -> list[str]:
    return problems(reached(root_requirements(extras), installed_distributions()), read_pins(path))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ltrl_cli.constraints", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="action", required=True)
    sub.add_parser("freeze", help="print constraints.txt for this environment")
    checking = sub.add_parser("check", help="is every distribution ltrl[EXTRAS] reaches pinned, as installed?")
    checking.add_argument("--extras", default="index,train,stats,dev", help="comma-separated, as in the Makefile")
    checking.add_argument("--constraints", type=Path, default=CONSTRAINTS)
    args = parser.parse_args(argv)
    if args.action == "freeze":
        frozen = subprocess.run([sys.executable, "-m", "pip", "freeze", "--all", "--exclude-editable"], check=True,
                                capture_output=True, text=True).stdout
        sys.stdout.write(HEADER + "\n".join(freeze_lines(frozen.splitlines())) + "\n")
        return 0
    found = check([e for e in args.extras.split(",") if e], args.constraints)
    for line in found:
        print(f"constraints: {line}", file=sys.stderr)
    if found:
        print("constraints: refresh the file with `make constraints` (after `make test` passes)", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
