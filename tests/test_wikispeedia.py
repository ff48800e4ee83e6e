"""Integration on real Wikipedia text: index ../shared/data/wikispeedia-kilt.jsonl.gz and walk it.

Skipped (naming the path) when the shared data is absent. Indexing takes ~20 s, once per module.
"""

from __future__ import annotations

import gzip

import orjson
import pytest

from tests.conftest import SHARED_DATA, jsonl, run_ltrl
from ltrl_cli.backends.index import open_index

pytestmark = pytest.mark.slow


WIKISPEEDIA = SHARED_DATA / "wikispeedia-kilt.jsonl.gz"


@pytest.fixture(scope="module")
def wiki_index(tmp_path_factory):
    if not WIKISPEEDIA.exists():
        pytest.skip(f"{WIKISPEEDIA} not found")
    out = tmp_path_factory.mktemp("wikispeedia") / "idx"
    result = run_ltrl("index", str(WIKISPEEDIA), "-o", str(out))
    assert result.returncode == 0, result.stderr
    return out, result.stderr.decode()


def test_index_counts(wiki_index):
    out, summary = wiki_index
    info = orjson.loads((out / "COMPLETE").read_bytes())
    assert info["pages"] == 4598
    # 119,879 links in the source; nearly all resolve to one of the 4,598 pages.
    assert info["links"] >= 119_000 and info["resolved"] > 100_000
    assert info["unresolved"] < 0.05 * info["links"]
    assert f"{info['pages']:,} pages" in summary


def test_real_pages_search_and_links(wiki_index):
    index = open_index(wiki_index[0])
    with gzip.open(WIKISPEEDIA, "rb") as f:
        first = orjson.loads(f.readline())
    assert index.page(first["wikipedia_id"]) == first
    hit = index.search("Dál Riata kingdom Argyll", k=5)
    assert "Dál Riata" in [h.title for h in hit] or first["wikipedia_title"] in [h.title for h in hit]
    bede = index.id_for_title("bede")
    assert bede is not None and index.anchor_evidence(first["wikipedia_id"], bede)["text"] == "Bede"


def test_walks_follow_real_links(wiki_index):
    out, _ = wiki_index
    result = run_ltrl("walk", "--index", str(out), "-n", "50", "--seed", "3")
    assert result.returncode == 0, result.stderr
    records = jsonl(result.stdout)
    assert len(records) == 50
    index = open_index(out)
    graph = index.graph
    hubs = {graph.title(int(n)) for n in graph.in_degree.argsort()[-10:]}
    with_anchor = 0
    for record in records:
        nodes = [graph.node_for_id(hop["id"]) for hop in record["path"]]
        assert len(set(nodes)) == 9
        assert all(graph.has_edge(a, b) for a, b in zip(nodes, nodes[1:]))
        assert not hubs & {hop["title"] for hop in record["path"]}
        for hop in record["path"][1:]:
            if "anchor" in hop:
                with_anchor += 1
                assert hop["anchor"]["text"] in hop["anchor"]["paragraph"]
    assert with_anchor > 0.5 * 8 * len(records)  # 80% of Wikispeedia's links have a placed anchor
