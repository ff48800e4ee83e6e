"""Benchmarks for `ltrl search-agent` (run by hand; figures go into docs/search-agent.md).

    .venv/bin/python bench/bench_agent.py steps     # agent turns/s vs a fixed-delay endpoint, concurrency 64
    .venv/bin/python bench/bench_agent.py search    # search tool latency p50/p99 and batch QPS, Wikispeedia

`steps`: the endpoint (a small aiohttp server, in its own process) waits a fixed delay per
request and plays a scripted agent (search, open the first result, cite and answer),
over the Lucene index of the demo corpus. Ideal turns/s = concurrency / delay; the
figure is the ratio reached, with the time spent in our own loop (search batching,
parsing, bookkeeping) included. A delay-0 run shows the loop's own ceiling.

`search`: builds (or reuses, --index DIR) the Lucene index of the shared Wikispeedia pages
and times, on queries cut from real page text: one search at a time through the index
(p50/p99), Anserini's bare search for comparison (ids and scores, no page parse or
snippet), one at a time through the agent's async tool path (IndexService: a thread hop),
Lucene batch_search in batches of 64 (QPS), and 64 concurrent tool searches, which the
tool path turns into batches (QPS).
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import random
import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared" / "data"

from bench.endpoint import fixed_delay_endpoint  # noqa: E402
from tests.fake_openai import completion  # noqa: E402

IDS = re.compile(r"\[id: ([^\]]+)\]")


def scripted_agent(body: dict) -> dict:
    """The endpoint's reply, a scripted agent: search, open the first result, cite and answer."""
    turn = sum(m["role"] == "assistant" for m in body["messages"])
    if turn == 0:
        question = body["messages"][1]["content"].split(":", 1)[1]
        return completion(None, tool_calls=[{"name": "search", "arguments": {"query": question}}])
    ids = IDS.findall(body["messages"][-1]["content"]) or ["0"]
    if turn == 1:
        return completion(None, tool_calls=[{"name": "open", "arguments": {"id": ids[0]}}])
    return completion(None, tool_calls=[{"name": "cite", "arguments": {"ids": ids[:1]}},
                                        {"name": "answer", "arguments": {"text": "1879"}}])


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# ---------------------------------------------------------------- steps/s


def demo_index(tmp: Path, pages: int) -> Path:
    from ltrl_cli.corpus import generate_demo
    from ltrl_cli.io import dumps
    from ltrl_cli.stages.index import build_index

    source = tmp / "demo.jsonl"
    source.write_bytes(b"".join(dumps(p) for p in generate_demo(pages, 0)))
    build_index(source, tmp / "idx", threads=1)
    return tmp / "idx"


def questions(index, n: int) -> list[dict]:
    rng = random.Random(0)
    ids = index.random_ids(n, rng)
    return [{"id": f"q{i}", "question": index.page(pid)["text"][1].strip(), "answer": "1879"}
            for i, pid in enumerate(ids)]


class Occupancy:
    """Wraps an LLM and measures the calls in flight over time (time-weighted) and latency."""

    def __init__(self, inner):
        self.inner, self.name, self.model = inner, inner.name, inner.model
        self.in_flight, self.area, self.mark = 0, 0.0, None
        self.latencies: list[float] = []

    def _tick(self, change: int) -> None:
        now = time.perf_counter()
        if self.mark is not None:
            self.area += self.in_flight * (now - self.mark)
        self.mark, self.in_flight = now, self.in_flight + change

    async def chat(self, request):
        self._tick(+1)
        started = time.perf_counter()
        try:
            return await self.inner.chat(request)
        finally:
            self.latencies.append(time.perf_counter() - started)
            self._tick(-1)


def run_steps(index, records: list[dict], delay: float, concurrency: int, k: int) -> dict:
    from ltrl_cli.reward.judge import make_judge
    from ltrl_cli.llm.openai import OpenAIChat
    from ltrl_cli.stages.search_agent import AgentOptions, search_agent
    from ltrl_cli.stats import Stats

    with fixed_delay_endpoint(delay, reply="bench.bench_agent:scripted_agent") as base_url:
        llm = Occupancy(OpenAIChat(base_url, "fake", max_retries=0, connections=concurrency * 2))
        options = AgentOptions(rollouts=k, protocol="tools", concurrency=concurrency)
        stats = Stats()
        started = time.perf_counter()
        out = list(search_agent(records, llm=llm, index=index, judge=make_judge("contains"), options=options,
                                stats=stats))
        elapsed = time.perf_counter() - started
    turns = sum(r["turns"] for rec in out for r in rec["rollouts"])
    ideal = concurrency / delay if delay else float("nan")
    latency = sorted(llm.latencies)
    return {"delay_s": delay, "concurrency": concurrency, "questions": len(records), "rollouts": stats["rollouts"],
            "turns": turns, "failed": stats["failed rollouts"], "seconds": round(elapsed, 2),
            "mean_in_flight": round(llm.area / elapsed, 1), "latency_p50_s": round(percentile(latency, 0.5), 3),
            "latency_p99_s": round(percentile(latency, 0.99), 3),
            "turns_per_s": round(turns / elapsed, 1), "ideal_turns_per_s": round(ideal, 1),
            "ratio_to_ideal": round(turns / elapsed / ideal, 3) if delay else None}


def bench_steps(args: argparse.Namespace) -> None:
    from ltrl_cli.backends.index import open_index

    with tempfile.TemporaryDirectory() as tmp:
        index = open_index(args.index or demo_index(Path(tmp), 400))
        records = questions(index, args.questions)
        for delay in (args.delay, 0.0):
            print(json.dumps(run_steps(index, records, delay, args.concurrency, args.k)), flush=True)
        index.close()


# ---------------------------------------------------------------- search


def wikispeedia_queries(n: int) -> list[str]:
    """Queries cut from real page text: 3-8 consecutive words of a random paragraph."""
    rng = random.Random(1)
    paragraphs = []
    with gzip.open(SHARED / "wikispeedia-kilt.jsonl.gz", "rt") as f:
        for line in f:
            text = json.loads(line)["text"]
            paragraphs.extend(p for p in text[1:4] if len(p.split()) > 10)
    queries = []
    for paragraph in rng.sample(paragraphs, n):
        words = paragraph.split()
        start, size = rng.randrange(len(words) - 8), rng.randint(3, 8)
        queries.append(" ".join(words[start : start + size]))
    return queries


def timed_each(fn, queries: list[str]) -> list[float]:
    latencies = []
    for query in queries:
        started = time.perf_counter()
        fn(query)
        latencies.append((time.perf_counter() - started) * 1000)
    return latencies


def bench_search(args: argparse.Namespace) -> None:
    from ltrl_cli.agent.tools import IndexService
    from ltrl_cli.backends.index import open_index
    from ltrl_cli.stages.index import build_index

    source = SHARED / "wikispeedia-kilt.jsonl.gz"
    if not args.index and not source.exists():
        sys.exit(f"{source} not found")
    with tempfile.TemporaryDirectory() as tmp:
        path = args.index
        if path is None:
            started = time.perf_counter()
            build_index(source, Path(tmp) / "idx", threads=2)
            path = Path(tmp) / "idx"
            print(json.dumps({"build_s": round(time.perf_counter() - started, 1)}), flush=True)
        index = open_index(path)
        queries = wikispeedia_queries(args.queries)
        index.search(queries[0], 5)  # start the JVM and warm up
        single = timed_each(lambda q: index.search(q, args.k), queries)
        report("index.search, one at a time", single, len(queries))
        # The peer: Anserini's own search, ids and scores only, without the stored page's
        # JSON parse and the snippet that a Hit carries (what our Python side adds).
        bare = timed_each(lambda q: index.lucene._searcher.search(q, args.k), queries)
        report("Lucene alone (no page parse, no snippet), one at a time", bare, len(queries))
        started = time.perf_counter()
        for i in range(0, len(queries), 64):
            index.batch_search(queries[i : i + 64], args.k)
        qps = len(queries) / (time.perf_counter() - started)
        print(json.dumps({"case": "index.batch_search, batches of 64", "qps": round(qps, 1)}), flush=True)
        tool_path(IndexService, index, queries, args.k)
        index.close()


def tool_path(service_cls, index, queries: list[str], k: int) -> None:
    async def one_at_a_time(service) -> list[float]:
        latencies = []
        for query in queries:
            started = time.perf_counter()
            await service.search(query, k)
            latencies.append((time.perf_counter() - started) * 1000)
        return latencies

    async def concurrent(service, width: int = 64) -> float:
        started = time.perf_counter()
        for i in range(0, len(queries), width):
            await asyncio.gather(*(service.search(q, k) for q in queries[i : i + width]))
        return len(queries) / (time.perf_counter() - started)

    service = service_cls(index)
    try:
        report("search tool (IndexService), one at a time", asyncio.run(one_at_a_time(service)), len(queries))
        qps = asyncio.run(concurrent(service))
        print(json.dumps({"case": "search tool, 64 concurrent (micro-batched)", "qps": round(qps, 1)}), flush=True)
    finally:
        service.close()


def report(case: str, latencies: list[float], n: int) -> None:
    print(json.dumps({"case": case, "queries": n, "p50_ms": round(percentile(latencies, 0.5), 2),
                      "p99_ms": round(percentile(latencies, 0.99), 2),
                      "qps": round(1000 * n / sum(latencies), 1)}), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="what", required=True)
    steps = sub.add_parser("steps")
    steps.add_argument("--index", type=Path, help="an ltrl index (default: the demo corpus, 400 pages, built here)")
    steps.add_argument("--delay", type=float, default=0.5)
    steps.add_argument("--concurrency", type=int, default=64)
    steps.add_argument("--questions", type=int, default=400)
    steps.add_argument("-k", type=int, default=4)
    search = sub.add_parser("search")
    search.add_argument("--index", type=Path, help="an ltrl index of Wikispeedia (default: built here)")
    search.add_argument("--queries", type=int, default=2000)
    search.add_argument("-k", type=int, default=5)
    args = parser.parse_args()
    bench_steps(args) if args.what == "steps" else bench_search(args)


if __name__ == "__main__":
    main()
