"""Do template questions need their chain? Remove the first clue and ask the agent again.

Takes the questions the lexical policy solved (a search-agent output, e.g. the demo's
trajectories.jsonl), cuts each question's first sentence (the only one that describes
[E1]), runs the same policy with the same budgets on what is left, and prints how many it
still solves. The issue's bar: at most 10% of those solved with the clue.

    .venv/bin/python bench/chain_ablation.py --index work/demo/index-3000-s0 \\
        --trajectories work/demo/trajectories.jsonl
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import orjson


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--trajectories", type=Path, required=True, help="ltrl search-agent output")
    parser.add_argument("--steps", type=int, default=60, help="turns per rollout (the demo's)")
    args = parser.parse_args()

    from ltrl_cli.agent.lexical import LexicalAgent
    from ltrl_cli.agent.rollout import Budgets
    from ltrl_cli.backends.index import open_index
    from ltrl_cli.reward.judge import make_judge
    from ltrl_cli.stages.search_agent import AgentOptions, search_agent
    from ltrl_cli.synth.checks import question_sentences

    records = [orjson.loads(line) for line in args.trajectories.read_bytes().splitlines() if line.strip()]
    solved = [r for r in records if any(x.get("correct") for x in r["rollouts"])]
    k = max(len(r["rollouts"]) for r in records)
    cut = [{"id": r["id"], "question": " ".join(question_sentences(r["question"])[1:]), "answer": r["answer"]}
           for r in solved]
    index = open_index(args.index)
    index.start()
    try:
        options = AgentOptions(rollouts=k, budgets=Budgets(max_steps=args.steps, max_rollout_tokens=131072))
        again = list(search_agent(cut, llm=LexicalAgent(), index=index, judge=make_judge("contains"),
                                  options=options))
    finally:
        index.close()
    still = [r["id"] for r in again if any(x["correct"] for x in r["rollouts"])]
    print(f"questions: {len(records)}; solved with the first clue: {len(solved)}; "
          f"solved without it: {len(still)} ({100 * len(still) / max(1, len(solved)):.1f}%), K = {k}", file=sys.stderr)
    print(orjson.dumps({"questions": len(records), "solved": len(solved), "solved_without_first_clue": len(still),
                        "ratio": round(len(still) / max(1, len(solved)), 4), "ids": still}).decode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
