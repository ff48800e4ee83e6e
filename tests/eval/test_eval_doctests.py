"""The doctests in the eval modules (small pure functions: extraction, MRCR's ratio, bins)."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["common", "aa_lcr", "frames", "longbench_v2", "longreason", "mrcr", "paper", "runner", "summary",
           "truncate"]


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name):
    module = importlib.import_module(f"ltrl_cli.eval.{name}")
    result = doctest.testmod(module)
    assert result.failed == 0
