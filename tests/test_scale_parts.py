"""Pieces of the scale work that run without Lucene: link inference in several processes, the
positioned reader a resumed build seeks with, and bench-scale's growth fit and report."""

from __future__ import annotations

import copy
import gzip
import json
import sys
from pathlib import Path

import pytest

from ltrl_cli.backends import kilt
from ltrl_cli.backends.pages import PageReader
from ltrl_cli.corpus import generate_demo
from ltrl_cli.io import dumps

ROOT = Path(__file__).resolve().parent.parent


def test_inferring_in_processes_gives_what_one_process_gives():
    pytest.importorskip("ahocorasick")
    from ltrl_cli.backends.mentions import MentionLinker, infer_anchors

    pages = list(generate_demo(300, seed=4))
    for page in pages[::2]:  # half without anchors of their own: only those get inferred ones
        page["anchors"] = []
    linker = MentionLinker(page["wikipedia_title"] for page in pages)
    serial = list(infer_anchors(linker, copy.deepcopy(pages), 1))
    parallel = list(infer_anchors(linker, copy.deepcopy(pages), 3, batch=7))
    assert parallel == serial
    assert [p["wikipedia_id"] for p in parallel] == [p["wikipedia_id"] for p in pages]
    assert all(a.get("inferred") for p in serial[::2] for a in p["anchors"]) and any(p["anchors"] for p in serial[::2])
    assert serial[1]["anchors"] == pages[1]["anchors"]  # a page with anchors keeps its own


def test_the_link_processes_end_when_the_pages_do(monkeypatch):
    # Each worker kept its own copy of the parent's pipe end, so it never saw EOF: every run
    # waited out join's 5 s and killed them (10 s of a 12 s bench of 5,000 pages).
    pytest.importorskip("ahocorasick")
    import multiprocessing.process

    from ltrl_cli.backends.mentions import MentionLinker, infer_anchors

    killed = []
    monkeypatch.setattr(multiprocessing.process.BaseProcess, "kill", lambda self: killed.append(self.pid))
    pages = list(generate_demo(40, seed=4))
    linker = MentionLinker(page["wikipedia_title"] for page in pages)
    seen = multiprocessing.active_children()
    assert len(list(infer_anchors(linker, pages, 2, batch=8))) == 40
    assert killed == [] and [p for p in multiprocessing.active_children() if p not in seen] == []


def test_a_positioned_read_goes_on_where_an_earlier_one_stopped(tmp_path):
    path = tmp_path / "d.jsonl.gz"
    with gzip.open(path, "wb") as out:
        for number, page in enumerate(generate_demo(40, seed=1)):
            out.write(dumps(page) + (b"\n" if number == 9 else b""))  # a blank line in the middle
    whole = list(kilt.read_pages_from(path, PageReader()))
    assert [p["wikipedia_id"] for p, _, _ in whole] == [str(i) for i in range(1, 41)]
    _, line, offset = whole[19]
    rest = list(kilt.read_pages_from(path, PageReader(), line, offset))
    assert [(p, n, o) for p, n, o in rest] == whole[20:]


def test_bench_scale_fits_growth_and_writes_its_block(tmp_path, monkeypatch):
    sys.path.insert(0, str(ROOT))
    import bench.bench_scale as scale

    assert scale.fit([10, 100, 1000], [5, 50, 500]) == pytest.approx(1.0)
    assert scale.growth(1.0, "s").startswith("+1.00 (linear")
    assert scale.growth(-0.02, "q/s") == "-0.02 (per-item cost flat)"
    # fitted on the sizes of at least a tenth of the largest: 10k's start-up cost left out
    assert scale.large([(10_000, 13.0), (100_000, 46.0), (1_000_000, 422.0)]) == [(100_000, 46.0), (1_000_000, 422.0)]
    assert scale.large([(10_000, 13.0), (1_000_000, 422.0)]) == [(10_000, 13.0), (1_000_000, 422.0)]
    entry = lambda n: {"pages": n, "date": "d", "index_w2": {"seconds": n / 100, "load_before": 1.0,
                                                             "disk_mb": {"all": n / 1000}}}
    performance = tmp_path / "performance.md"
    performance.write_text("# Performance\n\nkept\n")
    monkeypatch.setattr(scale, "PERFORMANCE", performance)
    monkeypatch.setattr(scale, "PLOT", tmp_path / "scale.png")
    scale.report({"1000": entry(1000), "10000": entry(10000)})
    scale.report({"1000": entry(1000), "10000": entry(10000)})  # rewritten in place, not appended
    text = performance.read_text()
    assert text.startswith("# Performance\n\nkept\n") and text.count(scale.START) == 1
    assert "| `ltrl index --threads 2`, wall | s | 10.0 | 100 | +1.00 (linear) |" in text
    assert (tmp_path / "scale.png").stat().st_size > 0
    json.dumps(scale.figures(entry(1000)))
