"""The walk stage: every hop a real link, no revisits, filters, reproducibility, evidence."""

from __future__ import annotations

import numpy as np
import pytest

from ltrl_cli.backends.base import title_key
from ltrl_cli.backends.graph import Graph, GraphWriter
from ltrl_cli.backends.index import open_index
from ltrl_cli.backends.kilt import href_title
from ltrl_cli.errors import BadInput
from ltrl_cli.stages.walk import WalkFilters, step_walks, walk


@pytest.fixture(scope="module")
def index(demo_index):
    return open_index(demo_index)


@pytest.fixture(scope="module")
def links(demo_pages) -> set[tuple[str, str]]:
    """The demo corpus's links, resolved here independently of the index code."""
    by_title = {title_key(p["wikipedia_title"]): p["wikipedia_id"] for p in demo_pages}
    return {(p["wikipedia_id"], by_title[href_title(a["href"])]) for p in demo_pages for a in p["anchors"]
            if href_title(a["href"]) in by_title}


def ids(record: dict) -> list[str]:
    return [hop["id"] for hop in record["path"]]


def test_each_hop_is_a_real_link_and_no_page_repeats(index, links):
    records = list(walk(None, index=index, n=300, hops=8, seed=1, evidence=False))
    assert len(records) == 300
    for record in records:
        path = ids(record)
        assert len(path) == 9 and len(set(path)) == 9
        assert all(pair in links for pair in zip(path, path[1:]))
        assert [hop["title"] for hop in record["path"]] == [index.title(i) for i in path]
        assert record["walk"] == {"seed": 1, "hops": 8, "start": path[0]}
    assert len({tuple(ids(r)) for r in records}) == 300  # identical paths dropped
    assert len({r["id"] for r in records}) == 300


def test_same_seed_same_walks_and_longer_runs_extend_shorter_ones(index):
    first = list(walk(None, index=index, n=40, seed=5, evidence=False))
    assert first == list(walk(None, index=index, n=40, seed=5, evidence=False))
    assert list(walk(None, index=index, n=15, seed=5, evidence=False)) == first[:15]
    assert [ids(r) for r in walk(None, index=index, n=40, seed=6, evidence=False)] != [ids(r) for r in first]


def test_hubs_and_low_degree_pages_are_skipped(index):
    graph = index.graph
    filters = WalkFilters(max_in_degree=14, min_out_degree=10)
    records = list(walk(None, index=index, n=200, seed=2, evidence=False, filters=filters))
    assert filters.allowed(graph)[1] == 14
    nodes = [graph.node_for_id(i) for r in records for i in ids(r)]
    assert records and max(graph.in_degree[nodes]) <= 14 and min(graph.out_degree[nodes]) >= 10
    assert WalkFilters().allowed(graph)[1] == int(np.percentile(graph.in_degree, 99))


def test_anchor_evidence_is_the_link_in_the_previous_page(index):
    record = next(walk(None, index=index, n=1, seed=3))
    for prev, hop in zip(record["path"], record["path"][1:]):
        anchor = hop["anchor"]
        paragraph = index.page(prev["id"])["text"][anchor["paragraph_id"]]
        assert anchor["paragraph"] == paragraph.strip() and anchor["text"] in paragraph
        assert anchor["text"] == hop["title"]  # the demo corpus anchors links with the title
    assert "anchor" not in record["path"][0]


def test_starts_by_title_and_id_keep_other_keys(index, demo_pages):
    starts = [{"title": demo_pages[10]["wikipedia_title"], "tag": "a"}, {"id": demo_pages[20]["wikipedia_id"]}]
    records = list(walk(starts, index=index, seed=0, per_start=2, evidence=False))
    assert [r["path"][0]["id"] for r in records] == ["11", "11", "21", "21"]
    assert records[0]["tag"] == "a" and "tag" not in records[2]
    assert ids(records[0]) != ids(records[1])


def test_unknown_start_raises_or_is_reported(index):
    with pytest.raises(BadInput, match="no page titled 'Nowhere'"):
        list(walk([{"title": "Nowhere"}], index=index, evidence=False))
    bad: list[BadInput] = []
    records = list(walk([{"title": "Nowhere"}, {"id": "3"}, {"x": 1}], index=index, evidence=False,
                        on_bad=bad.append))
    assert len(records) == 1 and [e.detail for e in bad] == [
        "no page titled 'Nowhere' in the index", "a start record needs a 'title' or an 'id'"]


def small_graph(tmp_path, pages: list[tuple[str, list[str]]]) -> Graph:
    """A graph from (title, [linked titles]) pairs, written by the real writer."""
    writer = GraphWriter(tmp_path / "graph", tmp_path)
    for number, (title, targets) in enumerate(pages, start=1):
        writer.add_page(str(number), title, [(t, i) for i, t in enumerate(targets)])
    writer.finish()
    return Graph(tmp_path / "graph")


def test_title_filters(tmp_path):
    names = ["A", "B", "C", "List of things", "1879", "Mercury (disambiguation)", "D"]
    graph = small_graph(tmp_path, [(n, [m for m in names if m != n]) for n in names])
    mask, _ = WalkFilters(max_in_degree=100, min_out_degree=0).allowed(graph)
    assert [graph.title(i) for i in np.flatnonzero(mask)] == ["A", "B", "C", "D"]
    mask, _ = WalkFilters(max_in_degree=100, min_out_degree=0, skip_lists=False, skip_dates=False).allowed(graph)
    assert [graph.title(i) for i in np.flatnonzero(mask)] == ["A", "B", "C", "List of things", "1879", "D"]


def test_walkers_that_cannot_move_are_dropped(tmp_path):
    # A -> B -> C -> A is a cycle: a 3-hop walk would revisit; D is a dead end.
    graph = small_graph(tmp_path, [("A", ["B"]), ("B", ["C"]), ("C", ["A", "D"]), ("D", [])])
    rng = np.random.default_rng(0)
    starts = np.array([0, 0, 1, 3])
    paths, ok = step_walks(graph.indptr, graph.indices, np.ones(4, bool), starts, 2, rng)
    assert ok.tolist() == [True, True, True, False]
    assert paths[0].tolist() == [0, 1, 2]
    paths, ok = step_walks(graph.indptr, graph.indices, np.ones(4, bool), starts[:1], 3, rng)
    assert ok.tolist() == [True] and paths[0].tolist() == [0, 1, 2, 3]
    paths, ok = step_walks(graph.indptr, graph.indices, np.ones(4, bool), starts[:1], 4, rng)
    assert ok.tolist() == [False]


def test_a_small_graph_gives_what_it_has(tmp_path):
    graph = small_graph(tmp_path, [("A", ["B"]), ("B", ["C"]), ("C", ["A"])])

    class Tiny:  # the walk needs only .graph when evidence is off
        pass

    tiny = Tiny()
    tiny.graph = graph
    records = list(walk(None, index=tiny, n=10, hops=2, filters=WalkFilters(min_out_degree=1), evidence=False))
    assert sorted(r["path"][0]["title"] for r in records) == ["A", "B", "C"]
