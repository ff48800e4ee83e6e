"""What the entrance check (ltrl_cli.schema, READS) costs per record, beside parsing the line.

    python bench/bench_schema.py

For each stage, a record of realistic size is checked N times and parsed N times
(orjson.loads of its JSONL line, which every stage pays anyway), best of 5 runs each;
prints microseconds per record for both and their ratio. Records: a search-agent output with K=16 rollouts of 100
seen ids each (tier), a 128K-token assembled record with 60 documents (stats, export,
grpo), a walk of 9 pages with anchors (synth), a question (search-agent, assemble).
"""

from __future__ import annotations

import argparse
import time

import orjson

from ltrl_cli.records import READS


def records() -> dict[str, dict]:
    hop = {"id": "12345", "title": "Ulm Minster",
           "anchor": {"text": "Ulm", "paragraph_id": 3, "paragraph": "A paragraph of about a hundred words. " * 12}}
    walk = {"id": "walk-1", "path": [hop] * 9, "walk": {"seed": 0, "hops": 8, "start": "12345"}}
    question = {**walk, "question": "Which river flows through the city where ...?", "answer": "Danube",
                "gold_entities": ["Ulm", "Baden-Wuerttemberg", "Germany"]}
    rollout = {"index": 0, "seed": 1, "steps": [{"turn": 1, "action": "search", "arguments": {"query": "q"},
                                                 "result_ids": [str(i) for i in range(10)]}] * 12,
               "seen": [str(i) for i in range(100)], "opened": [str(i) for i in range(20)], "cited": ["1", "2"],
               "answer": "Danube", "stop": "answered", "turns": 12, "tokens": {"prompt": 30000, "completion": 2000},
               "cached_turns": 0, "time_s": 3.2, "correct": True, "judge": {"name": "contains"}}
    tiered = {**question, "rollouts": [rollout] * 16, "tiers": {"gold": ["1"] * 9, "tier1": [str(i) for i in range(30)],
                                                               "tier2": [str(i) for i in range(80)]}}
    doc = {"id": "123", "title": "Ulm", "tier": "tier1", "tokens": 2210, "truncated": False, "span": [171, 9350]}
    training = {"id": "walk-1", "source": "longqa",
                "input_messages": [{"role": "user", "content": "word " * 100_000}], "label": "Danube",
                "metadata": {"rubrics": ["Ulm", "Germany"], "question": "Which river?", "docs": [doc] * 60,
                             "tokens": 131000, "target_tokens": 131072, "strategy": "traj-tiered",
                             "tokenizer": "tiktoken:o200k_base", "seed": 0}}
    return {"synth": walk, "search-agent": question, "tier": tiered, "assemble": tiered, "stats": training,
            "export": training, "grpo": training}


def per_record(fn, n: int, repeats: int = 5) -> float:
    """Microseconds per call: the best of `repeats` runs of `n` calls (a shared machine's
    other jobs only ever add time)."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(n):
            fn()
        best = min(best, time.perf_counter() - start)
    return best / n * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-n", type=int, default=500, help="repetitions per measurement")
    args = parser.parse_args()
    print(f"{'stage':<14}{'line KB':>9}{'check us':>10}{'parse us':>10}{'check/parse':>13}")
    for stage, record in records().items():
        line = orjson.dumps(record)
        READS[stage].check(record)  # valid, or the bench measures an error path
        check = per_record(lambda: READS[stage].check(record), args.n)
        parse = per_record(lambda: orjson.loads(line), args.n)
        print(f"{stage:<14}{len(line) / 1024:>9.1f}{check:>10.1f}{parse:>10.1f}{check / parse:>13.2f}")


if __name__ == "__main__":
    main()
