"""Method stage 4: long contexts from gold pages and tiered distractors (the strategies and
the record layout are in `context.layout`).

For each question, documents are taken in priority order until the token target is met:
gold pages first (always whole), then the strategy's distractors, then random pages
(recorded as tier `random`) when those run out. Packing is greedy over whole documents;
the first document that no longer fits is cut at a token boundary to fill what is left
(recorded as `truncated`). The chosen documents are then shuffled with a per-record seed
so that position gives nothing away, and the prompt is rendered and counted exactly with
the chosen tokenizer (after its chat template). Per-document counts are only an estimate
of the whole (token counts do not add up exactly across document boundaries), so when the
exact count is over the target the cut document is shortened by the excess and the prompt
counted again: the result never exceeds the target and fills it to within a few tokens.
"""

from __future__ import annotations

import random
from dataclasses import replace
from typing import Iterable, Iterator

from ltrl_cli.backends.base import PageStore, Searcher, page_body
from ltrl_cli.backends.tokenize import TokenCache
from ltrl_cli.context.layout import (DOC_SEPARATOR, AssembleOptions, Doc, render, render_parts, training_record,
                                     user_turn)
from ltrl_cli.errors import BackendError
from ltrl_cli.io import chunked
from ltrl_cli.lru import ABSENT, LRU
from ltrl_cli.records import path_ids, unique_ids

_FETCH_CHUNK = 64  # candidate pages loaded and counted per batch
_MAX_SHRINK_ROUNDS = 8


class TooLong(Exception):
    """The gold pages alone do not fit in the target: the record is skipped."""


class ContextBuilder:
    """Builds one training record per question; holds the page and token caches."""

    def __init__(self, store: PageStore, counter: TokenCache, searcher: Searcher | None, options: AssembleOptions):
        self.store, self.counter, self.searcher, self.options = store, counter, searcher, options
        self.tokenizer = counter.tokenizer
        self._pages: LRU[str, tuple[str, str] | None] = LRU(8192)

    def build(self, record: dict) -> dict:
        rid = str(record["id"])
        rng = random.Random(f"{self.options.seed}:{rid}")  # the same per record on every shard
        question = record["question"]
        used: set[str] = set()
        gold = self._gold_docs(record, used)
        budget = self.options.target_tokens - self._overhead(question) - _margin(self.options.target_tokens)
        docs = self._pack(gold, self._candidates(record, rng, used), budget)
        rng.shuffle(docs)
        content, spans, tokens = self._fit(question, docs)
        return training_record(record, content, docs, spans, tokens, self.options, self.tokenizer.name)

    # -- choosing documents ------------------------------------------------------------

    def _gold_docs(self, record: dict, used: set[str]) -> list[Doc]:
        tiers = record.get("tiers") or {}
        ids = unique_ids(tiers["gold"] if "gold" in tiers else path_ids(record))  # records.has_gold_pages: some
        missing = [pid for pid in ids if self._page(pid) is None]
        if missing:
            raise BackendError(f"record {record['id']}: gold page {missing[0]} is not in the index "
                               "(was the index built from the same corpus as the walks?)")
        used.update(ids)
        return self._load(ids, "gold")

    def _candidates(self, record: dict, rng: random.Random, used: set[str]) -> Iterator[tuple[str, str]]:
        """(page id, tier) in the strategy's priority order, then random pages forever."""
        strategy, tiers = self.options.strategy, record.get("tiers") or {}
        if strategy == "traj-tiered":
            for tier in ("tier1", "tier2"):
                yield from _fresh(_shuffled(tiers.get(tier, []), rng), tier, used)
        elif strategy == "traj-random":
            pool = [(pid, t) for t in ("tier1", "tier2") for pid in tiers.get(t, [])]
            rng.shuffle(pool)
            for pid, tier in pool:
                yield from _fresh([pid], tier, used)
        elif strategy == "search":
            hits = self.searcher.search(record["question"], k=self.options.search_k)
            yield from _fresh([h.id for h in hits], "search", used)
        yield from self._random_fill(rng, used)

    def _random_fill(self, rng: random.Random, used: set[str]) -> Iterator[tuple[str, str]]:
        while len(used) < len(self.store):
            fresh = [pid for pid in self.store.random_ids(_FETCH_CHUNK, rng) if str(pid) not in used]
            if not fresh:
                return  # a small store whose pages are all placed already
            yield from _fresh(fresh, "random", used)

    def _pack(self, gold: list[Doc], candidates: Iterator[tuple[str, str]], budget: int) -> list[Doc]:
        """Gold, then whole candidates while they fit, then one candidate cut to fill the rest."""
        remaining = budget - sum(d.cost for d in gold)
        if remaining < 0:
            raise TooLong(f"its {len(gold)} gold pages need {budget - remaining:,} tokens; "
                          f"the target leaves {budget:,} for documents")
        chosen = list(gold)
        for batch in chunked(candidates, _FETCH_CHUNK):
            for doc in self._load_pairs(batch):
                if doc.cost <= remaining:
                    chosen.append(doc)
                    remaining -= doc.cost
                    continue
                cut = self._cut(doc, remaining - doc.frame)
                if cut is not None:
                    chosen.append(cut)
                return chosen
        return chosen

    def _cut(self, doc: Doc, max_tokens: int) -> Doc | None:
        """`doc` cut to at most `max_tokens` tokens, or None when that leaves too little."""
        smallest = min(self.options.min_fragment, max(1, self.options.target_tokens // 100), doc.tokens)
        if max_tokens < smallest:
            return None
        text = self.tokenizer.prefix(doc.full_text, max_tokens)
        if not text.strip():
            return None
        return replace(doc, text=text, tokens=self.counter.count(text + DOC_SEPARATOR), truncated=text != doc.full_text)

    # -- rendering and the exact count -------------------------------------------------

    def _fit(self, question: str, docs: list[Doc]) -> tuple[str, list[tuple[int, int]], int]:
        """Render the prompt; while its exact count is over the target, shorten and retry."""
        target = self.options.target_tokens
        for round_ in range(_MAX_SHRINK_ROUNDS):
            parts, spans = render_parts(self.options.template, self.options.doc_format, question, docs)
            content = "".join(parts)
            if self.tokenizer.has_chat_template:
                tokens = self.tokenizer.count_prompt(user_turn(content))
            else:  # exact as well: see TokenCache.count_joined
                tokens = self.counter.count_joined(parts)
            if tokens <= target:
                return content, spans, tokens
            if not self._shrink(docs, tokens - target + 4 * round_):
                break
        raise TooLong(f"the gold pages and prompt alone count {tokens:,} tokens, over the target {target:,}")

    def _shrink(self, docs: list[Doc], excess: int) -> bool:
        """Cut `excess` tokens from the truncated document (or the last distractor). False if none."""
        victims = [i for i, d in enumerate(docs) if d.truncated] or [
            i for i, d in enumerate(docs) if d.tier != "gold"
        ]
        if not victims:
            return False
        i = victims[-1]
        cut = self._cut(docs[i], docs[i].tokens - excess)
        if cut is None:
            del docs[i]
        else:
            docs[i] = replace(cut, truncated=True)
        return True

    def _overhead(self, question: str) -> int:
        """Tokens of the prompt with no documents (template, question, chat template)."""
        content, _ = render(self.options.template, self.options.doc_format, question, [])
        return self.tokenizer.count_prompt(user_turn(content))

    # -- pages ---------------------------------------------------------------------

    def _load(self, ids: list[str], tier: str) -> list[Doc]:
        return self._load_pairs([(pid, tier) for pid in ids])

    def _load_pairs(self, pairs: list[tuple[str, str]]) -> list[Doc]:
        """Docs for (id, tier) pairs, counted in one batch; pages the index lacks are dropped."""
        found = [(pid, tier, page) for pid, tier in pairs if (page := self._page(pid)) is not None]
        if not found:
            return []
        frames = [self._frame_text(title) for _, _, (title, _) in found]
        counts = self.counter.count_many([body + DOC_SEPARATOR for _, _, (_, body) in found] + frames)
        n = len(found)
        return [
            Doc(pid, title, tier, body, counts[i], counts[n + i], full_text=body)
            for i, (pid, tier, (title, body)) in enumerate(found)
        ]

    def _frame_text(self, title: str) -> str:
        # The index is a 3-digit stand-in: real numbers differ by a token at most, and the
        # exact count of the rendered prompt settles the difference.
        return self.options.doc_format.format(index=100, title=title, text="")

    def _page(self, pid: str) -> tuple[str, str] | None:
        """(title, body) of a page, kept in a small LRU since distractors recur."""
        cached = self._pages.get(pid, ABSENT)
        if cached is not ABSENT:
            return cached
        try:
            page = self.store.page(pid)
            value = (page.get("wikipedia_title") or self.store.title(pid), page_body(page))
        except KeyError:
            value = None
        self._pages[pid] = value
        return value


def _margin(target: int) -> int:
    """Tokens held back from the estimate: counts across document boundaries run a token or
    so over the sum of the parts, and each overshoot costs one more exact count of the
    whole prompt. 0.05% of the target (65 tokens at 128K) avoids nearly all of them.

    >>> _margin(131072), _margin(1000)
    (69, 4)
    """
    return 4 + target // 2000


def _shuffled(ids: Iterable, rng: random.Random) -> list[str]:
    ids = unique_ids(ids)
    rng.shuffle(ids)
    return ids


def _fresh(ids: Iterable, tier: str, used: set[str]) -> Iterator[tuple[str, str]]:
    """Pairs for ids not placed yet, marking them used as they are handed out."""
    for pid in ids:
        pid = str(pid)
        if pid not in used:
            used.add(pid)
            yield pid, tier
