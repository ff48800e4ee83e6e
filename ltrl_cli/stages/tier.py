"""`ltrl tier`: split each question's trajectory documents into distractor tiers.

From the rollouts judged correct (the method keeps only those):

    gold  = the pages of the chain (`path` ids) + every page a correct rollout cited
    tier1 = pages opened by correct rollouts, minus cited, minus gold   (hard distractors)
    tier2 = pages seen by correct rollouts, minus opened, minus gold    (easy distractors)

The three lists are disjoint. Gold keeps the chain's order, then citations; each tier is
ordered by how many kept rollouts touched the page (most first), then by first
appearance, so a context that cannot hold a whole tier takes its most-visited pages.

A question with no correct rollout is dropped and counted; with `keep_unsolved` it is
kept with `tiers.solved: false`, its tiers taken from every rollout that ran; gold is
then the chain alone (the citations of wrong rollouts are not evidence), and pages those
rollouts cited count as opened (tier1).
"""

from __future__ import annotations

from collections import Counter
from typing import Iterable, Iterator

from ltrl_cli.records import path_ids, unique_ids
from ltrl_cli.stats import Rejections, Stats


def tier(records: Iterable[dict], *, keep_unsolved: bool = False, stats: Stats | None = None,
         refused: Rejections | None = None) -> Iterator[dict]:
    """Add `tiers` ({gold, tier1, tier2, solved, rollouts_used}) to each solved question.

    The records are checked against READS["tier"] (the command's reader does it). Counts
    `unsolved dropped` (or `unsolved kept`) and the `gold docs`, `tier1 docs`, `tier2 docs`
    of the records kept.
    """
    stats = stats if stats is not None else Stats()
    unsolved = "unsolved kept" if keep_unsolved else "unsolved dropped"
    for record in records:
        rollouts = record["rollouts"]
        correct = [r for r in rollouts if r.get("correct") is True]
        stats.update(unsolved, not correct)
        if not correct and not keep_unsolved:
            if refused is not None:
                answers = [r.get("answer") for r in rollouts][:3]
                refused.add("unsolved", f"question {record.get('id')!r}: answers {answers!r}, "
                                        f"label {record.get('answer')!r}")
            continue
        used = correct or [r for r in rollouts if r.get("stop") != "error"]
        tiers = split_tiers(path_ids(record), used, trust_citations=bool(correct))
        for name in ("gold", "tier1", "tier2"):
            stats.update(f"{name} docs", len(tiers[name]))
        yield {**record, "tiers": {**tiers, "solved": bool(correct), "rollouts_used": len(used)}}


def split_tiers(chain: list[str], rollouts: list[dict], *, trust_citations: bool = True) -> dict[str, list[str]]:
    """The three disjoint tiers from the chain's page ids and the kept rollouts.

    >>> r = {"seen": ["1", "2", "3", "4"], "opened": ["1", "2", "3"], "cited": ["1"]}
    >>> split_tiers(["9", "1"], [r])
    {'gold': ['9', '1'], 'tier1': ['2', '3'], 'tier2': ['4']}
    """
    cited = _by_count(rollouts, "cited")
    gold = unique_ids(chain + (cited if trust_citations else []))
    taken = set(gold)
    opened = _by_count(rollouts, "opened")
    tier1 = [i for i in opened if i not in taken]  # trusted citations are in gold already
    opened_set = set(opened)
    tier2 = [i for i in _by_count(rollouts, "seen") if i not in taken and i not in opened_set]
    return {"gold": gold, "tier1": tier1, "tier2": tier2}


def _by_count(rollouts: list[dict], key: str) -> list[str]:
    """Ids under `key` across rollouts: most rollouts first, ties by first appearance."""
    counts: Counter[str] = Counter()
    first: dict[str, int] = {}
    for rollout in rollouts:
        for page_id in unique_ids(rollout.get(key) or []):
            counts[page_id] += 1
            first.setdefault(page_id, len(first))
    return sorted(counts, key=lambda i: (-counts[i], first[i]))
