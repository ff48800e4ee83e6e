"""Every command has help with an example, man pages and docs are current, --help is light."""

from __future__ import annotations

import subprocess
import sys

import pytest
import typer
from typer.testing import CliRunner

from ltrl_cli.cli import app
from ltrl_cli.manpages import cli_reference, command_paths, generate
from tests.conftest import ROOT

PATHS = command_paths(typer.main.get_command(app))
runner = CliRunner()


def test_there_are_commands():
    assert PATHS, "no commands registered"


@pytest.mark.parametrize("path", PATHS, ids=[" ".join(p) for p in PATHS])
def test_help_exits_0_and_shows_an_example(path):
    result = runner.invoke(app, [*path, "--help"], prog_name="ltrl")
    assert result.exit_code == 0, result.output
    assert "Example" in result.stdout, f"ltrl {' '.join(path)} --help has no Example"


def test_top_level_help_shows_a_pipeline():
    result = runner.invoke(app, ["--help"], prog_name="ltrl")
    assert result.exit_code == 0
    assert "ltrl walk" in result.stdout and "|" in result.stdout


def test_unknown_option_is_a_usage_error():
    result = runner.invoke(app, [PATHS[0][0], "--no-such-option"], prog_name="ltrl")
    assert result.exit_code == 2


def test_man_pages_are_current():
    pages = generate()
    committed = {p.name: p.read_text() for p in (ROOT / "man").glob("ltrl*.1")}
    stale = sorted(name for name in pages.keys() | committed.keys() if pages.get(name) != committed.get(name))
    assert not stale, f"man pages out of date: {stale}; run: python -m ltrl_cli.manpages man"


def test_cli_reference_is_current():
    assert (ROOT / "docs" / "cli.md").read_text() == cli_reference(), \
        "docs/cli.md out of date; run: python -m ltrl_cli.manpages man"


@pytest.mark.parametrize("path", PATHS, ids=[" ".join(p) for p in PATHS])
def test_every_command_is_in_the_readme(path):
    assert f"ltrl {' '.join(path)}" in (ROOT / "README.md").read_text()


def test_importing_the_cli_loads_no_heavy_backend():
    code = ("import sys, ltrl_cli.cli; heavy = [m for m in ('torch', 'pyserini', 'jnius', 'transformers', 'trl', "
            "'vllm', 'peft', 'tiktoken', 'aiohttp', 'pyarrow', 'matplotlib') if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "[]"
