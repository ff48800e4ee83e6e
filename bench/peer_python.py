"""`make bench` rows whose peer is plain Python doing the same work: `ltrl walk` beside a
networkx walker, the rubric reward beside the method's rule in a few lines, and `ltrl
assemble` beside one full recount of each final prompt.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from bench.common import DATA, ROOT, alternate, row


def rows_walk(work: Path) -> list[dict]:
    from bench.bench_walk import compare_walk

    result = compare_walk(work / "walk-graph")
    return [row(f"`ltrl walk`, 8-hop walks on a {result['nodes']:,}-node graph", "walks/s", result["ltrl"],
                result["peer"], higher=True, target=20.0, note=result["note"])]


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
