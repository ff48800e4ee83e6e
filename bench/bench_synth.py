"""Does `synth` keep the configured number of requests in flight?

A local OpenAI-compatible endpoint (aiohttp, its own process) answers every request after
a fixed delay with a well-formed question. With C requests in flight and delay D, the best
possible rate is C / D records per second; the ratio measured / ideal says how much of the
window the client side (bounded_map, the HTTP client, the cache, the stage's own work)
leaves idle. The peer in the same run is the bare client: bounded_map over
OpenAIChat.chat with a one-line prompt, no stage work and no cache.

    python bench/bench_synth.py                       # C=64, D=0.5 s and 1.0 s, 640 records each
    python bench/bench_synth.py --delays 0.25 --records 1280 --concurrency 64 128

Walks come from the demo corpus (pages held in a MemoryIndex, so no JVM is involved).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.endpoint import fixed_delay_endpoint  # noqa: E402

ATTRIBUTE = re.compile(r"^(Born|Died|Founded|Established|Published|Completed|Population|Members|Length|Elevation|"
                       r"Pages|Duration|Area): (.+)$", re.M)


# ---------------------------------------------------------------- the endpoint's reply


def answer(body: dict) -> dict:
    """The chat.completion body for `body`: a question whose answer is the final page's attribute."""
    prompt = body["messages"][-1]["content"]
    found = ATTRIBUTE.search(prompt.split("Final page: ", 1)[-1])
    value = found.group(2) if found else "unknown"
    content = json.dumps({"question": "Following the chain, what is recorded for the last entity?",
                          "answer": value, "gold_entities": []})
    return {"choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1}}


# ---------------------------------------------------------------- the client side


def demo_walks(n: int, hops: int = 8, pages: int = 2000, seed: int = 0):
    """n walks along the demo corpus' anchors, and a MemoryIndex of its pages."""
    from urllib.parse import unquote

    from ltrl_cli.backends.base import MemoryIndex, title_key
    from ltrl_cli.corpus import generate_demo

    corpus = list(generate_demo(pages, seed))
    index = MemoryIndex(corpus)
    by_title = {title_key(p["wikipedia_title"]): str(p["wikipedia_id"]) for p in corpus}
    rng, walks = random.Random(seed), []
    while len(walks) < n:
        path = [str(rng.choice(corpus)["wikipedia_id"])]
        hops_out = []
        while len(path) <= hops:
            page = index.page(path[-1])
            links = [a for a in page["anchors"] if by_title.get(title_key(unquote(a["href"]))) not in (None, *path)]
            if not links:
                break
            link = rng.choice(links)
            path.append(by_title[title_key(unquote(link["href"]))])
            hops_out.append({"text": link["text"], "paragraph_id": link["paragraph_id"],
                             "paragraph": page["text"][link["paragraph_id"]]})
        if len(path) == hops + 1:
            walk = [{"id": path[0], "title": index.title(path[0])}]
            walk += [{"id": p, "title": index.title(p), "anchor": a} for p, a in zip(path[1:], hops_out)]
            walks.append({"id": f"bench-{len(walks)}", "path": walk})
    return walks, index


def run_synth(url: str, walks: list[dict], index, concurrency: int) -> tuple[float, int]:
    from ltrl_cli.llm.cache import CachedLLM, ResponseCache
    from ltrl_cli.llm.openai import OpenAIChat
    from ltrl_cli.stages.synth import synth
    from ltrl_cli.synth.prompt import LLMWriter
    from ltrl_cli.synth.questions import SynthOptions

    options = SynthOptions(concurrency=concurrency)
    with tempfile.TemporaryDirectory() as tmp:
        llm = CachedLLM(OpenAIChat(url, "bench", connections=max(100, concurrency)),
                        ResponseCache(Path(tmp) / "llm.sqlite"))
        started = time.perf_counter()
        accepted = sum(r["synth"]["accepted"] for r in synth(walks, pages=index, writer=LLMWriter(llm, options),
                                                             options=options))
        return time.perf_counter() - started, accepted


def run_bare(url: str, n: int, concurrency: int) -> float:
    from ltrl_cli.concurrency import bounded_map
    from ltrl_cli.llm.base import ChatRequest
    from ltrl_cli.llm.openai import OpenAIChat

    llm = OpenAIChat(url, "bench", connections=max(100, concurrency))

    async def ask(i: int) -> str:
        return (await llm.chat(ChatRequest([{"role": "user", "content": f"Final page: x{i}\nPages: {i}"}]))).content

    started = time.perf_counter()
    for _ in bounded_map(ask, range(n), concurrency=concurrency):
        pass
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--delays", type=float, nargs="+", default=[0.5, 1.0])
    parser.add_argument("--concurrency", type=int, nargs="+", default=[64])
    parser.add_argument("--records", type=int, default=640)
    args = parser.parse_args()
    walks, index = demo_walks(args.records)
    print(f"{os.cpu_count()} CPUs, {args.records} walks of 8 hops; ratio = (records/s) / (concurrency/delay)")
    print(f"{'delay':>6} {'conc':>5} {'what':>6} {'seconds':>8} {'rec/s':>7} {'ideal':>7} {'ratio':>6}")
    for delay in args.delays:
        with fixed_delay_endpoint(delay, reply="bench.bench_synth:answer") as url:
            for concurrency in args.concurrency:
                ideal = concurrency / delay
                bare = run_bare(url, args.records, concurrency)
                seconds, accepted = run_synth(url, walks, index, concurrency)
                assert accepted == len(walks), f"only {accepted} of {len(walks)} accepted"
                for what, took in (("bare", bare), ("synth", seconds)):
                    rate = args.records / took
                    print(f"{delay:>6.2f} {concurrency:>5} {what:>6} {took:>8.2f} {rate:>7.1f} {ideal:>7.1f} "
                          f"{rate / ideal:>6.3f}")


if __name__ == "__main__":
    main()
