"""One question as the page shows it: a compact row for the list (the figures it filters
and sorts on) and the detail loaded when the question is opened; and, over all
questions, the counts behind the dataset's charts (constant memory: counters only)."""

from __future__ import annotations

from collections import Counter, defaultdict

from ltrl_cli.report.data import Question

# The list's columns, in the order each row holds them (the page reads this list too).
COLUMNS = ("id", "text", "answer", "solved", "k", "rollouts", "hops", "turns", "opened", "cited",
           "gold", "tier1", "tier2", "reached", "contexts", "chain", "shard")
LIST_TEXT = 400  # characters of the question kept in the list (the detail has all of it)
MAX_HITS = 10  # search results kept per step; the number of the others is kept


def ids(values: object) -> list[str]:
    return [str(v) for v in values] if isinstance(values, list) else []


def no_tiers_reason(record: dict) -> str | None:
    """Why a question has no tiers, or None when it has them."""
    tiers = record.get("tiers")
    if isinstance(tiers, dict):
        return None if tiers.get("solved", True) else \
            "unsolved: these tiers come from rollouts none of which answered correctly (ltrl tier --keep-unsolved)"
    rollouts = record.get("rollouts")
    if not isinstance(rollouts, list) or not rollouts:
        return "no rollouts in the input: give ltrl search-agent's output to see them"
    if not any(isinstance(r, dict) and r.get("correct") is True for r in rollouts):
        return (f"no tiers: none of the {len(rollouts)} rollouts answered correctly, and ltrl tier drops "
                "unsolved questions (ltrl tier --keep-unsolved keeps them)")
    return "no tiers in the input: give ltrl tier's output to see them"


def off_chain(steps: list[dict], chain: list[str]) -> tuple[int | None, str]:
    """For a failed rollout, the step where it left the chain and why that one: the first
    step opening a page off the chain after the last step that opened a new chain page
    (or, when it never opened one, its first open); with every chain page opened, the
    answer. (None, "") when there is no such step."""
    if not chain:
        return None, ""
    hop = {page: n for n, page in enumerate(chain, start=1)}
    found: set[str] = set()
    last = -1
    for i, step in enumerate(steps):
        new = [p for p in ids(step.get("result_ids")) if p in hop and p not in found] \
            if step.get("action") in ("open", "cite") else []
        if new:
            found.update(new)
            last = i
    if len(found) == len(chain):
        answers = [i for i, s in enumerate(steps) if s.get("action") == "answer"]
        return (answers[-1] if answers else None), f"every chain page ({len(chain)}) was opened; the answer was wrong"
    missing = min(hop[p] for p in chain if p not in found)
    for i in range(last + 1, len(steps)):
        step = steps[i]
        if step.get("action") == "open" and not any(p in hop for p in ids(step.get("result_ids"))):
            return i, f"had opened {len(found)} of {len(chain)} chain pages; opened a page off the chain, " \
                      f"E{missing} still to find"
    if last + 1 < len(steps):
        return last + 1, f"had opened {len(found)} of {len(chain)} chain pages; no chain page opened from here on, " \
                         f"E{missing} still to find"
    return None, ""


def chain_pages_opened(rollout: dict, chain: list[str]) -> int:
    return len(set(ids(rollout.get("opened"))) & set(chain))


class Figures:
    """Counts over the dataset for its charts; one `add` per question."""

    def __init__(self) -> None:
        self.questions = 0
        self.counts: dict[str, Counter] = defaultdict(Counter)
        self.depth: dict[str, Counter] = defaultdict(Counter)  # strategy -> gold start decile
        self.context_tokens: dict[str, Counter] = defaultdict(Counter)  # strategy -> 8K-token bin

    def add(self, row: dict, q: Question, chain: list[str]) -> None:
        self.questions += 1
        c = self.counts
        if row["hops"] is not None:
            c["hops"][row["hops"]] += 1
        c["why"][no_tiers_reason(q.record) or "has tiers"] += 1
        for rollout in _rollouts(q.record):
            c["turns"][int(rollout.get("turns") or 0)] += 1
            c["opened"][len(ids(rollout.get("opened")))] += 1
            c["stop"][str(rollout.get("stop"))] += 1
            c["verdict"][{True: "correct", False: "wrong"}.get(rollout.get("correct"), "no verdict")] += 1
            if rollout.get("correct") is not True and chain:
                c["reached"][chain_pages_opened(rollout, chain)] += 1
        if row["rollouts"]:
            c["k"][row["k"]] += 1
        for strategy, context in q.contexts.items():
            self._context(strategy, context)

    def _context(self, strategy: str, context: dict) -> None:
        docs = context.get("docs") or []
        total = sum(d[2] for d in docs) or 1
        offset = 0
        for _page, tier, tokens, _cut, _key in docs:
            if tier == "gold":
                self.depth[strategy][min(9, int(10 * offset / total))] += 1
            offset += tokens
        if isinstance(context.get("tokens"), int):
            self.context_tokens[strategy][context["tokens"] // 8192] += 1


def _rollouts(record: dict) -> list[dict]:
    return [r for r in record.get("rollouts") or [] if isinstance(r, dict)]


def build(q: Question, shard: int, titles) -> tuple[list, dict, list[str]]:
    """(list row, detail, chain page ids) for one question; `titles(pages)` names pages."""
    r = q.record
    chain = [str(h.get("id", "")) for h in r.get("path") or [] if isinstance(h, dict)]
    rollouts = _rollouts(r)
    tiers = r.get("tiers") if isinstance(r.get("tiers"), dict) else None
    k = sum(x.get("correct") is True for x in rollouts)
    mean = lambda key, f: round(sum(f(x) for x in rollouts) / len(rollouts), 1) if rollouts else None  # noqa: E731
    row = {
        "id": q.id, "text": q.text[:LIST_TEXT], "answer": q.answer[:200],
        "solved": (1 if k else 0) if rollouts else -1, "k": k, "rollouts": len(rollouts),
        "hops": len(chain) - 1 if chain else None,
        "turns": mean("turns", lambda x: int(x.get("turns") or 0)),
        "opened": mean("opened", lambda x: len(ids(x.get("opened")))),
        "cited": mean("cited", lambda x: len(ids(x.get("cited")))),
        "gold": len(ids(tiers.get("gold"))) if tiers else None,
        "tier1": len(ids(tiers.get("tier1"))) if tiers else None,
        "tier2": len(ids(tiers.get("tier2"))) if tiers else None,
        "reached": max((chain_pages_opened(x, chain) for x in rollouts), default=None) if chain else None,
        "contexts": len(q.contexts),
        "chain": " › ".join(str(h.get("title", "")) for h in r.get("path") or [] if isinstance(h, dict))[:300],
        "shard": shard,
    }
    detail = _detail(q, chain, rollouts, tiers)
    detail["titles"] = titles(_pages(detail))
    return [row[c] for c in COLUMNS], detail, chain


def _detail(q: Question, chain: list[str], rollouts: list[dict], tiers: dict | None) -> dict:
    r = q.record
    synth = r.get("synth") if isinstance(r.get("synth"), dict) else None
    gold = r.get("gold_entities") or next((c.get("rubrics") for c in q.contexts.values() if c.get("rubrics")), None)
    return {
        "id": q.id, "question": q.text, "answer": q.answer, "gold_entities": gold,
        "synth": _synth(synth) if synth else None,
        "path": [h for h in r.get("path") or [] if isinstance(h, dict)],
        "rollouts": [_rollout(x, chain) for x in rollouts],
        "tiers": {t: ids(tiers.get(t)) for t in ("gold", "tier1", "tier2")} | {"solved": tiers.get("solved", True)}
        if tiers else None,
        "why": no_tiers_reason(r),
        "contexts": [{"strategy": s, "tokens": c.get("tokens"), "target": c.get("target_tokens"), "docs": c["docs"]}
                     for s, c in q.contexts.items()],
    }


def _synth(info: dict) -> dict:
    checks = info.get("checks") if isinstance(info.get("checks"), dict) else {}
    return {"model": str(info.get("model", "")), "accepted": bool(info.get("accepted")),
            "reason": info.get("reason"),
            "checks": [[str(name), bool(c.get("passed"))] for name, c in checks.items() if isinstance(c, dict)]}


def _rollout(rollout: dict, chain: list[str]) -> dict:
    steps = [s for s in rollout.get("steps") or [] if isinstance(s, dict)]
    failed = rollout.get("correct") is not True
    flagged, why = off_chain(steps, chain) if failed else (None, "")
    return {
        "correct": rollout.get("correct"), "answer": rollout.get("answer"), "turns": rollout.get("turns"),
        "stop": rollout.get("stop"), "error": rollout.get("error"),
        "judge": {k: v for k, v in (rollout.get("judge") or {}).items() if k in ("name", "answer", "error")}
        if isinstance(rollout.get("judge"), dict) else None,
        "seen": len(ids(rollout.get("seen"))), "opened": ids(rollout.get("opened")), "cited": ids(rollout.get("cited")),
        "steps": [_step(s) for s in steps], "off": flagged, "off_why": why,
    }


def _step(step: dict) -> list:
    """[turn, action, argument, result ids (hits capped), hits left out, error, thinking]."""
    args = step.get("arguments")
    args = args if isinstance(args, dict) else {"": args}
    argument = args.get("query") or args.get("id") or args.get("ids") or args.get("text") or ""
    result = ids(step.get("result_ids"))
    shown = result[:MAX_HITS] if step.get("action") == "search" else result
    return [step.get("turn"), str(step.get("action", "")), str(argument), shown, len(result) - len(shown),
            step.get("error"), step.get("reasoning")]


def _pages(detail: dict) -> list[str]:
    pages: list[str] = [h.get("id", "") for h in detail["path"]]
    for rollout in detail["rollouts"]:
        pages += rollout["opened"] + rollout["cited"]
        for step in rollout["steps"]:
            pages += step[3]
    for tier in (detail["tiers"] or {}).values():
        pages += tier if isinstance(tier, list) else []
    for context in detail["contexts"]:
        pages += [d[0] for d in context["docs"]]
    return [str(p) for p in pages]
