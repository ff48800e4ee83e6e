"""README's performance figures are docs/performance.md's, as `make bench` wrote them."""

from __future__ import annotations

from pathlib import Path

from bench.peers import README_END, README_START, readme_block

ROOT = Path(__file__).resolve().parent.parent


def test_the_readme_gives_the_figures_of_the_last_make_bench():
    readme, table = (ROOT / "README.md").read_text(), (ROOT / "docs" / "performance.md").read_text()
    block = readme[readme.index(README_START):readme.index(README_END) + len(README_END)]
    assert block == readme_block(table), "README.md's figures are not docs/performance.md's: rerun `make bench`"


def test_the_summary_keeps_every_row_with_its_medians():
    table = "\n".join([
        "Written by `make bench` (bench/peers.py) on 2026-01-02 03:04 UTC, in 5.0 minutes, on 2 cores, no GPU. "
        "Load average (1 min) 1.0 at the start and 2.0 at the end. Each pair runs alternately.",
        "| measure | ltrl | peer | ratio | target |", "|---|---|---|---|---|",
        "| search p50 (ms) | 0.39 / **0.42** / 0.50 | 0.74 / **0.81** / 0.87 | 1.92x | >= 0.8x (met) |",
        "| size (MB) | 61.9 | 64.1 | 1.04x |  |",
        "| server (req/s) | - | - | - |  |"])
    block = readme_block(table).splitlines()
    assert "on 2026-01-02 03:04 UTC, in 5.0 minutes, on 2 cores, no GPU. Load average (1 min) 1.0 at the start " \
           "and 2.0 at the end." in block[1]
    assert block[5:-1] == ["| search p50 (ms) | 0.42 | 0.81 | 1.92x | >= 0.8x (met) |",
                           "| size (MB) | 61.9 | 64.1 | 1.04x |  |", "| server (req/s) | - | - | - |  |"]


def test_make_bench_replaces_the_readme_block_and_nothing_else(tmp_path):
    import pytest

    from bench.peers import update_readme

    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{README_START}\nold figures\n{README_END}\nafter\n")
    update_readme(readme, f"{README_START}\nnew figures\n{README_END}")
    assert readme.read_text() == f"intro\n{README_START}\nnew figures\n{README_END}\nafter\n"
    readme.write_text("a README without the markers\n")
    with pytest.raises(SystemExit, match="has no <!-- make bench: start -->"):
        update_readme(readme, "x")
    assert readme.read_text() == "a README without the markers\n"
