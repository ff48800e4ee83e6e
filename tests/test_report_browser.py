"""`ltrl report` in a real browser: Debian's Chromium, headless, driven over the DevTools
protocol (tests/chromium.py), on the demo's report (one file, as `make demo` writes it, at a
smaller size) and on a folder report of 2,815 generated questions (the paper's release
size): no console errors, and the list, its search and filters, and a question's detail
work. Times and memory are measured by bench/bench_report.py, not here.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from tests.chromium import HOW_TO_GET, Chromium, executable
from tests.conftest import ROOT, run_ltrl

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(executable() is None, reason=f"{HOW_TO_GET}; .ci/run installs it")]


@pytest.fixture(scope="module")
def demo_report(tmp_path_factory) -> Path:
    """The demo's own report.html, from examples/demo.sh at a small size."""
    import subprocess

    work, bin_dir = tmp_path_factory.mktemp("demo"), tmp_path_factory.mktemp("bin")
    # `ltrl` as the demo calls it, running this checkout's code with this interpreter
    (bin_dir / "ltrl").write_text(f'#!/bin/sh\nexec "{sys.executable}" -m ltrl_cli "$@"\n')
    (bin_dir / "ltrl").chmod(0o755)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PATH": f"{bin_dir}:{os.environ['PATH']}",
           "DEMO_PAGES": "400", "DEMO_WALKS": "12", "DEMO_HOPS": "4", "DEMO_STEPS": "30",
           "DEMO_TARGET_TOKENS": "8192"}
    done = subprocess.run(["bash", str(ROOT / "examples/demo.sh"), str(work)], env=env, capture_output=True,
                          timeout=900)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    return work / "report.html"


@pytest.fixture(scope="module")
def big_report(tmp_path_factory) -> Path:
    """A folder report of 2,815 generated questions, both strategies (small contexts: the
    page's cost is per question, not per prompt token)."""
    from tests.report_data import write

    root = tmp_path_factory.mktemp("big")
    files = write(root, 2815, target_tokens=4096, page_chars=1200, pool=3000)
    result = run_ltrl("report", *map(str, files), "-o", str(root / "report"), timeout=900)
    assert result.returncode == 0, result.stderr
    return root / "report" / "index.html"


@pytest.fixture
def browser():
    with Chromium(1366, 768) as b:
        yield b


def test_the_demo_report_works_in_chromium(demo_report, browser):
    exercise(browser, demo_report, texts_of_failures=True)  # the demo passes --index


def test_a_report_of_2815_questions_works_in_chromium(big_report, browser):
    rows = exercise(browser, big_report)
    assert rows == 2815


def exercise(b: Chromium, page: Path, texts_of_failures: bool = False) -> int:
    """Open the report, use the list, its search, filter and sort, and open questions;
    the number of questions listed."""
    b.open(page)
    b.wait_for("window.LTRL && LTRL.ready")
    n = b.eval("LTRL.rows.length")
    assert b.eval("document.getElementById('count').textContent") == f"{n:,} of {n:,} questions"
    drawn = b.eval("document.querySelectorAll('#spacer .row').length")
    assert 0 < drawn <= min(n, 60)  # only the rows in sight are in the document

    col = b.eval("LTRL.meta.columns")
    rows = [dict(zip(col, r)) for r in b.eval("LTRL.rows")]
    word = rows[-1]["text"].split()[-1].lower().strip("?.")
    expected = sum(word in f"{r['id']} {r['text']} {r['answer']} {r['chain']}".lower() for r in rows)
    assert filtered(b, f"{word}") == expected > 0
    assert filtered(b, "hops>=4 k<3") == sum(r["hops"] is not None and r["hops"] >= 4 and r["k"] < 3 for r in rows)
    assert filtered(b, "", solved="0") == sum(r["solved"] == 0 for r in rows)
    filtered(b, "")
    b.eval("var s=document.getElementById('sort'); s.value='tier2'; s.dispatchEvent(new Event('input'))")
    first = b.eval("document.querySelector('#spacer .row').getAttribute('href')")
    fewest = min(r["tier2"] for r in rows if r["tier2"] is not None)
    assert next(r for r in rows if f"#q/{r['id']}" == first.replace("%2F", "/"))["tier2"] == fewest

    # open a failed question and a solved one
    unsolved = next(r for r in rows if r["solved"] == 0)
    open_question(b, unsolved["id"])
    assert b.eval("document.querySelectorAll('#detail tr.off').length") >= 1  # its step off the chain
    assert "ltrl tier drops unsolved" in b.eval("document.querySelector('#detail p.why').textContent")
    if texts_of_failures:  # no context, but the chain's pages have their text from the index
        b.eval("document.querySelector('#detail .chain a.pg[data-key]').click()")
        read_document(b)
    solved = next(r for r in rows if r["solved"] == 1 and r["contexts"])
    open_question(b, solved["id"])
    assert b.eval("document.querySelectorAll('#detail .strip').length") == solved["contexts"]
    assert b.eval("document.querySelectorAll('#detail .marks .mk').length") >= solved["hops"] + 1  # gold marked
    assert b.eval("document.querySelectorAll('#detail .pg.chain').length") > 0  # chain pages marked
    b.eval("document.querySelector('#detail .strip .doc.t-gold').click()")
    read_document(b)
    assert b.errors == []
    return n


def read_document(b: Chromium) -> None:
    assert b.wait_for("!document.getElementById('doc').hidden && "
                      "document.getElementById('doc-text').textContent.length > 20 && "
                      "document.getElementById('doc-text').textContent !== 'loading…'")
    b.eval("document.getElementById('close-doc').click()")


def filtered(b: Chromium, query: str, solved: str = "") -> int:
    b.eval(f"var f=document.getElementById('find'); f.value={query!r}; "
           f"var s=document.getElementById('solved'); s.value={solved!r}; f.dispatchEvent(new Event('input'))")
    return int(b.eval("document.getElementById('count').textContent").split(" of ")[0].replace(",", ""))


def open_question(b: Chromium, qid: str) -> None:
    b.eval(f"location.hash = '#q/' + encodeURIComponent({qid!r})")
    b.wait_for(f"LTRL.shown && LTRL.shown.id === {qid!r}")
    assert b.eval("document.querySelector('#detail h2').textContent") == qid
