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
from dataclasses import dataclass
from typing import Iterable, Iterator

from ltrl_cli.errors import BadInput
from ltrl_cli.records import path_ids, unique_ids


@dataclass
class TierStats:
    questions: int = 0
    kept: int = 0
    unsolved: int = 0  # no correct rollout (dropped, or kept with keep_unsolved)
    gold: int = 0
    tier1: int = 0
    tier2: int = 0


def tier(records: Iterable[dict], *, keep_unsolved: bool = False, stats: TierStats | None = None) -> Iterator[dict]:
    """Add `tiers` ({gold, tier1, tier2, solved, rollouts_used}) to each solved question."""
    stats = stats if stats is not None else TierStats()
    for record in records:
        stats.questions += 1
        rollouts = _rollouts(record)
        correct = [r for r in rollouts if r.get("correct") is True]
        if not correct:
            stats.unsolved += 1
            if not keep_unsolved:
                continue
        used = correct or [r for r in rollouts if r.get("stop") != "error"]
        tiers = split_tiers(path_ids(record), used, trust_citations=bool(correct))
        stats.kept += 1
        for name in ("gold", "tier1", "tier2"):
            setattr(stats, name, getattr(stats, name) + len(tiers[name]))
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


def _rollouts(record: dict) -> list[dict]:
    rollouts = record.get("rollouts")
    where = f"record {record.get('id', '?')!r}"
    if not isinstance(rollouts, list):
        raise BadInput(f"{where}: missing field 'rollouts' (a list; run ltrl search-agent first)")
    for i, rollout in enumerate(rollouts):
        if not isinstance(rollout, dict):
            raise BadInput(f"{where}: rollouts[{i}] is not an object")
        for key in ("seen", "opened", "cited"):
            if not isinstance(rollout.get(key, []), list):
                raise BadInput(f"{where}: rollouts[{i}].{key} must be a list of ids")
    return rollouts


def _by_count(rollouts: list[dict], key: str) -> list[str]:
    """Ids under `key` across rollouts: most rollouts first, ties by first appearance."""
    counts: Counter[str] = Counter()
    first: dict[str, int] = {}
    for rollout in rollouts:
        for page_id in unique_ids([str(i) for i in rollout.get(key) or []]):
            counts[page_id] += 1
            first.setdefault(page_id, len(first))
    return sorted(counts, key=lambda i: (-counts[i], first[i]))
