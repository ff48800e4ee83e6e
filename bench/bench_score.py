"""Benchmarks for `ltrl score` (run by hand; figures go into docs/score.md).

    .venv/bin/python bench/bench_score.py rubric            # rubric on 32K-token responses: ltrl vs a few-line peer
    .venv/bin/python bench/bench_score.py judge             # LLM judge vs a fixed-delay endpoint
    .venv/bin/python bench/bench_score.py server            # reward server, 200 clients, 60 s
    .venv/bin/python bench/bench_score.py health            # GET /health while a 1,000-response group is scored

Everything runs on loopback. The fixed-delay endpoint and the reward server run in their
own processes so that the client's event loop does not share a core's GIL with them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gzip
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
# ../shared/data beside the checkout (a git worktree under wt/ looks one level further up).
SHARED = next((p for p in (ROOT.parent / "shared" / "data", ROOT.parent.parent / "shared" / "data") if p.exists()),
              ROOT.parent / "shared" / "data")

from bench.endpoint import fixed_delay_endpoint  # noqa: E402

VERDICT = "bench.bench_score:verdict"  # the fixed-delay endpoint's reply, below


# ---------------------------------------------------------------- rubric scoring

def wiki_text(chars: int, offset: int) -> str:
    """Real Wikipedia prose (the shared Wikispeedia pages) or, without it, repeated filler."""
    path = SHARED / "wikispeedia-kilt.jsonl.gz"
    if not path.exists():
        print(f"note: {path} not found; using synthetic text", file=sys.stderr)
        return ("The river Seine flows through Paris, the capital of France. " * (chars // 60 + 1))[:chars]
    parts, total = [], 0
    with gzip.open(path, "rt") as f:
        for number, line in enumerate(f):
            if number < offset:
                continue
            for paragraph in json.loads(line)["text"][1:]:
                parts.append(paragraph)
                total += len(paragraph)
            if total >= chars:
                break
    return "\n".join(parts)[:chars]


def token_count(text: str) -> tuple[int, float]:
    """cl100k tokens in `text` and the seconds tiktoken took (a reference cost), or (-1, nan)."""
    os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(SHARED / "tiktoken"))
    try:
        import tiktoken

        encoding = tiktoken.get_encoding("cl100k_base")
    except Exception:
        return -1, float("nan")
    started = time.perf_counter()
    count = len(encoding.encode(text, disallowed_special=()))
    return count, time.perf_counter() - started


RUBRICS = ["Paris", "Charles Darwin", "Atlantic Ocean", "World War II", "Isaac Newton", "Roman Empire", "Nile",
           "Shakespeare"]
_PEER_TOKEN = re.compile(r"[a-z0-9_]+|[\u4e00-\u9fff]")


def peer_rubric(responses: list[str], rubrics: list[str]) -> list[float]:
    """The method's rubric rule in a few lines, as anyone would write it: the final content
    after the last </think>, normalised, entity recall, divided by the group's maximum."""
    norm = lambda text: " ".join(_PEER_TOKEN.findall(text.lower()))  # noqa: E731
    entities = [norm(e) for e in rubrics]
    texts = [norm(r.split("</think>")[-1]) for r in responses]
    recalls = [sum(e in text for e in entities) / len(entities) for text in texts]
    top = max(recalls)
    return [x / top if top > 0 else x for x in recalls]


def rubric_group(chars: int = 124_000) -> list[str]:
    """One GRPO group of 8 distinct ~32K-token responses: 90% reasoning, 10% final content."""
    responses = []
    for i in range(8):
        body = wiki_text(chars, offset=i * 40)
        split = int(len(body) * 0.9)
        responses.append(f"<think>{body[:split]}</think>{body[split:]}")
    return responses


def _rate(fn, seconds: float) -> float:
    """Responses per second of `fn` (one call scores a group of 8), over `seconds`."""
    started, rounds = time.perf_counter(), 0
    while time.perf_counter() - started < seconds:
        fn()
        rounds += 1
    return rounds * 8 / (time.perf_counter() - started)


def compare_rubric(chars: int = 124_000, seconds: float = 2.0, repeats: int = 3) -> dict:
    """ltrl's rubric reward on final content (`score_group` end to end: split, normalise,
    search, group-normalise, combine) against `peer_rubric`, on one core, warmed up and
    interleaved; returns {"ltrl": [...], "peer": [...], "ratio": [...]} in responses/s
    (min, median, max of `repeats`), for `make bench` and for this script."""
    from ltrl_cli.reward.rules import score_group

    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core
    responses = rubric_group(chars)
    ours = [r.rubric_reward_normalized for r in score_group(responses, [1.0] * 8, RUBRICS)]
    assert ours == peer_rubric(responses, RUBRICS), "ltrl and the peer disagree: not the same rule"
    run_ltrl = lambda: score_group(responses, [1.0] * 8, RUBRICS)  # noqa: E731
    run_peer = lambda: peer_rubric(responses, RUBRICS)  # noqa: E731
    run_ltrl(), run_peer()  # warm up
    ltrl, peer = [], []
    for _ in range(repeats):  # interleaved, so drifting load hits both alike
        ltrl.append(_rate(run_ltrl, seconds))
        peer.append(_rate(run_peer, seconds))
    ratio = sorted(a / b for a, b in zip(ltrl, peer))
    return {"ltrl": sorted(ltrl), "peer": sorted(peer), "ratio": ratio}


def _spread(values: list[float], fmt: str = "{:,.0f}") -> str:
    return "/".join(fmt.format(v) for v in (values[0], values[len(values) // 2], values[-1]))


def bench_rubric(args: argparse.Namespace) -> None:
    from ltrl_cli.reward.rules import score_group

    result = compare_rubric(args.chars, args.seconds, args.repeats)
    responses = rubric_group(args.chars)
    tokens, tiktoken_s = token_count(responses[0])
    print(f"responses: 8 x {len(responses[0]):,} chars (~{tokens:,} cl100k tokens); rubric of {len(RUBRICS)} entities")
    print(f"rubric on final content, responses/s on one core (min/median/max of {args.repeats}):")
    print(f"  ltrl {_spread(result['ltrl'])}   peer {_spread(result['peer'])}   "
          f"ratio {_spread(result['ratio'], '{:.2f}')}")
    rate = _rate(lambda: score_group(responses, [1.0] * 8, RUBRICS, rubric_on="both"), args.seconds)
    print(f"  ltrl, rubric searched in reasoning and content: {rate:,.0f} responses/s")
    if tokens > 0:
        print(f"reference: tiktoken cl100k encoding of one response took {tiktoken_s * 1000:.1f} ms")


# ---------------------------------------------------------------- the LLM judge vs the fixed-delay endpoint

def verdict(body: dict) -> dict:
    """The endpoint's reply (run in its child by bench.endpoint): the judge says "correct: yes"."""
    return {"id": "x", "object": "chat.completion", "created": 0, "model": "fixed",
            "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant",
                         "content": "extracted_final_answer: Paris\nreasoning: same\ncorrect: yes"}}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}


class Process:
    """A helper process that prints something on its first line (a port) before serving."""

    def __init__(self, argv: list[str], *, pattern: str | None = None, stream: str = "stdout"):
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        line = getattr(self.proc, stream).readline().decode()
        if pattern:
            import re

            match = re.search(pattern, line)
            if not match:
                self.proc.kill()
                raise SystemExit(f"helper did not start: {line}{self.proc.stderr.read().decode()}")
            line = match.group(1)
        self.first = line.strip()

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


def bench_judge(args: argparse.Namespace) -> None:
    from ltrl_cli.reward.judge import LLMJudge
    from ltrl_cli.llm.openai import OpenAIChat
    from ltrl_cli.reward.scoring import ScoreOptions
    from ltrl_cli.stages.score import score

    with fixed_delay_endpoint(args.delay, reply=VERDICT) as base_url:
        for concurrency in args.concurrency:
            calls = max(concurrency * args.waves, 8)
            groups = calls // 8
            records = [{"id": f"q{i}", "label": "Paris", "rubrics": ["France"], "question": "Which city?",
                        "responses": [f"<think>r{i}.{j}</think>Paris, France ({j})" for j in range(8)]}
                       for i in range(groups)]
            judge = LLMJudge(OpenAIChat(base_url, "fixed", max_retries=0, connections=max(100, concurrency)))
            started = time.perf_counter()
            out = list(score(iter(records), judge=judge, options=ScoreOptions(), concurrency=concurrency))
            elapsed = time.perf_counter() - started
            judged = sum(1 for r in out for x in r["rewards"] if x["outcome_reward"] == 1.0)
            errors = sum(1 for r in out for x in r["rewards"] if x.get("judge_error"))
            ideal = concurrency / args.delay
            rate = judged / elapsed
            print(f"concurrency {concurrency:4d}: {judged:,} verdicts in {elapsed:.2f}s = {rate:7.1f}/s; "
                  f"ideal {ideal:7.1f}/s; ratio {rate / ideal:.3f}; errors {errors}")


# ---------------------------------------------------------------- the reward server under load

async def load(url: str, clients: int, seconds: float, body: bytes) -> dict:
    import aiohttp

    latencies: list[float] = []
    errors: dict[str, int] = {}
    stop_at = time.perf_counter() + seconds
    connector = aiohttp.TCPConnector(limit=clients)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def client() -> None:
            while time.perf_counter() < stop_at:
                started = time.perf_counter()
                try:
                    async with session.post(url, data=body, headers={"Content-Type": "application/json"}) as reply:
                        data = await reply.read()
                        if reply.status != 200 or b'"reward"' not in data:
                            errors[f"HTTP {reply.status}"] = errors.get(f"HTTP {reply.status}", 0) + 1
                            continue
                except Exception as exc:  # counted, and the run goes on
                    errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
                    continue
                latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(clients)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    pick = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000 if latencies else float("nan")
    return {"requests": len(latencies), "seconds": elapsed, "rps": len(latencies) / elapsed, "p50_ms": pick(0.5),
            "p99_ms": pick(0.99), "max_ms": latencies[-1] * 1000 if latencies else float("nan"),
            "mean_ms": statistics.fmean(latencies) * 1000 if latencies else float("nan"), "errors": errors}


def bench_server(args: argparse.Namespace) -> None:
    response = "<think>" + wiki_text(args.response_chars, 7) + "</think>The answer is Paris, in France."
    body = json.dumps({"label": "Paris", "response": response,
                       "extra_reward_info": {"question": "Which city?",
                                             "rubrics": ["France", "Seine", "Louvre", "Europe", "Napoleon"],
                                             "rubric_reward_ratio": 0.3, "rubric_use_content": True,
                                             "rubric_use_reasoning_content": True,
                                             "dataset_name": "longqa"}}).encode()
    with contextlib.ExitStack() as stack:
        judge_args = ["--judge", "contains"]
        if args.judge == "llm":
            base_url = stack.enter_context(fixed_delay_endpoint(args.delay, reply=VERDICT))
            judge_args = ["--judge", "llm", "--base-url", base_url, "--model", "fixed", "--no-cache",
                          "--concurrency", str(args.clients)]
        server = Process([sys.executable, "-m", "ltrl_cli", "score", "--serve", "--port", "0", *judge_args],
                         pattern=r"http://127\.0\.0\.1:(\d+)", stream="stderr")
        try:
            url = f"http://127.0.0.1:{server.first}/evaluate"
            result = asyncio.run(load(url, args.clients, args.seconds, body))
        finally:
            server.stop()
    print(f"reward server, judge {args.judge}{f' (endpoint delay {args.delay}s)' if args.judge == 'llm' else ''}, "
          f"{args.clients} clients, {result['seconds']:.1f}s, body {len(body):,} bytes "
          f"(rubric searched in ~{len(response):,} chars):")
    print(f"  {result['requests']:,} requests, {result['rps']:.1f} requests/s, p50 {result['p50_ms']:.1f} ms, "
          f"p99 {result['p99_ms']:.1f} ms, max {result['max_ms']:.1f} ms, errors {result['errors'] or 0}")


def health_during(url: str, body: bytes, interval: float) -> dict:
    """Post one large body to `url` from one thread and poll GET /health every `interval` s
    from another (its own connection) until the post is answered."""
    import http.client
    import threading
    import urllib.error
    import urllib.request

    done, result = threading.Event(), {}

    def big() -> None:
        started = time.perf_counter()
        request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=600) as reply:
                reply.read()
                result.update(status=reply.status, seconds=time.perf_counter() - started)
        except urllib.error.HTTPError as exc:
            result.update(status=exc.code, seconds=time.perf_counter() - started, error=exc.read()[:300])
        finally:
            done.set()

    host, port = url.split("/")[2].split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=60)
    connection.request("GET", "/health")  # connect first: the polls time the server, not a handshake
    connection.getresponse().read()
    thread = threading.Thread(target=big)
    thread.start()
    latencies = []
    while not done.is_set():
        started = time.perf_counter()
        connection.request("GET", "/health")
        connection.getresponse().read()
        latencies.append(time.perf_counter() - started)
        time.sleep(interval)
    thread.join()
    latencies.sort()
    return {**result, "polls": len(latencies), "p50_ms": latencies[len(latencies) // 2] * 1000,
            "p99_ms": latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))] * 1000,
            "max_ms": latencies[-1] * 1000}


def bench_health(args: argparse.Namespace) -> None:
    """GET /health while one /evaluate_group of `--responses` responses is scored."""
    text = wiki_text(args.response_chars, 3)
    responses = [f"<think>{text}</think>The answer is Paris ({i})." for i in range(args.responses)]
    body = json.dumps({"label": "Paris", "responses": responses,
                       "extra_reward_info": {"question": "Which city?", "rubrics": RUBRICS,
                                             "rubric_reward_ratio": 0.3, "rubric_use_content": True,
                                             "rubric_use_reasoning_content": True}}).encode()
    server = Process([sys.executable, "-m", "ltrl_cli", "score", "--serve", "--port", "0", "--judge", "contains",
                      "--max-body-mb", "256"], pattern=r"http://127\.0\.0\.1:(\d+)", stream="stderr")
    try:
        result = health_during(f"http://127.0.0.1:{server.first}/evaluate_group", body, args.interval)
    finally:
        server.stop()
    print(f"/evaluate_group with {args.responses:,} responses ({len(body) / 1e6:.1f} MB, rubric over all of each): "
          f"HTTP {result['status']} in {result['seconds']:.2f}s")
    print(f"  GET /health meanwhile: {result['polls']} polls, p50 {result['p50_ms']:.1f} ms, "
          f"p99 {result['p99_ms']:.1f} ms, max {result['max_ms']:.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="what", required=True)
    rubric = sub.add_parser("rubric")
    rubric.add_argument("--chars", type=int, default=124_000, help="characters per response (~32K cl100k tokens)")
    rubric.add_argument("--seconds", type=float, default=2.0, help="timing window per measurement")
    rubric.add_argument("--repeats", type=int, default=3)
    judge = sub.add_parser("judge")
    judge.add_argument("--delay", type=float, default=0.5)
    judge.add_argument("--concurrency", type=int, nargs="+", default=[8, 64])
    judge.add_argument("--waves", type=int, default=20, help="judge calls = concurrency x waves")
    server = sub.add_parser("server")
    server.add_argument("--clients", type=int, default=200)
    server.add_argument("--seconds", type=float, default=60.0)
    server.add_argument("--judge", choices=["contains", "llm"], default="contains")
    server.add_argument("--delay", type=float, default=0.2, help="fixed delay of the LLM judge endpoint")
    server.add_argument("--response-chars", type=int, default=8_000)
    health = sub.add_parser("health")
    health.add_argument("--responses", type=int, default=1000)
    health.add_argument("--response-chars", type=int, default=20_000)
    health.add_argument("--interval", type=float, default=0.01, help="seconds between /health polls")
    args = parser.parse_args()
    {"rubric": bench_rubric, "judge": bench_judge, "server": bench_server, "health": bench_health}[args.what](args)


if __name__ == "__main__":
    main()
