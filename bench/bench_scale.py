"""`make bench-scale`: how each stage that touches the index grows with the corpus, 10k to 1M pages.

    make bench-scale                                          # 10k, 100k, 200k, 1M pages (~50 min on an idle 2-core VM)
    .venv/bin/python bench/bench_scale.py --sizes 10000 100000 --work /tmp/scale
    .venv/bin/python bench/bench_scale.py --report            # rewrite docs from the saved JSON only

For each size it generates the demo corpus (`ltrl corpus demo --pages N`: ~16 paragraphs,
~13 anchors and a ~17-character title a page; KILT's pages are longer, see docs) and
measures, each stage in a fresh child process so that each peak is its own:

- `ltrl index` at each --workers count: wall time, pages/s, peak RSS of the Python process
  and of the JVM (Anserini's indexer, a child process), sampled with psutil over the process
  tree; disk of lucene/, pages/ and graph/;
- search (`Index.search`: ids, titles, snippets): p50/p99 one query at a time and queries/s
  in batches (`Index.batch_search`); opening a page (`Index.page`, first open of each);
- walks: `random_paths` walks/s (the walker alone) and `walk` records/s (with anchor evidence);
- link inference (`--link-mentions`): automaton build over every title (time, peak RSS)
  and pages/s matching a sample of pages, at each --workers count;
- `assemble` at 131,072 tokens from the index: contexts/s with a cold token cache, then the
  same questions again with every count cached (warm).

The 1-minute load average is recorded before and after each measurement (the machine may
be shared). Results go to docs/scale.json after each stage (a partial run keeps what it
measured); docs/performance.md gets a table per size, the fitted growth per figure and the
projection to KILT, and docs/scale.png the curves (log-log).
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import random
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATA = next((p for p in (ROOT.parent / "shared" / "data", ROOT.parent.parent / "shared" / "data") if p.is_dir()),
            ROOT.parent / "shared" / "data")
RESULTS = ROOT / "docs" / "scale.json"
PLOT = ROOT / "docs" / "scale.png"
PERFORMANCE = ROOT / "docs" / "performance.md"
START, END = "<!-- make bench-scale: start -->", "<!-- make bench-scale: end -->"
KILT_PAGES, KILT_GB = 5_903_530, 35.0
TARGET_TOKENS = 131072
NO_DOCS = False


# ---------------------------------------------------------------- measuring a child process tree

class TreePeak:
    """Peak RSS of a process and its descendants, the JVM's apart, sampled every `every` seconds."""

    def __init__(self, pid: int, every: float = 0.2):
        import psutil

        self.root, self.every = psutil.Process(pid), every
        self.python_mb = self.jvm_mb = 0.0
        self.cpu: dict[int, tuple[bool, float]] = {}  # pid -> (is the JVM, CPU seconds when last seen)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        import psutil

        while not self._stop.is_set():
            try:
                procs = [self.root, *self.root.children(recursive=True)]
                python = jvm = 0.0
                for proc in procs:
                    try:
                        rss, java = proc.memory_info().rss / 2**20, "java" in proc.name()
                        times = proc.cpu_times()
                        self.cpu[proc.pid] = (java, times.user + times.system)
                        if java:
                            jvm += rss
                        else:
                            python += rss
                    except psutil.Error:
                        pass
                self.python_mb, self.jvm_mb = max(self.python_mb, python), max(self.jvm_mb, jvm)
            except psutil.Error:
                return
            self._stop.wait(self.every)

    def stop(self) -> dict:
        self._stop.set()
        self._thread.join()
        cpu = {kind: round(sum(t for java, t in self.cpu.values() if java == kind), 1) for kind in (False, True)}
        return {"python_peak_mb": round(self.python_mb), "jvm_peak_mb": round(self.jvm_mb),
                "python_cpu_s": cpu[False], "jvm_cpu_s": cpu[True]}


def load() -> float:
    return round(os.getloadavg()[0], 2)


def _env() -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if (DATA / "tiktoken").is_dir():
        env.setdefault("TIKTOKEN_CACHE_DIR", str(DATA / "tiktoken"))
    return env


def run_measured(argv: list[str], what: str) -> tuple[dict, str]:
    """Run argv, sampling its tree's memory; (figures, stdout). Exits naming `what` when it fails."""
    before, started = load(), time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=_env())
    peak = TreePeak(proc.pid)
    out, err = proc.communicate()
    seconds = time.perf_counter() - started
    figures = {"seconds": round(seconds, 2), **peak.stop(), "load_before": before, "load_after": load()}
    if proc.returncode != 0:
        raise SystemExit(f"bench-scale: {what} failed (exit {proc.returncode}):\n{err[-3000:]}")
    return figures, out


def child(stage: str, *args: str) -> dict:
    """One stage measured in a child of this script (its own peak RSS, JVM included)."""
    figures, out = run_measured([sys.executable, __file__, "--child", stage, *args], stage)
    return {**json.loads(out.strip().splitlines()[-1]), "child_peak_mb": figures["python_peak_mb"],
            "load_before": figures["load_before"], "load_after": figures["load_after"]}


def du_mb(path: Path) -> float:
    return round(sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6, 1)


# ---------------------------------------------------------------- the stages

def make_corpus(work: Path, pages: int) -> tuple[Path, dict]:
    source = work / f"demo-{pages}.jsonl.gz"
    if source.exists() and (work / f"demo-{pages}.done").exists():
        return source, json.loads((work / f"demo-{pages}.done").read_text())
    figures, _ = run_measured([sys.executable, "-m", "ltrl_cli", "corpus", "demo", "--pages", str(pages),
                               "-o", str(source), "--quiet"], f"corpus demo --pages {pages}")
    info = {"generate_seconds": figures["seconds"], "input_mb_gz": round(source.stat().st_size / 1e6, 1)}
    (work / f"demo-{pages}.done").write_text(json.dumps(info))
    return source, info


def measure_index(source: Path, out: Path, workers: int, link_mentions: bool = False) -> dict:
    argv = [sys.executable, "-m", "ltrl_cli", "index", str(source), "-o", str(out), "--threads", str(workers),
            "--force", "--quiet", "--link-mentions" if link_mentions else "--no-link-mentions"]
    figures, _ = run_measured(argv, f"ltrl index --threads {workers}")
    info = json.loads((out / "COMPLETE").read_text())
    return {**figures, "pages_per_s": round(info["pages"] / figures["seconds"]),
            "disk_mb": {"lucene": du_mb(out / "lucene"), "pages": du_mb(out / "pages"), "graph": du_mb(out / "graph"),
                        "all": du_mb(out)}}


def child_search(index_dir: str, queries: str) -> dict:
    from ltrl_cli.backends.index import open_index

    index = open_index(index_dir)
    index.start()
    rng = random.Random(0)
    asked = [_query(index, rng) for _ in range(int(queries) + 300)]
    for q in asked[:300]:  # JVM, JIT and page cache warm
        index.search(q, 5)
    asked = asked[300:]
    latencies = []
    for q in asked:
        started = time.perf_counter()
        index.search(q, 5)
        latencies.append((time.perf_counter() - started) * 1000)
    latencies.sort()
    started = time.perf_counter()
    for at in range(0, len(asked), 100):
        index.batch_search(asked[at:at + 100], 5)
    batch_qps = len(asked) / (time.perf_counter() - started)
    ids = index.random_ids(min(5000, len(index)), random.Random(1))
    opened = []
    for page_id in ids:
        started = time.perf_counter()
        index.page(page_id)
        opened.append((time.perf_counter() - started) * 1000)
    opened.sort()
    index.close()
    return {"search_p50_ms": _pct(latencies, 0.5), "search_p99_ms": _pct(latencies, 0.99),
            "search_qps_one": round(1000 * len(latencies) / sum(latencies)), "search_qps_batch": round(batch_qps),
            "open_p50_ms": _pct(opened, 0.5), "open_p99_ms": _pct(opened, 0.99),
            "open_per_s": round(1000 * len(opened) / sum(opened)), "peak_rss_mb": _peak(), "heap_mb": _heap()}


def _query(index, rng: random.Random) -> str:
    """3-8 consecutive words of a random page's paragraph (never its title line)."""
    text = index.pages.text(rng.randrange(len(index))).decode("utf-8", "replace")
    paragraphs = [p for p in text.split("\n")[1:] if len(p.split()) >= 8 and not p.startswith("Section::::")]
    words = rng.choice(paragraphs or [text]).split()
    n = rng.randint(3, 8)
    at = rng.randrange(max(1, len(words) - n))
    return " ".join(words[at:at + n])


def _pct(sorted_values: list[float], q: float) -> float:
    return round(sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))], 3)


def _peak() -> float:
    import resource

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def _heap() -> float:
    """This process's anonymous memory now (RssAnon: its heap, the JVM's heap when one runs
    inside it), the memory to provision. The index files it mapped are left out: their pages
    are the kernel's page cache, counted in RSS (and USS, when only this process maps them)
    as they are touched, and dropped under pressure. A walk of 2,000 records over the 1M-page
    index showed 1.8 GB of mapped file pages in RSS beside a 57 MB heap."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("RssAnon:"):
                return round(int(line.split()[1]) / 1024)
    return _peak()  # not Linux: the peak RSS, an upper bound


def child_walk(index_dir: str, walks: str, records: str) -> dict:
    from ltrl_cli.backends.index import open_index
    from ltrl_cli.stages.walk import WalkFilters, random_paths, walk

    index = open_index(index_dir)
    started = time.perf_counter()
    allowed, _ = WalkFilters().allowed(index.graph)
    setup = time.perf_counter() - started
    started = time.perf_counter()
    got = sum(len(batch) for batch in random_paths(index.graph, allowed, int(walks), 8, seed=1))
    walker = got / (time.perf_counter() - started)
    started = time.perf_counter()
    made = sum(1 for _ in walk(None, index=index, n=int(records), hops=8, seed=2))
    per_s = made / (time.perf_counter() - started)
    return {"walks_per_s": round(walker), "walk_records_per_s": round(per_s), "walk_setup_s": round(setup, 2),
            "walks": got, "walk_records": made, "peak_rss_mb": _peak(), "heap_mb": _heap()}


def child_mentions(source: str, sample: str, workers: str) -> dict:
    from ltrl_cli.backends import kilt
    from ltrl_cli.backends.mentions import MentionLinker, infer_anchors

    started = time.perf_counter()
    linker = MentionLinker(kilt.read_titles(Path(source)))
    build = time.perf_counter() - started
    build_rss = _peak()
    pages = []
    for page in kilt.read_pages(Path(source)):
        page["anchors"] = []
        pages.append(page)
        if len(pages) >= int(sample):
            break
    chars = sum(len(p) for page in pages for p in page["text"])
    started = time.perf_counter()
    found = sum(len(page["anchors"]) for page in infer_anchors(linker, pages, int(workers)))
    seconds = time.perf_counter() - started
    return {"mention_titles": linker.titles, "mention_build_s": round(build, 2), "mention_build_rss_mb": build_rss,
            "mention_pages_per_s": round(len(pages) / seconds), "mention_mchars_per_s": round(chars / seconds / 1e6, 2),
            "mention_links_per_page": round(found / len(pages), 1), "mention_workers": int(workers),
            "peak_rss_mb": _peak(), "heap_mb": _heap()}


def child_assemble(index_dir: str, contexts: str) -> dict:
    from ltrl_cli.backends.index import open_index
    from ltrl_cli.backends.tokenize import TokenCache, load_tokenizer
    from ltrl_cli.context.layout import AssembleOptions
    from ltrl_cli.stages.assemble import assemble

    index = open_index(index_dir)
    counter = TokenCache(load_tokenizer("tiktoken:o200k_base"))
    asked = _questions(index, int(contexts))
    options = AssembleOptions(target_tokens=TARGET_TOKENS)
    started = time.perf_counter()
    first = list(assemble(asked, store=index, counter=counter, options=options))
    cold = time.perf_counter() - started
    started = time.perf_counter()
    list(assemble(asked, store=index, counter=counter, options=options))
    warm = time.perf_counter() - started
    docs = sum(len(r["metadata"]["docs"]) for r in first) / len(first)
    return {"assemble_cold_per_s": round(len(first) / cold, 2), "assemble_warm_per_s": round(len(first) / warm, 2),
            "assemble_docs_per_context": round(docs), "peak_rss_mb": _peak(), "heap_mb": _heap()}


def _questions(index, n: int) -> list[dict]:
    """Tiered question records as synth writes them: 8 gold, 20 tier-1, 60 tier-2 random pages."""
    rng, out = random.Random(5), []
    for i in range(n):
        ids = index.random_ids(88, rng)
        out.append({"id": f"scale-{i}", "question": f"What links {index.title(ids[0])}?", "answer": "x",
                    "gold_entities": [index.title(p) for p in ids[:8]],
                    "tiers": {"gold": ids[:8], "tier1": ids[8:28], "tier2": ids[28:88]}})
    return out


CHILDREN = {"search": child_search, "walk": child_walk, "mentions": child_mentions, "assemble": child_assemble}


# ---------------------------------------------------------------- one size

def measure_size(pages: int, args: argparse.Namespace, results: dict) -> None:
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    entry = results.setdefault(str(pages), {"pages": pages})
    entry.update(date=datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"))

    def save(stage: str, figures: dict) -> None:
        entry[stage] = figures
        write_results(results)
        say(f"{pages:,} pages: {stage}: {json.dumps(figures)}")

    source, corpus = make_corpus(work, pages)
    save("corpus", corpus)
    index_dir, most, stages = work / f"idx-{pages}", max(args.workers), set(args.stages)
    build = False
    if not stages & {"search", "walk", "assemble"}:  # link inference reads the source file only
        say(f"{pages:,} pages: no stage reads the index; not building it")
    elif args.reuse_index and (index_dir / "COMPLETE").exists():  # left by --keep: its figures stay
        say(f"{pages:,} pages: reusing the index in {index_dir}; its build figures are the saved ones")
    else:
        build = True
        save(f"index_w{most}", measure_index(source, index_dir, most))  # the index the other stages read
    if "search" in stages:
        save("search", child("search", str(index_dir), str(args.queries)))
    if "walk" in stages:
        save("walk", child("walk", str(index_dir), str(args.walks), str(args.walk_records)))
    if "assemble" in stages:
        save("assemble", child("assemble", str(index_dir), str(args.contexts)))
    for workers in args.workers if "mentions" in stages else ():
        save(f"mentions_w{workers}", child("mentions", str(source), str(args.mention_pages), str(workers)))
    report(results)
    for workers in sorted(set(args.workers) - {most}, reverse=True) if build else ():  # last: the speed-up, the longest
        out = work / f"idx-{pages}-w{workers}"
        save(f"index_w{workers}", measure_index(source, out, workers))
        subprocess.run(["rm", "-rf", str(out)], check=True)
        report(results)
    if not args.keep:
        subprocess.run(["rm", "-rf", str(index_dir)], check=True)


def say(text: str) -> None:
    print(f"[{datetime.datetime.now(datetime.timezone.utc):%H:%M:%S}] {text}", file=sys.stderr, flush=True)


def read_results() -> dict:
    return json.loads(RESULTS.read_text()) if RESULTS.exists() else {}


def write_results(results: dict) -> None:
    tmp = RESULTS.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
    tmp.replace(RESULTS)


# ---------------------------------------------------------------- the report

def figures(entry: dict) -> dict[str, tuple[str, float | None]]:
    """name -> (unit, value) of one size, the figures tabulated and fitted."""
    def get(stage: str, key: str, sub: str | None = None):
        value = entry.get(stage, {}).get(key)
        return value.get(sub) if isinstance(value, dict) and sub else value

    workers = sorted(int(k.split("_w")[1]) for k in entry if k.startswith("index_w"))
    top = f"index_w{max(workers)}" if workers else "index_w2"
    out = {"corpus generation (`ltrl corpus demo`), wall": ("s", get("corpus", "generate_seconds")),
           "input KILT file, gzip": ("MB", get("corpus", "input_mb_gz"))}
    for w in workers:
        out[f"`ltrl index --threads {w}`, wall"] = ("s", get(f"index_w{w}", "seconds"))
        out[f"`ltrl index --threads {w}`, pages/s"] = ("pages/s", get(f"index_w{w}", "pages_per_s"))
    out.update({
        "index, peak RSS of Python": ("MB", get(top, "python_peak_mb")),
        "index, peak RSS of the JVM (Lucene)": ("MB", get(top, "jvm_peak_mb")),
        "index, CPU time of Python (the merge's JVM inside)": ("s", get(top, "python_cpu_s")),
        "index, CPU time of the indexing JVM": ("s", get(top, "jvm_cpu_s")),
        "disk: Lucene": ("MB", get(top, "disk_mb", "lucene")),
        "disk: page store": ("MB", get(top, "disk_mb", "pages")),
        "disk: graph": ("MB", get(top, "disk_mb", "graph")),
        "disk: whole index": ("MB", get(top, "disk_mb", "all")),
        "search p50 (one query at a time, k=5)": ("ms", get("search", "search_p50_ms")),
        "search p99": ("ms", get("search", "search_p99_ms")),
        "search, one at a time": ("q/s", get("search", "search_qps_one")),
        "search, batches of 100 (`batch_search`)": ("q/s", get("search", "search_qps_batch")),
        "open a page, p50 (first open)": ("ms", get("search", "open_p50_ms")),
        "search + open process, peak RSS (JVM inside)": ("MB", get("search", "peak_rss_mb")),
        "search + open process, heap at the end (anonymous RSS, the JVM's inside)": ("MB", get("search", "heap_mb")),
        "walker, 8-hop walks (`random_paths`)": ("walks/s", get("walk", "walks_per_s")),
        "`ltrl walk` records with anchor evidence": ("records/s", get("walk", "walk_records_per_s")),
        "walk process, peak RSS (mapped index files included)": ("MB", get("walk", "peak_rss_mb")),
        "walk process, heap at the end (anonymous RSS)": ("MB", get("walk", "heap_mb")),
        "link inference: automaton over all titles, build": ("s", get("mentions_w1", "mention_build_s")),
        "link inference: automaton, peak RSS": ("MB", get("mentions_w1", "mention_build_rss_mb")),
    })
    for w in sorted(int(k.split("_w")[1]) for k in entry if k.startswith("mentions_w")):
        out[f"link inference, {w} process(es)"] = ("pages/s", get(f"mentions_w{w}", "mention_pages_per_s"))
    out.update({
        "`assemble` 128K, cold token cache": ("contexts/s", get("assemble", "assemble_cold_per_s")),
        "`assemble` 128K, warm token cache": ("contexts/s", get("assemble", "assemble_warm_per_s")),
        "assemble process, peak RSS (mapped index files included)": ("MB", get("assemble", "peak_rss_mb")),
        "assemble process, heap at the end (anonymous RSS)": ("MB", get("assemble", "heap_mb")),
    })
    return out


def loads(entry: dict) -> str:
    values = [v for stage in entry.values() if isinstance(stage, dict)
              for k, v in stage.items() if k.startswith("load_")]
    return f"{min(values):.1f}-{max(values):.1f}" if values else "-"


def fit(sizes: list[int], values: list[float]) -> float | None:
    """The least-squares slope of log(value) on log(pages): 1 linear, 0 flat."""
    pairs = [(math.log(n), math.log(v)) for n, v in zip(sizes, values) if v]
    if len(pairs) < 2:
        return None
    mx, my = sum(x for x, _ in pairs) / len(pairs), sum(y for _, y in pairs) / len(pairs)
    den = sum((x - mx) ** 2 for x, _ in pairs)
    return sum((x - mx) * (y - my) for x, y in pairs) / den if den else None


def large(present: list[tuple[int, float]]) -> list[tuple[int, float]]:
    """The (size, value) pairs the slope is fitted on: the sizes of at least a tenth of the
    largest, if two have a value. Below that, fixed costs (a JVM's start, a process's
    imports) hide the growth: indexing 10k pages took 13 s of which ~5 s were start-up,
    which made a linear cost look like n^0.76 over 10k-1M.

    >>> large([(10_000, 1.0), (100_000, 2.0), (1_000_000, 3.0)])
    [(100000, 2.0), (1000000, 3.0)]
    >>> large([(10_000, 1.0), (1_000_000, 3.0)])
    [(10000, 1.0), (1000000, 3.0)]
    """
    if not present:
        return present
    top = max(n for n, _ in present)
    kept = [(n, v) for n, v in present if n * 10 >= top]
    return kept if sum(1 for _, v in kept if v) >= 2 else present


def growth(slope: float | None, unit: str) -> str:
    if slope is None:
        return "-"
    rate = unit.endswith("/s")
    cost = -slope if rate else slope  # a rate falling as n grows is a cost per item rising
    word = ("flat" if abs(cost) < 0.15 else "~log n" if cost < 0.35 else "sub-linear" if cost < 0.85
            else "linear" if cost < 1.15 else "n log n" if cost < 1.3 else "super-linear")
    if rate:
        word = "per-item cost " + word
    return f"{slope:+.2f} ({word})"


def project(sizes: list[int], values: list[float], slope: float | None) -> float | None:
    if slope is None or not values[-1]:
        return None
    return values[-1] * (KILT_PAGES / sizes[-1]) ** slope


def fmt(value) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.1f}" if abs(value) >= 10 else f"{value:,.2f}"


def report(results: dict) -> None:
    """Write the block in docs/performance.md and docs/scale.png from the saved results."""
    if NO_DOCS:
        return
    from bench.common import machine

    entries = [results[k] for k in sorted(results, key=int)]
    if not entries:
        raise SystemExit(f"bench-scale: {RESULTS} holds no results yet")
    sizes = [e["pages"] for e in entries]
    names: dict[str, str] = {}  # every figure any size has, in the order of the richest size
    for e in sorted(entries, key=lambda e: -len(figures(e))):
        names.update((name, unit) for name, (unit, _) in figures(e).items() if name not in names)
    rows = {name: (unit, [figures(e).get(name, (unit, None))[1] for e in entries]) for name, unit in names.items()}
    lines = [START, "", f"## Scale: {sizes[0]:,} to {sizes[-1]:,} pages, projected to KILT", "",
             f"Written by `make bench-scale` (bench/bench_scale.py) on {machine()}, no GPU; raw figures in "
             "docs/scale.json, curves in docs/scale.png. The machine is shared with other jobs: the load average "
             "(1 min) during each size's measurements is in the header row. Corpora are `ltrl corpus demo --pages "
             "N` (~16 paragraphs, ~13 anchors, ~3.4 KB of text and a ~17-character title a page).", "",
             "| figure | unit | " + " | ".join(f"{n:,} pages" for n in sizes) + " | log-log slope (growth) "
             f"| KILT, {KILT_PAGES / 1e6:.1f}M pages (projected) |",
             "|---|---|" + "---|" * len(sizes) + "---|---|",
             "| date, load | | " + " | ".join(f"{e.get('date', '-')}, load {loads(e)}" for e in entries) + " | | |"]
    for name, (unit, values) in rows.items():
        present = large([(n, v) for n, v in zip(sizes, values) if v is not None])
        slope = fit([n for n, _ in present], [v for _, v in present])
        projected = project([n for n, _ in present], [v for _, v in present], slope) if present else None
        lines.append(f"| {name} | {unit} | " + " | ".join(fmt(v) for v in values) +
                     f" | {growth(slope, unit)} | {fmt(projected)} |")
    lines += ["", PROJECTION_NOTE, "", END]
    write_block("\n".join(lines) + "\n")
    plot(sizes, rows)


PROJECTION_NOTE = ("The slope is fitted on the sizes of at least a tenth of the largest (below that, "
                   "start-up costs hide the growth). The projection extends the last measured size along "
                   "it (value x (5.9M / last size) ^ slope), in demo pages (KILT's are ~1.2x longer in "
                   "bytes). A slope fitted on few sizes is a rough guide only, and wall-clock figures "
                   "taken at different load averages carry the load's change in their slope: read them "
                   "with the load row.")


def write_block(block: str) -> None:
    text = PERFORMANCE.read_text() if PERFORMANCE.exists() else ""
    start, end = text.find(START), text.find(END)
    if start >= 0 and end > start:
        text = text[:start] + block + text[end + len(END) + 1:]
    else:
        text = text.rstrip("\n") + "\n\n" + block
    PERFORMANCE.write_text(text)


def plot(sizes: list[int], rows: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    drawn = [(name, unit, values) for name, (unit, values) in rows.items() if sum(v is not None for v in values) >= 1]
    cols = 4
    fig, axes = plt.subplots(math.ceil(len(drawn) / cols), cols, figsize=(4 * cols, 3 * math.ceil(len(drawn) / cols)))
    for ax, (name, unit, values) in zip(axes.flat, drawn):
        xs = [n for n, v in zip(sizes, values) if v]
        ax.plot(xs, [v for v in values if v], "o-")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(name.replace("`", "")[:48], fontsize=8)
        ax.set_ylabel(unit, fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(drawn):]:
        ax.axis("off")
    fig.supxlabel("corpus size (pages)")
    fig.tight_layout()
    fig.savefig(PLOT, dpi=80)
    plt.close(fig)


# ---------------------------------------------------------------- main

def main() -> None:
    global RESULTS, NO_DOCS
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 200_000, 1_000_000], help="pages")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="index threads / link processes")
    parser.add_argument("--work", default=str(ROOT.parent / "scale-work"), help="corpora and indexes (large)")
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--walks", type=int, default=200_000)
    parser.add_argument("--walk-records", type=int, default=5000)
    parser.add_argument("--mention-pages", type=int, default=20000)
    parser.add_argument("--contexts", type=int, default=20)
    parser.add_argument("--stages", nargs="*", choices=["search", "walk", "assemble", "mentions"],
                        default=["search", "walk", "assemble", "mentions"], help="measured after the index")
    parser.add_argument("--results", type=Path, default=RESULTS, help="the JSON the figures go to")
    parser.add_argument("--no-docs", action="store_true", help="write the JSON only, not the docs and plot")
    parser.add_argument("--keep", action="store_true", help="keep each index (default: removed after its size)")
    parser.add_argument("--reuse-index", action="store_true",
                        help="measure the stages after the index on the index a --keep run left, without rebuilding it")
    parser.add_argument("--fresh", action="store_true", help="forget the saved results of the sizes run")
    parser.add_argument("--report", action="store_true", help="only rewrite the docs from docs/scale.json")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(CHILDREN[args.child[0]](*args.child[1:])))
        return
    if args.fresh and args.reuse_index:
        parser.error("--fresh forgets the index figures that --reuse-index keeps; give one of them")
    RESULTS, NO_DOCS = args.results, args.no_docs
    results = read_results()
    if args.report:
        report(results)
        return
    for pages in args.sizes:
        if args.fresh:
            results.pop(str(pages), None)
        measure_size(pages, args, results)
    say(f"wrote {RESULTS}, {PERFORMANCE} and {PLOT}")


if __name__ == "__main__":
    main()
