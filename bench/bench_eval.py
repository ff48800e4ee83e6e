"""Benchmark for `ltrl eval` (run by hand; figures go into docs/eval.md).

    .venv/bin/python bench/bench_eval.py [--items 100] [--samples 4] [--delay 0.5] [--concurrency 64]

What it measures: the harness's own cost around the model. A fake OpenAI-compatible
endpoint (bench/endpoint.py: its own process, on loopback) answers every request after a
fixed delay, standing in for generation time; `ltrl eval` runs as a subprocess, as a user
runs it, on synthetic LongBench v2 items whose contexts are real Wikipedia prose (the
shared Wikispeedia pages, ~100K characters each). The ideal wall time is requests x delay
/ concurrency; the gap to it is the harness (loading, prompt building, truncation, HTTP,
grading, JSONL out). Then the same output is re-graded with --score-only (no model at
all).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared" / "data"

from bench.endpoint import fixed_delay_endpoint  # noqa: E402
from tests.fake_openai import completion  # noqa: E402


def answer(body: dict) -> dict:
    """The endpoint's reply (run in its child by bench.endpoint): choice B, after some reasoning."""
    return completion("The correct answer is (B)", reasoning="thinking " * 200)


def prose(chars: int, count: int) -> list[str]:
    """`count` texts of `chars` characters of real Wikipedia prose (or filler without it)."""
    path = SHARED / "wikispeedia-kilt.jsonl.gz"
    if not path.exists():
        print(f"note: {path} not found; using synthetic text", file=sys.stderr)
        return [("The river Seine flows through Paris. " * (chars // 37 + 1))[:chars]] * count
    texts, current = [], []
    with gzip.open(path, "rt") as handle:
        for line in handle:
            current.extend(json.loads(line)["text"][1:])
            if sum(map(len, current)) >= chars:
                texts.append("\n".join(current)[:chars])
                current = []
                if len(texts) == count:
                    break
    return texts


def write_items(folder: Path, items: int, chars: int) -> Path:
    rows = []
    for i, context in enumerate(prose(chars, items)):
        rows.append({"_id": f"b{i}", "domain": "Single-Document QA", "sub_domain": "x",
                     "difficulty": ["easy", "hard"][i % 2], "length": ["short", "medium", "long"][i % 3],
                     "question": f"Question {i}?", "choice_A": "a", "choice_B": "b", "choice_C": "c",
                     "choice_D": "d", "answer": "ABCD"[i % 4], "context": context})
    path = folder / "data.json"
    path.write_text(json.dumps(rows))
    return path


def run(args: list[str], stdin: bytes | None = None) -> tuple[float, subprocess.CompletedProcess]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TIKTOKEN_CACHE_DIR": str(SHARED / "tiktoken")}
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "ltrl_cli", "eval", *args], input=stdin, capture_output=True,
                          env=env)
    if done.returncode != 0:
        sys.exit(done.stderr.decode())
    return time.perf_counter() - started, done


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=100)
    parser.add_argument("--samples", type=int, default=4)
    parser.add_argument("--delay", type=float, default=0.5)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--chars", type=int, default=100_000)
    opts = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-eval-"))
    data = write_items(folder, opts.items, opts.chars)
    requests = opts.items * opts.samples
    ideal = requests * opts.delay / opts.concurrency
    with fixed_delay_endpoint(opts.delay, reply="bench.bench_eval:answer") as base_url:
        common = ["-b", "longbench-v2", "--data", str(data), "--base-url", base_url, "--model", "fake",
                  "--samples", str(opts.samples), "--concurrency", str(opts.concurrency), "--no-cache", "-q"]
        plain, out = run(common)
        cut, _ = run([*common, "--max-context", "8192", "--tokenizer", "tiktoken:o200k_base"])
    regrade, _ = run(["-b", "longbench-v2", "--score-only", "-q"], stdin=out.stdout)
    print(f"{opts.items} items x {opts.samples} samples = {requests} requests, {opts.chars:,}-char contexts, "
          f"endpoint delay {opts.delay}s, concurrency {opts.concurrency}")
    print(f"ideal (requests x delay / concurrency): {ideal:.1f}s")
    print(f"ltrl eval:                               {plain:.1f}s  ({requests / plain:.0f} samples/s)")
    print(f"ltrl eval --max-context 8192 (o200k):    {cut:.1f}s  ({requests / cut:.0f} samples/s)")
    print(f"ltrl eval --score-only (no model):       {regrade:.1f}s  ({requests / regrade:.0f} samples/s)")
    print(f"output: {len(out.stdout) / 1e6:.1f} MB JSONL")


if __name__ == "__main__":
    main()
