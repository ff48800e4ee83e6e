"""constraints.txt pins every distribution ltrl resolves to, at the version installed (CI runs this)."""

from __future__ import annotations

import re

import pytest

from ltrl_cli import constraints as C
from tests.conftest import ROOT

pytest.importorskip("packaging", reason="the requirement parser pip and pytest use")


def _makefile_extras() -> list[str]:
    match = re.search(r"^EXTRAS \?= (\S+)$", (ROOT / "Makefile").read_text(), re.MULTILINE)
    assert match, "the Makefile sets EXTRAS"
    return match.group(1).split(",")


def test_every_distribution_ltrl_resolves_to_is_pinned_at_its_installed_version():
    problems = C.check(_makefile_extras())
    assert not problems, "\n".join(problems + ["refresh with `make constraints` once `make test` passes"])


def test_torch_is_pinned_without_a_build_label_and_pip_in_the_makefile():
    pins = C.read_pins()
    assert pins["torch"] == "2.13.0"  # the CPU file on these machines satisfies it; GPU users swap (README)
    assert "ltrl" not in pins and "pip" not in pins
    assert re.search(r"^PIP_VERSION := \d+(\.\d+)+$", (ROOT / "Makefile").read_text(), re.MULTILINE)


INSTALLED = {
    "ltrl": ("0.1.0", []),
    "a": ("1.0", ["b>=2", "c; extra == 'fast'", "d; python_version < '3'"]),
    "b": ("2.1+local", ["nvidia-cublas"]),
    "c": ("3.0", []),
    "d": ("4.0", []),
    "nvidia-cublas": ("12.0", []),
    "unrelated": ("9.9", []),
}


def test_the_check_follows_requirements_and_reports_what_is_unpinned_or_other():
    assert C.reached(["a"], INSTALLED) == {"a": "1.0", "b": "2.1+local", "nvidia-cublas": "12.0"}
    assert set(C.reached(["a[fast]"], INSTALLED)) >= {"a", "b", "c"}  # an extra asked for is followed
    assert "d" not in C.reached(["a[fast]"], INSTALLED)  # a marker that excludes this interpreter is not
    # a build label is not a version, and a CUDA torch's own stack is the GPU user's
    assert C.problems(C.reached(["a[fast]"], INSTALLED), {"a": "1.0", "b": "2.1", "c": "3.0"}) == []
    assert C.problems({"a": "1.0", "b": "2.1+local", "c": "3.0"}, {"a": "1.1", "b": "2.1"}) == [
        "a is installed at 1.0, but constraints.txt pins 1.1",
        "c 3.0 is installed and required, but constraints.txt does not pin it"]


def test_freeze_drops_ltrl_editable_lines_and_build_labels():
    frozen = ["# Editable install (ltrl==0.1.0)", "-e /work/main", "PyYAML==6.0.4", "torch==2.13.0+cpu",
              "pip==26.3", "ltrl @ file:///x", "typing_extensions==4.16.0"]
    assert C.freeze_lines(frozen) == ["PyYAML==6.0.4", "torch==2.13.0", "typing_extensions==4.16.0"]
