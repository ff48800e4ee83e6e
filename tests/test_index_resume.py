"""A killed `ltrl index` resumes from its last checkpoint to the index an uninterrupted build makes.

Builds of a small demo corpus with a checkpoint every 200 pages are killed (SIGKILL) at
several points: before the first checkpoint, after the first, after the last chunk while
links are resolved and Lucene's parts merged; and stopped with SIGINT. The same command
run again must finish with pages and graph files byte-identical to an uninterrupted
build's, and a Lucene index holding the same documents with the same BM25 scores.
"""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ltrl_cli.backends.index import open_index
from ltrl_cli.corpus import generate_demo
from ltrl_cli.errors import BackendError
from ltrl_cli.io import dumps
from tests.conftest import default_sigint

pytest.importorskip("pyserini")
ROOT = Path(__file__).resolve().parent.parent
PAGES, EVERY = 500, 200  # three chunks: 200, 200, 100
QUERIES = ["history of the guild", "river town population", "astronomer born", "opera composer", "glassmaking"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("resume") / "demo.jsonl.gz"
    with gzip.open(path, "wb") as out:
        for page in generate_demo(PAGES, seed=3):
            out.write(dumps(page))
    return path


@pytest.fixture(scope="module")
def reference(corpus, tmp_path_factory) -> Path:
    """An uninterrupted build (in one Lucene part: the parts' merge must not change the index)."""
    from ltrl_cli.stages.index import build_index

    out = tmp_path_factory.mktemp("resume-ref") / "idx"
    build_index(corpus, out, threads=1, checkpoint_every=10 * PAGES)
    return out


def _argv(corpus: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "ltrl_cli", "index", str(corpus), "-o", str(out), "--checkpoint-every", str(EVERY),
            "--threads", "1"]


def _env() -> dict:
    return {**os.environ, "PYTHONPATH": str(ROOT)}


def _checkpoint(out: Path) -> dict:
    try:
        return json.loads((out / ".build" / "checkpoint.json").read_text())
    except (OSError, ValueError):
        return {}


def _stop_when(corpus: Path, out: Path, ready, sig: int = signal.SIGKILL) -> subprocess.CompletedProcess:
    """Run the build, send `sig` once `ready(checkpoint)` holds, and return what it did."""
    proc = subprocess.Popen(_argv(corpus, out), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=_env(), cwd=ROOT, preexec_fn=default_sigint)
    deadline = time.monotonic() + 300
    while proc.poll() is None and not ready(_checkpoint(out)) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert proc.poll() is None, "the build ended before the point it was to be stopped at"
    proc.send_signal(sig)
    stdout, stderr = proc.communicate(timeout=120)
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)


def _resume(corpus: Path, out: Path, capfd) -> str:
    """The same build again, in this process (its JVM, started once, merges every test's parts)."""
    from ltrl_cli.stages.index import build_index

    capfd.readouterr()
    build_index(corpus, out, threads=1, checkpoint_every=EVERY)
    return capfd.readouterr().err


def _same_index(built: Path, reference: Path) -> None:
    from ltrl_cli.backends.lucene import LuceneSearcher

    for sub in ("pages", "graph"):
        names = sorted(p.name for p in (reference / sub).iterdir())
        assert sorted(p.name for p in (built / sub).iterdir()) == names
        for name in names:
            assert (built / sub / name).read_bytes() == (reference / sub / name).read_bytes(), f"{sub}/{name}"
    assert not (built / ".build").exists()
    ours, theirs = LuceneSearcher(built / "lucene"), LuceneSearcher(reference / "lucene")
    try:
        for query in QUERIES:
            got, want = ours.search(query, 20), theirs.search(query, 20)
            assert {(i, round(s, 4)) for i, s in got} == {(i, round(s, 4)) for i, s in want}, query
        assert ours._searcher.get_total_num_docs() == theirs._searcher.get_total_num_docs() == PAGES
    finally:
        ours.close()
        theirs.close()
    info = json.loads((built / "COMPLETE").read_text())
    assert info["pages"] == PAGES and info["resolved"] == json.loads((reference / "COMPLETE").read_text())["resolved"]


@pytest.mark.parametrize("where, ready", [
    ("after the first checkpoint", lambda c: c.get("chunks", 0) >= 1),
    ("while links resolve and the parts merge", lambda c: c.get("streamed", False)),
])
def test_sigkill_then_the_same_command_resumes(corpus, reference, tmp_path, capfd, where, ready):
    out = tmp_path / "idx"
    killed = _stop_when(corpus, out, ready)
    assert killed.returncode == -signal.SIGKILL, where
    assert not (out / "COMPLETE").exists()
    saved = _checkpoint(out)
    with pytest.raises(BackendError, match=f"is unfinished .*; resume it with: ltrl index {corpus} -o {out} "):
        open_index(out)
    log = _resume(corpus, out, capfd)
    assert f"resuming the unfinished build in {out} after {saved['pages']:,} pages" in log
    _same_index(out, reference)


def test_sigkill_before_any_checkpoint_starts_over(corpus, reference, tmp_path, capfd):
    out = tmp_path / "idx"
    killed = _stop_when(corpus, out, lambda c: (out / ".build").is_dir())
    assert killed.returncode == -signal.SIGKILL
    log = _resume(corpus, out, capfd)
    assert "resuming" not in log and "unfinished build; replacing it" in log
    _same_index(out, reference)


def test_sigint_says_how_to_resume(corpus, reference, tmp_path, capfd):
    out = tmp_path / "idx"
    stopped = _stop_when(corpus, out, lambda c: c.get("chunks", 0) >= 1, signal.SIGINT)
    assert stopped.returncode != 0
    assert "resume with `ltrl index" in stopped.stderr and f"-o {out}" in stopped.stderr, stopped.stderr
    _resume(corpus, out, capfd)
    _same_index(out, reference)


def test_a_changed_source_is_not_resumed(corpus, tmp_path, capfd):
    source = tmp_path / "demo.jsonl.gz"
    source.write_bytes(corpus.read_bytes())
    out = tmp_path / "idx"
    _stop_when(source, out, lambda c: c.get("chunks", 0) >= 1)
    with gzip.open(source, "ab") as more:  # the file grew since: its checkpoint is not this file's
        more.write(dumps({"wikipedia_id": "x1", "wikipedia_title": "Extra", "text": ["Extra\n", "More.\n"]}))
    log = _resume(source, out, capfd)
    assert "not resuming the unfinished build" in log
    assert json.loads((out / "COMPLETE").read_text())["pages"] == PAGES + 1
