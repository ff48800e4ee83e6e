"""Synthetic but realistic pipeline records for `ltrl report` at scale (the browser test and
bench/bench_report.py): trajectories (K rollouts of search / open / cite / answer steps
over a chain of 3-8 hops, some leaving the chain), tiered records for the solved
questions, and training records per strategy whose prompts are built from a pool of page
texts with exact spans, as `ltrl assemble` writes them. Written straight to files, one
record at a time.
"""

from __future__ import annotations

import random
from pathlib import Path

import orjson

WORDS = ("harbour river ballad poet town castle museum bridge chapel market guild school painter "
         "island valley festival printing archive mill orchard tower station observatory").split()


def pages(n: int, chars: int, rng: random.Random) -> list[tuple[str, str, str]]:
    """(id, title, text) for n pages of about `chars` characters each."""
    out = []
    for i in range(n):
        title = f"{rng.choice(WORDS).title()} {rng.choice(WORDS).title()} {i}"
        sentences = []
        while sum(len(s) for s in sentences) < chars:
            sentences.append(f"{title} is known for its {rng.choice(WORDS)} and {rng.choice(WORDS)}, "
                             f"founded in {rng.randint(1500, 1990)}. ")
        out.append((str(i), title, "".join(sentences)))
    return out


def write(root: Path, n: int, *, strategies=("traj-tiered", "random"), target_tokens: int = 8192,
          page_chars: int = 2400, pool: int = 4000, rollouts: int = 5, seed: int = 0) -> list[Path]:
    """Write trajectories.jsonl, tiered.jsonl and train-STRATEGY.jsonl for n questions under
    root; their paths."""
    rng = random.Random(seed)
    pool_pages = pages(pool, page_chars, rng)
    files = [root / "trajectories.jsonl", root / "tiered.jsonl"] + [root / f"train-{s}.jsonl" for s in strategies]
    outs = [open(f, "wb") for f in files]
    try:
        for i in range(n):
            record = question(i, pool_pages, rollouts, rng)
            outs[0].write(orjson.dumps(record) + b"\n")
            tiers = tiers_of(record)
            if tiers is None:
                continue
            tiered = {**record, "tiers": tiers}
            outs[1].write(orjson.dumps(tiered) + b"\n")
            for out, strategy in zip(outs[2:], strategies):
                out.write(orjson.dumps(training(tiered, strategy, pool_pages, target_tokens, rng)) + b"\n")
    finally:
        for out in outs:
            out.close()
    return files


def question(i: int, pool: list, rollouts: int, rng: random.Random) -> dict:
    hops = rng.choice((3, 4, 4, 5, 5, 6, 6, 7, 8))
    chain = rng.sample(pool, hops + 1)
    path = [{"id": chain[0][0], "title": chain[0][1]}]
    for before, (pid, title, _text) in zip(chain, chain[1:]):
        path.append({"id": pid, "title": title, "anchor": {
            "text": title, "paragraph_id": 2, "paragraph": f"{before[2][:200]} In 1820 it met {title}. {before[2][200:360]}"}})
    text = " ".join(f"[E{n + 1}]'s page mentions [E{n + 2}]." for n in range(hops)) + f" When was [E{hops + 1}] founded?"
    skill = rng.random()
    return {"id": f"walk-{i:06d}", "path": path, "question": text, "answer": str(1500 + i % 400),
            "gold_entities": [p["title"] for p in path],
            "synth": {"model": "synthetic", "accepted": True, "checks": {"needs_chain": {"passed": True}}},
            "rollouts": [rollout(k, path, pool, skill, rng) for k in range(rollouts)]}


def rollout(k: int, path: list, pool: list, skill: float, rng: random.Random) -> dict:
    """Steps along the chain; with probability 1 - skill the agent leaves it at some hop."""
    chain = [p["id"] for p in path]
    leave = len(chain) if rng.random() < skill else rng.randrange(len(chain))
    steps, seen, opened, turn = [], [], [], 0
    for hop in range(len(chain)):
        for _ in range(rng.randint(1, 3)):
            turn += 1
            hits = [rng.choice(pool)[0] for _ in range(10)]
            if rng.random() < 0.7:
                hits[rng.randrange(10)] = chain[hop]
            steps.append({"turn": turn, "action": "search", "arguments": {"query": f"{path[hop]['title']} {rng.choice(WORDS)}"},
                          "result_ids": hits})
            seen += hits
        turn += 1
        page = chain[hop] if hop < leave else rng.choice(pool)[0]
        if page not in seen:
            seen.append(page)
        steps.append({"turn": turn, "action": "open", "arguments": {"id": page}, "result_ids": [page]})
        opened.append(page)
        if hop >= leave and rng.random() < 0.5:
            break
    cited = [p for p in opened if p in chain]
    correct = leave == len(chain)
    answer = path[-1]["title"] if correct else "unknown"
    steps.append({"turn": turn + 1, "action": "cite", "arguments": {"ids": ", ".join(cited)}, "result_ids": cited})
    steps.append({"turn": turn + 1, "action": "answer", "arguments": {"text": answer}, "result_ids": []})
    return {"index": k, "seed": k, "steps": steps, "seen": list(dict.fromkeys(seen)), "opened": list(dict.fromkeys(opened)),
            "cited": cited, "answer": answer, "stop": "answered", "turns": turn + 1, "correct": correct,
            "judge": {"name": "contains"}}


def tiers_of(record: dict) -> dict | None:
    kept = [r for r in record["rollouts"] if r["correct"]]
    if not kept:
        return None
    gold = list(dict.fromkeys([p["id"] for p in record["path"]] + [c for r in kept for c in r["cited"]]))
    opened = [p for r in kept for p in r["opened"] if p not in gold]
    tier1 = list(dict.fromkeys(opened))
    tier2 = [p for p in dict.fromkeys(p for r in kept for p in r["seen"]) if p not in gold and p not in tier1]
    return {"gold": gold, "tier1": tier1, "tier2": tier2, "solved": True, "rollouts_used": len(kept)}


def training(record: dict, strategy: str, pool: list, target: int, rng: random.Random) -> dict:
    by_id = {p[0]: p for p in pool}
    tiers = record["tiers"]
    chosen = [(p, "gold") for p in tiers["gold"]]
    if strategy.startswith("traj"):
        chosen += [(p, "tier1") for p in tiers["tier1"]] + [(p, "tier2") for p in tiers["tier2"]]
    used, budget, docs = {p for p, _ in chosen}, target, []
    picked = []
    for page, tier in chosen:
        tokens = len(by_id[page][2]) // 4 + 8
        if budget - tokens < 0:
            break
        picked.append((page, tier, tokens))
        budget -= tokens
    while budget > 200:
        page = rng.choice(pool)[0]
        if page in used:
            continue
        used.add(page)
        tokens = min(budget, len(by_id[page][2]) // 4 + 8)
        picked.append((page, "random", tokens))
        budget -= tokens
    rng.shuffle(picked)
    head = "Please read the following documents and answer the question at the end.\n\n"
    parts, pos = [head], len(head)
    for n, (page, tier, tokens) in enumerate(picked, start=1):
        text = by_id[page][2][: (tokens - 8) * 4]
        block = f"Document {n}: {by_id[page][1]}\n{text}"
        docs.append({"id": page, "title": by_id[page][1], "tier": tier, "tokens": tokens,
                     "truncated": len(text) < len(by_id[page][2]), "span": [pos, pos + len(block)]})
        parts.append(block + "\n\n")
        pos += len(block) + 2
    parts.append(f"Question: {record['question']}")
    return {"id": record["id"], "source": "longqa", "input_messages": [{"role": "user", "content": "".join(parts)}],
            "label": record["answer"],
            "metadata": {"rubrics": record["gold_entities"], "question": record["question"], "strategy": strategy,
                         "tokens": target - budget, "target_tokens": target, "docs": docs}}
