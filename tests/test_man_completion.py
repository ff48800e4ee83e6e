"""Man pages where `man` finds them, and shell completion (`ltrl --show-completion`)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib

import pytest

from ltrl_cli.manpages import MAN_SECTION, install
from tests.conftest import ROOT, run_ltrl


def test_a_wheel_puts_the_pages_where_man_looks():
    # man finds PREFIX/share/man for PREFIX/bin on PATH; pyproject's data-files are installed under PREFIX.
    data_files = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["data-files"]
    assert data_files == {str(MAN_SECTION): ["man/*.1"]}


def test_install_links_the_pages_and_man_finds_them(tmp_path):
    prefix = tmp_path / "venv"
    (prefix / "bin").mkdir(parents=True)
    result = subprocess.run([sys.executable, "-m", "ltrl_cli.manpages", "install", str(prefix)],
                            capture_output=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stderr.decode()
    pages = sorted((ROOT / "man").glob("ltrl*.1"))
    linked = prefix / MAN_SECTION / "ltrl-walk.1"
    assert linked.is_symlink() and linked.resolve() == (ROOT / "man" / "ltrl-walk.1").resolve()
    assert len(list((prefix / MAN_SECTION).glob("ltrl*.1"))) == len(pages)
    if shutil.which("man") is None:
        pytest.skip("no man here; the links are checked above")
    env = {k: v for k, v in os.environ.items() if k not in ("MANPATH",)}
    env["PATH"] = f"{prefix / 'bin'}{os.pathsep}/usr/bin{os.pathsep}/bin"
    found = subprocess.run(["man", "-w", "ltrl-walk"], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert found.returncode == 0, found.stderr
    assert os.path.samefile(found.stdout.strip(), linked)


def test_install_replaces_links_and_drops_dangling_ones(tmp_path):
    source = tmp_path / "man"
    source.mkdir()
    (source / "ltrl-a.1").write_text("a")
    (source / "ltrl-b.1").write_text("b")
    assert install(tmp_path / "p", source) == 2
    (source / "ltrl-b.1").unlink()
    assert install(tmp_path / "p", source) == 1
    assert sorted(p.name for p in (tmp_path / "p" / MAN_SECTION).iterdir()) == ["ltrl-a.1"]


def test_show_completion_prints_a_bash_script():
    result = run_ltrl("--show-completion", "bash")
    assert result.returncode == 0 and b"_LTRL_COMPLETE=complete_bash" in result.stdout


def test_completion_completes_commands_and_options():
    words = run_ltrl(env={"_LTRL_COMPLETE": "complete_bash", "COMP_WORDS": "ltrl sea", "COMP_CWORD": "1"})
    assert sorted(words.stdout.split()) == [b"search", b"search-agent"]
    options = run_ltrl(env={"_LTRL_COMPLETE": "complete_bash", "COMP_WORDS": "ltrl walk --ho", "COMP_CWORD": "2"})
    assert b"--hops" in options.stdout.split()


def test_install_completion_writes_under_home(tmp_path):
    result = run_ltrl("--install-completion", "bash", env={"HOME": str(tmp_path), "SHELL": "/bin/bash"})
    assert result.returncode == 0, result.stderr.decode()
    assert (tmp_path / ".bash_completions" / "ltrl.sh").is_file()
    assert ".bash_completions/ltrl.sh" in (tmp_path / ".bashrc").read_text()
