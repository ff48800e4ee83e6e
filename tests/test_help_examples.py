"""The examples in every command's --help run as written (offline ones), in pipeline order.

A help text is what a user copies first; this keeps it true. Examples that need what a
test cannot have (a model endpoint, a hub model, the KILT dump, a training run) are
skipped with the reason.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from ltrl_cli.cli import app
from ltrl_cli.manpages import command_paths
from tests.conftest import ROOT, SHARED_DATA

NEEDS = {
    "http://": "a model endpoint",
    "Qwen/": "a hub model",
    "kilt_knowledgesource": "the KILT dump",
    "2wiki_corpus": "a 2WikiMultihopQA corpus",
    "LongBench-v2/": "the LongBench v2 data",
    "AA-LCR/": "the AA-LCR data",
    "--resume": "a training run",
    "Ada Lovelace": "a Wikipedia index",
    "runs/": "results files of earlier eval runs (tests/eval/test_eval_results.py compares some)",
}
# Files the examples read that no earlier example writes, made before the first example.
ORDER = ["corpus demo", "index", "walk", "synth", "search-agent", "tier", "corpus tokenizer", "assemble",
         "stats", "export", "score", "grpo", "eval"]


def examples() -> list[tuple[str, str]]:
    """(command, shell line) for every example line of every --help, continuations joined."""
    runner, found = CliRunner(), []
    for path in command_paths(typer.main.get_command(app)):
        text = runner.invoke(app, [*path, "--help"], prog_name="ltrl").stdout
        block = text.split("Example", 1)[1].split("\n", 1)[1] if "Example" in text else ""
        lines: list[str] = []
        for raw in block.splitlines():
            if not raw.strip():
                break
            if lines and lines[-1].endswith("\\"):
                lines[-1] = lines[-1][:-1] + " " + raw.strip()
            else:
                lines.append(raw.strip())
        found += [(" ".join(path), line) for line in lines]
    return sorted(found, key=lambda item: ORDER.index(item[0]) if item[0] in ORDER else len(ORDER))


EXAMPLES = examples()


def skip_reason(line: str) -> str | None:
    for marker, what in NEEDS.items():
        if marker in line:
            return f"needs {what}"
    if "jq " in line and shutil.which("jq") is None:
        return "needs jq"
    if "ltrl assemble" in line and "--tokenizer" not in line and not (SHARED_DATA / "tiktoken").is_dir():
        return "the default tokenizer needs ../shared/data/tiktoken"
    if "ltrl stats" in line and not (SHARED_DATA / "tiktoken").is_dir():
        return "its input comes from assemble with the default tokenizer"
    return None


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("examples")
    (work / "groups.jsonl").write_text(
        '{"id": "g1", "label": "Paris", "rubrics": ["France"], '
        '"responses": ["<think>France</think>Paris", "<think>no</think>Lyon"]}\n')
    return work


def run(line: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "PYTHONPATH": str(ROOT)}
    return subprocess.run(["bash", "-o", "pipefail", "-c", line], cwd=cwd, env=env, capture_output=True,
                          timeout=600, stdin=subprocess.DEVNULL)


@pytest.mark.slow
@pytest.mark.parametrize("cmd, line", EXAMPLES, ids=[f"{c}: {l[:60]}" for c, l in EXAMPLES])
def test_help_example_runs(cmd, line, workdir):
    reason = skip_reason(line)
    if reason:
        pytest.skip(reason)
    if cmd == "assemble" and not (workdir / "traj.jsonl").exists():
        # `ltrl tier < traj.jsonl | ltrl assemble`: the trajectories the tier example piped
        assert run("ltrl search-agent --index idx --backend lexical -k 2 < q.jsonl > traj.jsonl", workdir).returncode == 0
    for target in re.findall(r"(?:-o|>)\s*([\w./-]+)", line):  # as if run for the first time
        path = workdir / target
        shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)
    result = run(line, workdir)
    assert result.returncode == 0, f"{line}\n{result.stderr.decode()[-2000:]}"
    assert not re.search(rb"Traceback", result.stderr)
