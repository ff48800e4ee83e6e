"""Figures about assembled contexts: the paper's confusability measure and the lengths.

For every tier (gold, tier1, tier2, search, random) and for all distractors together:
how many documents, how many per context, what share of the context's document tokens,
and the fraction of documents that mention at least one of the question's gold entities
(the paper's measure: traj-tiered distractors 50.03%, random ones 1.35%). It is given two
ways: over all documents (micro) and as the mean of each context's fraction (macro, the
paper's "macro average").

A document is read back from the prompt through its `metadata.docs[i].span` (its
character range in the user message, written by `ltrl assemble`), so nothing depends on
parsing the prompt's wording. A mention is a whole-word match after the rubric reward's
normalisation (`ltrl_cli.reward.rules.normalize`): "Paris" is found in "paris, france" but not
in "comparison". Contexts whose rubric list is empty do not count toward mention rates.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from typing import Iterable

from ltrl_cli.context.layout import STRATEGIES, TIERS
from ltrl_cli.reward.rules import normalize

DISTRACTORS = "distractors"  # every tier but gold, pooled


def normalized_entities(entities: Iterable[str]) -> list[str]:
    return [e for e in dict.fromkeys(normalize(x) for x in entities) if e]


def doc_texts(record: dict) -> list[tuple[dict, str]]:
    """(doc entry, its text) for every document of an assembled record (checked against
    READS["stats"] by the command's reader)."""
    content = record["input_messages"][0]["content"]
    return [(doc, content[doc["span"][0] : doc["span"][1]]) for doc in record["metadata"]["docs"]]


class _TierFigures:
    def __init__(self) -> None:
        self.docs = 0
        self.mentioning = 0
        self.judged = 0  # documents of contexts that have rubrics
        self.tokens = 0
        self.per_context_rates: list[float] = []


class Stats:
    """Accumulates figures over assembled records; `result()` gives them as a dict."""

    def __init__(self) -> None:
        self.records = 0
        self.without_rubrics = 0
        self.lengths: list[int] = []
        self.fills: list[float] = []
        self.truncated = 0
        self.tiers: dict[str, _TierFigures] = defaultdict(_TierFigures)

    def add(self, record: dict, entities: list[str], judged: list[tuple[dict, bool | None]]) -> None:
        """Fold one assembled record in: `entities` are its normalised rubrics, `judged` is
        `judge(record, entities)`."""
        meta = record.get("metadata") or {}
        self.records += 1
        self.without_rubrics += not entities
        if isinstance(meta.get("tokens"), int):
            self.lengths.append(meta["tokens"])
            if meta.get("target_tokens"):
                self.fills.append(meta["tokens"] / meta["target_tokens"])
        seen: dict[str, list[bool]] = defaultdict(list)
        for doc, mentions in judged:
            self.truncated += bool(doc.get("truncated"))
            for tier in (doc.get("tier", "unknown"),) + ((DISTRACTORS,) if doc.get("tier") != "gold" else ()):
                figures = self.tiers[tier]
                figures.docs += 1
                figures.tokens += int(doc.get("tokens") or 0)
                if mentions is not None:
                    seen[tier].append(mentions)
        for tier, hits in seen.items():
            figures = self.tiers[tier]
            figures.judged += len(hits)
            figures.mentioning += sum(hits)
            figures.per_context_rates.append(sum(hits) / len(hits))

    def result(self) -> dict:
        """All figures as one JSON-ready dict."""
        doc_tokens = sum(f.tokens for t, f in self.tiers.items() if t != DISTRACTORS) or 1
        names = [t for t in TIERS if t in self.tiers] + sorted(
            t for t in self.tiers if t not in TIERS and t != DISTRACTORS
        )
        if DISTRACTORS in self.tiers:
            names.append(DISTRACTORS)
        return {
            "records": self.records,
            "records_without_rubrics": self.without_rubrics,
            "tokens": _summary(self.lengths),
            "fill": _summary(self.fills, digits=4),
            "truncated_docs": self.truncated,
            "tiers": {name: self._tier(self.tiers[name], doc_tokens) for name in names},
        }

    def _tier(self, f: _TierFigures, doc_tokens: int) -> dict:
        rates = f.per_context_rates
        return {
            "docs": f.docs,
            "docs_per_record": round(f.docs / self.records, 2) if self.records else 0.0,
            "token_share": round(f.tokens / doc_tokens, 4),
            "mention_rate": round(f.mentioning / f.judged, 4) if f.judged else None,
            "mention_rate_macro": round(sum(rates) / len(rates), 4) if rates else None,
        }


def judge(record: dict, entities: list[str]) -> list[tuple[dict, bool | None]]:
    """(doc entry, whether it mentions one of the normalised gold `entities`) per document;
    None when there are none."""
    return [(doc, _mentions(text, entities) if entities else None) for doc, text in doc_texts(record)]


def _mentions(text: str, entities: list[str]) -> bool:
    # Spaces around both sides make the substring test a whole-word test on normalised text.
    haystack = f" {normalize(text)} "
    return any(f" {e} " in haystack for e in entities)


def _summary(values: list[float], digits: int = 1) -> dict:
    if not values:
        return {"min": None, "mean": None, "median": None, "max": None}
    return {"min": round(min(values), digits), "mean": round(statistics.fmean(values), digits),
            "median": round(statistics.median(values), digits), "max": round(max(values), digits)}


def compute_stats(records: Iterable[dict]) -> dict:
    """Figures for all records together, and per strategy when the input mixes strategies.

    The result has the keys of `Stats.result()` plus `by_strategy` ({strategy: figures})
    and `context_tokens` (every context length, for the histogram; dropped from the JSON
    output by the command).
    """
    collected = Collector()
    for record in records:
        collected.add(record)
    return collected.result()


class Collector:
    """`compute_stats` one record at a time, for a stage that streams the records elsewhere
    (`ltrl export` writes them and puts the figures in the dataset card)."""

    def __init__(self) -> None:
        self.overall, self.per_strategy = Stats(), defaultdict(Stats)

    def add(self, record: dict) -> None:
        meta = record.get("metadata") or {}
        entities = normalized_entities(meta.get("rubrics") or [])
        judged = judge(record, entities)
        self.overall.add(record, entities, judged)
        self.per_strategy[str(meta.get("strategy", "unknown"))].add(record, entities, judged)

    def result(self) -> dict:
        result = self.overall.result()
        names = sorted(self.per_strategy, key=lambda n: (STRATEGIES.index(n) if n in STRATEGIES else 99, n))
        result["by_strategy"] = {name: self.per_strategy[name].result() for name in names}
        comparison = compare(result["by_strategy"])
        if comparison is not None:
            result["comparison"] = comparison
        result["context_tokens"] = {name: self.per_strategy[name].lengths for name in names}
        return result


def compare(by_strategy: dict[str, dict], baseline: str = "random") -> dict | None:
    """The method's figures against the baseline, when the input holds both: how much of a
    context the trajectory documents fill, how many Tier-1 documents a context holds, and
    how often each tier mentions a gold entity (macro) against the baseline's documents.

    >>> tiers = lambda **t: {"tiers": {k: {"token_share": v[0], "docs_per_record": v[1], "mention_rate_macro": v[2]}
    ...                                 for k, v in t.items()}}
    >>> c = compare({"traj-tiered": tiers(tier1=(0.1, 6.0, 0.4), tier2=(0.3, 40.0, 0.2)),
    ...              "random": tiers(distractors=(0.8, 90.0, 0.04))})
    >>> c["trajectory_token_share"], c["tier1_over_baseline"]
    (0.4, 10.0)
    """
    method = next((name for name in STRATEGIES if name != baseline and name in by_strategy), None)
    if method is None or baseline not in by_strategy:
        return None
    tiers, base = by_strategy[method]["tiers"], by_strategy[baseline]["tiers"]
    row = lambda tier, key: (tiers.get(tier) or {}).get(key)  # noqa: E731
    base_rate = (base.get(DISTRACTORS) or {}).get("mention_rate_macro")
    tier1 = row("tier1", "mention_rate_macro")
    return {
        "strategy": method,
        "baseline": baseline,
        "trajectory_token_share": round((row("tier1", "token_share") or 0) + (row("tier2", "token_share") or 0), 4),
        "tier1_docs_per_context": row("tier1", "docs_per_record") or 0.0,
        "mention_rate_macro": {t: row(t, "mention_rate_macro") for t in tiers if t != "gold"},
        "baseline_mention_rate_macro": base_rate,
        "tier1_over_baseline": round(tier1 / base_rate, 2) if tier1 is not None and base_rate else None,
    }
