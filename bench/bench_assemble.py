"""Benchmark `ltrl assemble`: 128K-token contexts per second, cold and warm token cache.

    .venv/bin/python bench/bench_assemble.py                      # Wikispeedia pages if present
    .venv/bin/python bench/bench_assemble.py --contexts 60 --tokenizer tiktoken:cl100k_base
    .venv/bin/python bench/bench_assemble.py --corpus demo        # the synthetic corpus
    .venv/bin/python bench/bench_assemble.py --index ws-idx       # + reading pages from ltrl index

Pages are held in memory (a dict-backed PageStore), so the figures are the assembler's
own cost: choosing documents, token counting, truncation, rendering and the exact count of
every final prompt; reading pages from a Lucene index adds its own time (see docs).
Questions get synthetic tiers (8 gold, 20 tier-1, 60 tier-2 random pages) and the
traj-tiered strategy, so every context also draws random fill.

Reported: contexts/s on a first pass (cold cache: pages counted as they are met) and,
after every page has been counted once, on a second pass over new questions (warm cache:
the steady state of a large run where distractors recur), and peak memory. As a peer, the
time of one full tokenisation of each final 128K prompt alone: what the exact count would
cost without TokenCache.count_joined (it would cap the rate at that figure).
"""

from __future__ import annotations

import argparse
import gzip
import os
import random
import resource
import sys
import time
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ltrl_cli.backends.base import page_body  # noqa: E402
from ltrl_cli.backends.tokenize import TokenCache, load_tokenizer  # noqa: E402
from ltrl_cli.context.layout import DOC_SEPARATOR, AssembleOptions, user_turn  # noqa: E402
from ltrl_cli.stages.assemble import assemble  # noqa: E402

WIKISPEEDIA = ROOT.parent / "shared" / "data" / "wikispeedia-kilt.jsonl.gz"


class DictStore:
    """PageStore over pages in a dict (the benchmark leaves the index out of the timing).

    Not base.MemoryIndex: its BM25 tables, which assemble never searches here, took 9 s
    and 430 MB more on Wikispeedia and would swamp the memory figures.
    """

    def __init__(self, pages: list[dict]):
        self.pages = {str(p["wikipedia_id"]): p for p in pages}
        self.ids = sorted(self.pages)

    def page(self, pid):
        return self.pages[str(pid)]

    def title(self, pid):
        return self.pages[str(pid)]["wikipedia_title"]

    def id_for_title(self, title):
        return None

    def random_ids(self, n, rng):
        return rng.sample(self.ids, min(n, len(self.ids)))

    def __len__(self):
        return len(self.ids)


def load_pages(corpus: str) -> list[dict]:
    if corpus == "wikispeedia" and WIKISPEEDIA.exists():
        with gzip.open(WIKISPEEDIA) as f:
            return [orjson.loads(line) for line in f]
    from ltrl_cli.corpus import generate_demo

    return list(generate_demo(3000))


def questions(store: DictStore, n: int, seed: int) -> list[dict]:
    rng, out = random.Random(seed), []
    for i in range(n):
        pages = rng.sample(store.ids, 88)
        out.append({"id": f"bench-{seed}-{i}", "question": f"What links {store.title(pages[0])}?", "answer": "x",
                    "gold_entities": [store.title(p) for p in pages[:8]],
                    "tiers": {"gold": pages[:8], "tier1": pages[8:28], "tier2": pages[28:88]}})
    return out


def timed_pass(records, store, counter, target) -> tuple[float, list[dict]]:
    start = time.perf_counter()
    out = list(assemble(records, store=store, counter=counter, options=AssembleOptions(target_tokens=target)))
    return time.perf_counter() - start, out


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contexts", type=int, default=40)
    parser.add_argument("--target-tokens", type=int, default=131072)
    parser.add_argument("--tokenizer", default="tiktoken:o200k_base")
    parser.add_argument("--corpus", choices=["wikispeedia", "demo"], default="wikispeedia")
    parser.add_argument("--index", help="Also time a pass that reads pages from this `ltrl index` directory "
                        "(built from the same corpus), warm token cache")
    args = parser.parse_args()
    if (ROOT.parent / "shared/data/tiktoken").is_dir():
        os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(ROOT.parent / "shared/data/tiktoken"))

    t0 = time.perf_counter()
    store = DictStore(load_pages(args.corpus))
    rss_pages = peak_rss_mb()
    print(f"corpus: {args.corpus if args.corpus == 'demo' or WIKISPEEDIA.exists() else 'demo'}, "
          f"{len(store):,} pages loaded in {time.perf_counter() - t0:.1f}s, RSS {rss_pages:.0f} MB")
    counter = TokenCache(load_tokenizer(args.tokenizer))
    n, target = args.contexts, args.target_tokens

    cold, out = timed_pass(questions(store, n, 1), store, counter, target)
    # A warm cache: every page of the corpus counted once already, as after the first
    # few thousand questions of a real run, or with --token-cache from an earlier one.
    start = time.perf_counter()
    counter.count_many([page_body(p) + DOC_SEPARATOR for p in store.pages.values()])
    warming = time.perf_counter() - start
    hits, misses = counter.hits, counter.misses
    warm, out = timed_pass(questions(store, n, 2), store, counter, target)
    start = time.perf_counter()
    for record in out:
        counter.tokenizer.count_prompt(user_turn(record["input_messages"][0]["content"]))
    floor = time.perf_counter() - start

    tokens = [r["metadata"]["tokens"] for r in out]
    docs = sum(len(r["metadata"]["docs"]) for r in out) / len(out)
    print(f"tokenizer {args.tokenizer}, target {target:,} tokens, {n} contexts per pass, {docs:.0f} docs/context, "
          f"fill min {min(tokens) / target:.2%}, max tokens {max(tokens):,}")
    print(f"cold cache : {n / cold:6.1f} contexts/s ({cold:.2f}s)")
    print(f"warming the cache: {len(store):,} pages counted in {warming:.1f}s")
    print(f"warm cache : {n / warm:6.1f} contexts/s ({warm:.2f}s; cache hits {counter.hits - hits:,}, "
          f"misses {counter.misses - misses:,}: titles, cut documents)")
    print(f"peer: a full recount of each final prompt alone: {n / floor:6.1f} contexts/s ({floor:.2f}s)")
    if args.index:
        from ltrl_cli.backends.index import open_index

        index = open_index(args.index)
        first, _ = timed_pass(questions(store, n, 3), index, counter, target)
        again, _ = timed_pass(questions(store, n, 3), index, counter, target)
        print(f"pages from the Lucene index: {n / first:6.1f} contexts/s first pass (JVM start, page reads), "
              f"{n / again:6.1f} contexts/s for the same questions again (every page and count cached)")
    print(f"peak RSS {peak_rss_mb():.0f} MB (pages alone {rss_pages:.0f} MB)")


if __name__ == "__main__":
    main()
