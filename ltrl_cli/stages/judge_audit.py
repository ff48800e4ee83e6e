"""`ltrl judge-audit`: how far the judge's verdicts can be trusted, measured on the data.

Reads the records a judge has already decided (`ltrl score` lines or groups, `ltrl
search-agent` rollouts, `ltrl eval` samples) as *cases*: (question, gold label, the
response's final content, the recorded verdict). Then:

- agreement of the recorded verdicts with `exact` and `contains` matching, with examples
  of each kind of disagreement;
- with hand labels, accuracy, precision, recall and Cohen's kappa of the judge (and of the
  two rules, for scale) with bootstrap 95% intervals;
- adversarial probes built from the cases themselves (an empty answer, the question as
  the answer, the right answer inside a refusal, a hedge listing several candidates, the
  right answer then a wrong final choice), sent to the judge under audit, and the rate at
  which each is judged correct (every probe is wrong: the ideal rate is 0);
- the invalid-reply rate (judge replies without a verdict) and the stability of the
  verdict over two fresh asks of the same case.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, replace
from typing import Any, Callable, Iterable

from ltrl_cli.errors import BadInput
from ltrl_cli.reward.judge import Verdict, contains_match, exact_match, extract_answer
from ltrl_cli.reward.rules import split_response

PROBES = ("empty", "question", "refusal", "hedge", "wrong_final")
BOOTSTRAP = 1000


@dataclass
class Case:
    """One judged response."""

    id: str
    index: int  # the response, rollout or sample within its record
    question: str | None
    label: str
    content: str
    verdict: bool | None  # what the recorded judge said (None: no verdict)
    judge: str | None  # the recorded judge's name
    attempts: int | None = None  # the recorded judge's asks (LLM judge)
    error: str | None = None


# ---------------------------------------------------------------- reading cases


def cases_of(record: dict) -> list[Case]:
    """The judged responses of one record of score, search-agent or eval; BadInput when it holds none."""
    rid = str(record.get("id"))
    question = record.get("question") if isinstance(record.get("question"), str) else None
    label = next((record[k] for k in ("label", "answer", "gold") if isinstance(record.get(k), (str, int, float))), None)
    if label is None:
        raise BadInput(f"record {rid!r} has no gold answer (`label`, `answer` or `gold`)")
    label = str(label)
    if isinstance(record.get("rollouts"), list):  # search-agent
        return [_case(rid, r.get("index", i), question, label, r.get("answer"), r.get("correct"), r.get("judge"))
                for i, r in enumerate(record["rollouts"]) if isinstance(r, dict)]
    if isinstance(record.get("samples"), list):  # eval
        return [_case(rid, s.get("index", i), question, label, s.get("content"), (s.get("judge") or {}).get("correct"),
                      s.get("judge")) for i, s in enumerate(record["samples"]) if isinstance(s, dict) and s.get("judge")]
    if isinstance(record.get("rewards"), list) and isinstance(record.get("responses"), list):  # score, a group
        return [_case(rid, i, question, label, _content(text), (reward.get("judge") or {}).get("correct"),
                      reward.get("judge")) for i, (text, reward) in enumerate(zip(record["responses"], record["rewards"]))]
    if isinstance(record.get("reward"), dict) and isinstance(record.get("response"), str):  # score, a line
        index = record.get("index", 0)
        return [_case(rid, index if isinstance(index, int) else 0, question, label, _content(record["response"]),
                      (record["reward"].get("judge") or {}).get("correct"), record["reward"].get("judge"))]
    raise BadInput(f"record {rid!r} holds no judged response (expected the output of ltrl score, search-agent or eval)")


def _content(response: str) -> str:
    """The final content of a response (after `</think>` when it has one)."""
    return split_response(response, thinking="</think>" in response).content


def _case(rid: str, index: int, question: str | None, label: str, content: Any, correct: Any, judge: Any) -> Case:
    judge = judge if isinstance(judge, dict) else {}
    name = judge.get("name") or ("llm" if "raw" in judge or "attempts" in judge else None)
    attempts = judge.get("attempts") if isinstance(judge.get("attempts"), int) else None
    return Case(rid, int(index), question, label, content if isinstance(content, str) else "",
                correct if isinstance(correct, bool) else None, name, attempts, judge.get("error"))


# ---------------------------------------------------------------- agreement with the rules


def agreement(cases: list[Case], *, examples: int = 3) -> dict[str, Any]:
    """The recorded verdicts beside exact and contains matching of the extracted answer."""
    judged = [c for c in cases if c.verdict is not None]
    out: dict[str, Any] = {}
    for rule, match in (("exact", exact_match), ("contains", contains_match)):
        yes_no, no_yes, same = [], [], 0
        for case in judged:
            ruled = match(extract_answer(case.content), case.label)
            if ruled == case.verdict:
                same += 1
            else:
                (yes_no if case.verdict else no_yes).append(case)
        out[rule] = {"rate": _rate(same, len(judged)), "agree": same, "judge_yes_rule_no": len(yes_no),
                     "judge_no_rule_yes": len(no_yes),
                     "examples": {"judge_yes_rule_no": [_example(c) for c in yes_no[:examples]],
                                  "judge_no_rule_yes": [_example(c) for c in no_yes[:examples]]}}
    return out


def _example(case: Case) -> dict[str, Any]:
    return {"id": case.id, "index": case.index, "label": case.label, "answer": extract_answer(case.content)[:300],
            "judge": case.verdict}


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


# ---------------------------------------------------------------- hand labels


def read_labels(records: Iterable[dict]) -> dict[tuple[str, int], bool]:
    """`{"id", "index"?, "correct": true|false}` lines -> {(id, index): correct}."""
    labels = {}
    for number, record in enumerate(records, start=1):
        correct = record.get("correct", record.get("label"))
        if not isinstance(correct, bool) or "id" not in record:
            raise BadInput("expected {\"id\", \"index\"?, \"correct\": true|false}", line=number, source="--labels")
        index = record.get("index", 0)
        labels[(str(record["id"]), int(index) if isinstance(index, int) else 0)] = correct
    return labels


def against_labels(cases: list[Case], labels: dict[tuple[str, int], bool], *, seed: int = 0) -> dict[str, Any]:
    """Accuracy, precision, recall and Cohen's kappa of the judge and of the rules against
    hand labels, each with a bootstrap 95% interval."""
    pairs = [(c, labels[(c.id, c.index)]) for c in cases if (c.id, c.index) in labels]
    out: dict[str, Any] = {"labelled": len(pairs), "unmatched_labels": len(labels) - len(pairs)}
    deciders: dict[str, Callable[[Case], bool | None]] = {
        "judge": lambda c: c.verdict,
        "exact": lambda c: exact_match(extract_answer(c.content), c.label),
        "contains": lambda c: contains_match(extract_answer(c.content), c.label)}
    for name, decide in deciders.items():
        decided = [(decide(c), truth) for c, truth in pairs if decide(c) is not None]
        out[name] = {"cases": len(decided), **{m: _with_interval(decided, f, seed) for m, f in METRICS.items()}}
    return out


def confusion(pairs: list[tuple[bool, bool]]) -> tuple[int, int, int, int]:
    """(tp, fp, fn, tn) of (predicted, true) pairs."""
    tp = sum(1 for p, t in pairs if p and t)
    fp = sum(1 for p, t in pairs if p and not t)
    fn = sum(1 for p, t in pairs if not p and t)
    return tp, fp, fn, len(pairs) - tp - fp - fn


def accuracy(pairs: list[tuple[bool, bool]]) -> float | None:
    tp, fp, fn, tn = confusion(pairs)
    return (tp + tn) / len(pairs) if pairs else None


def precision(pairs: list[tuple[bool, bool]]) -> float | None:
    tp, fp, _, _ = confusion(pairs)
    return tp / (tp + fp) if tp + fp else None


def recall(pairs: list[tuple[bool, bool]]) -> float | None:
    tp, _, fn, _ = confusion(pairs)
    return tp / (tp + fn) if tp + fn else None


def kappa(pairs: list[tuple[bool, bool]]) -> float | None:
    """Cohen's kappa: agreement beyond what the two marginals give by chance.

    >>> kappa([(True, True), (False, False), (True, False), (False, False)])
    0.5
    """
    if not pairs:
        return None
    n = len(pairs)
    observed = accuracy(pairs)
    p_yes, t_yes = sum(p for p, _ in pairs) / n, sum(t for _, t in pairs) / n
    chance = p_yes * t_yes + (1 - p_yes) * (1 - t_yes)
    return None if chance == 1 else (observed - chance) / (1 - chance)


METRICS = {"accuracy": accuracy, "precision": precision, "recall": recall, "kappa": kappa}


def _with_interval(pairs: list[tuple[bool, bool]], metric: Callable, seed: int) -> dict[str, float | None]:
    """The metric and its percentile bootstrap 95% interval (BOOTSTRAP resamples of the cases)."""
    value = metric(pairs)
    if value is None or len(pairs) < 2:
        return {"value": None if value is None else round(value, 4), "low": None, "high": None}
    rng = random.Random(seed)
    draws = sorted(v for v in (metric(rng.choices(pairs, k=len(pairs))) for _ in range(BOOTSTRAP)) if v is not None)
    low, high = draws[int(0.025 * (len(draws) - 1))], draws[int(0.975 * (len(draws) - 1))]
    return {"value": round(value, 4), "low": round(low, 4), "high": round(high, 4)}


# ---------------------------------------------------------------- the recorded judge's replies


def recorded_invalid(cases: list[Case]) -> dict[str, Any]:
    """Invalid replies of the LLM judge in the records: each ask after the first was a reply
    without a verdict, and so was the last of a verdict that never came."""
    asked = [c for c in cases if c.attempts is not None and c.judge == "llm"]  # a rule judge has no replies
    replies = sum(c.attempts for c in asked)
    invalid = sum(c.attempts - 1 + (c.verdict is None and bool(c.error) and "judge replies" in c.error)
                  for c in asked)
    return {"replies": replies, "invalid": invalid, "rate": _rate(invalid, replies)}


# ---------------------------------------------------------------- probes and stability


def probe_texts(case: Case, decoys: list[str], rng: random.Random) -> dict[str, str]:
    """The five wrong answers built from one case (`decoys`: other cases' labels)."""
    others = [d for d in decoys if d != case.label] or ["none of the above"]
    picks = rng.sample(others, min(3, len(others)))
    hedge = picks[:]
    hedge.insert(rng.randrange(len(hedge) + 1), case.label)
    texts = {
        "empty": "",
        "question": case.question or "",
        "refusal": (f"I cannot answer this from what I found. It may be {case.label}, but nothing I read confirms "
                    "it, so I will not give an answer."),
        "hedge": ("It is hard to be sure which one is meant. The answer could be " + ", or ".join(hedge)
                  + "; each of these fits part of the evidence."),
        "wrong_final": (f"My first thought was {case.label}, but on checking the pages again that does not hold.\n"
                        f"Final answer: {picks[0]}"),
    }
    if not case.question:
        del texts["question"]
    return texts


class _Salted:
    """An LLM whose requests carry an extra cache key: a fresh ask, not the run's cached one."""

    def __init__(self, inner: Any, salt: str):
        self.inner, self.salt = inner, salt
        self.name, self.model = inner.name, inner.model

    async def chat(self, request: Any) -> Any:
        return await self.inner.chat(replace(request, cache_key=[self.salt, request.cache_key]))


def salted(judge: Any, salt: str) -> Any:
    """The judge asking afresh (an LLM judge over a salted model); a rule judge as it is."""
    if not hasattr(judge, "llm"):
        return judge
    import copy

    fresh = copy.copy(judge)
    fresh.llm = _Salted(judge.llm, salt)
    return fresh


async def run_probes(judge: Any, chosen: list[Case], decoys: list[str], *, seed: int,
                     limit: asyncio.Semaphore) -> tuple[dict[str, Any], list[Verdict]]:
    """Each probe kind sent to the judge for each chosen case; the rate judged correct."""
    rng = random.Random(seed)
    jobs = [(kind, case, text) for case in chosen for kind, text in probe_texts(case, decoys, rng).items()]
    asker = salted(judge, "judge-audit-probe")

    async def ask(job: tuple[str, Case, str]) -> Verdict:
        async with limit:
            return await asker.judge(job[1].question, job[2], job[1].label)

    verdicts = list(await asyncio.gather(*(ask(job) for job in jobs)))
    kinds: dict[str, Any] = {}
    for (kind, case, _), verdict in zip(jobs, verdicts):
        row = kinds.setdefault(kind, {"asked": 0, "judged_correct": 0, "no_verdict": 0, "examples": []})
        row["asked"] += 1
        row["judged_correct"] += verdict.correct is True
        row["no_verdict"] += verdict.correct is None
        if verdict.correct is True and len(row["examples"]) < 2:
            row["examples"].append({"id": case.id, "label": case.label, "probe": _probe_text(jobs, case, kind)})
    for row in kinds.values():
        row["rate"] = _rate(row["judged_correct"], row["asked"] - row["no_verdict"])
    return {"cases": len(chosen), "kinds": {k: kinds[k] for k in PROBES if k in kinds}}, verdicts


def _probe_text(jobs: list[tuple[str, Case, str]], case: Case, kind: str) -> str:
    return next(text for k, c, text in jobs if c is case and k == kind)[:300]


async def run_stability(judge: Any, chosen: list[Case], *, limit: asyncio.Semaphore) -> tuple[dict[str, Any], list[Verdict]]:
    """Two fresh asks of the judge on each chosen case: how often the verdicts agree."""
    askers = [salted(judge, "judge-audit-stability-1"), salted(judge, "judge-audit-stability-2")]

    async def ask(asker: Any, case: Case) -> Verdict:
        async with limit:
            return await asker.judge(case.question, case.content, case.label)

    first = await asyncio.gather(*(ask(askers[0], c) for c in chosen))
    second = await asyncio.gather(*(ask(askers[1], c) for c in chosen))
    both = [(a.correct, b.correct, c.verdict) for a, b, c in zip(first, second, chosen)
            if a.correct is not None and b.correct is not None]
    agree = sum(1 for a, b, _ in both if a == b)
    recorded = [(a, r) for a, _, r in both if r is not None]
    return ({"cases": len(chosen), "both_verdicts": len(both), "agree": agree, "rate": _rate(agree, len(both)),
             "agree_with_recorded": _rate(sum(1 for a, r in recorded if a == r), len(recorded))},
            [*first, *second])


def invalid_rate(verdicts: list[Verdict]) -> dict[str, Any]:
    """Replies without a verdict among the audit's own asks (an LLM judge re-asks up to 3 times)."""
    replies = sum(v.attempts for v in verdicts if v.raw is not None or v.error)
    invalid = sum(v.attempts - 1 + (v.correct is None and bool(v.error) and "judge replies" in v.error)
                  for v in verdicts if v.raw is not None or v.error)
    return {"replies": replies, "invalid": invalid, "rate": _rate(invalid, replies)}


# ---------------------------------------------------------------- the audit


@dataclass(frozen=True)
class AuditOptions:
    probes: int = 30  # cases to build probes from (0: none)
    stability: int = 30  # cases to ask twice (0: none)
    examples: int = 3
    seed: int = 0
    concurrency: int = 16


def audit(cases: list[Case], *, judge: Any | None, labels: dict | None = None, records: int = 0,
          options: AuditOptions = AuditOptions()) -> dict[str, Any]:
    """The whole audit as one JSON-able object (probes and stability only with a judge)."""
    from ltrl_cli.concurrency import run_sync

    judged = [c for c in cases if c.verdict is not None]
    out: dict[str, Any] = {"records": records, "cases": len(cases), "judged": len(judged),
                           "recorded_judges": _count(c.judge or "unknown" for c in cases),
                           "judged_correct_rate": _rate(sum(c.verdict is True for c in judged), len(judged)),
                           "agreement": agreement(cases, examples=options.examples),
                           "recorded_invalid": recorded_invalid(cases)}
    if labels is not None:
        out["labels"] = against_labels(cases, labels, seed=options.seed)
    if judge is None:
        return out
    out["judge"] = {"name": judge.name, "model": getattr(judge, "model", None)}
    rng = random.Random(options.seed)
    with_content = [c for c in cases if c.content.strip()]
    out.update(run_sync(_ask_judge(judge, cases, with_content, rng, options)))
    return out


async def _ask_judge(judge: Any, cases: list[Case], with_content: list[Case], rng: random.Random,
                     options: AuditOptions) -> dict[str, Any]:
    limit = asyncio.Semaphore(options.concurrency)
    decoys = sorted({c.label for c in cases})
    by_label = {c.label: c for c in cases}  # one case per label: probes differ by their gold answer
    chosen = rng.sample(sorted(by_label.values(), key=lambda c: (c.id, c.index)), min(options.probes, len(by_label)))
    probes, verdicts = await run_probes(judge, chosen, decoys, seed=options.seed, limit=limit)
    steady = rng.sample(with_content, min(options.stability, len(with_content)))
    stability, more = await run_stability(judge, steady, limit=limit)
    return {"probes": probes, "stability": stability, "invalid_replies": invalid_rate([*verdicts, *more])}


def _count(names: Iterable[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for name in names:
        counts[name] = counts.get(name, 0) + 1
    return counts
