"""What the five benchmark modules share: the item and grade types, answer-letter
extraction, and the judges (the official files are read through `eval/tables.py`).

A benchmark module (`aa_lcr`, `mrcr`, `frames`, `longbench_v2`, `longreason`) has:

- `NAME`, `BREAKDOWNS` (the bucket keys its summary breaks the score down by),
  `NEEDS_JUDGE` (graded by an LLM judge), `COLUMNS` (the fields its files must have: a
  name, or a tuple of alternative names);
- `load(path, *, skip_missing=False) -> Iterator[Item]`: the official files -> items;
- `prompt(row) -> list[message]`: the owners' prompt for one row of the official file;
- `async grade(item, content, graders) -> Grade`: the owners' scoring of the final text.

An item keeps what grading needs (`gold`, `question`, `grading`) apart from the prompt,
so that `ltrl eval --score-only` can re-grade a previous run from its output alone.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterator

from ltrl_cli.errors import UsageError
from ltrl_cli.llm.base import LLM

if TYPE_CHECKING:
    from ltrl_cli.reward.judge import Judge

BENCHMARKS = {
    "aa-lcr": "aa_lcr",
    "mrcr": "mrcr",
    "frames": "frames",
    "longbench-v2": "longbench_v2",
    "longreason": "longreason",
}


def benchmark_module(name: str) -> Any:
    """The module of a benchmark by its command-line name (`aa-lcr`, `longbench-v2`, ...)."""
    if name not in BENCHMARKS:
        raise UsageError(f"--benchmark {name!r}: expected one of {', '.join(BENCHMARKS)}")
    return importlib.import_module(f"ltrl_cli.eval.{BENCHMARKS[name]}")


@dataclass
class Item:
    """One question of a benchmark, ready to send and to grade."""

    id: str
    messages: list[dict[str, Any]]  # the chat sent to the model
    gold: str  # the reference answer (a letter for multiple choice)
    question: str | None = None  # the question alone, for an LLM judge
    grading: dict[str, Any] = field(default_factory=dict)  # what else the grader needs
    buckets: dict[str, str] = field(default_factory=dict)  # breakdown key -> bucket
    where: str = field(default="", compare=False)  # "FILE row N", for messages (not written)

    def to_record(self) -> dict[str, Any]:
        """The item's part of an output record (no prompt: it can be megabytes)."""
        return {"id": self.id, "question": self.question, "gold": self.gold,
                "grading": self.grading, "buckets": self.buckets}

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> "Item":
        """Rebuild the gradable part of an item from a previous output record."""
        return cls(id=str(record["id"]), messages=[], gold=str(record["gold"]), question=record.get("question"),
                   grading=dict(record.get("grading") or {}), buckets=dict(record.get("buckets") or {}))


@dataclass
class Grade:
    """One sample's grade: a score in [0, 1], or None when no verdict could be had."""

    score: float | None
    extracted: str | None = None  # the answer the grader read from the response
    judge: dict[str, Any] | None = None  # the judge's verdict, for LLM-judged benchmarks
    metrics: dict[str, float] = field(default_factory=dict)  # secondary metrics (FRAMES substring)
    error: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)  # how the grade was reached (extraction rule...)


def one_user_turn(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


# ---------------------------------------------------------------- answer letters

# Markdown emphasis and code marks around a letter or a phrase: `**B**`, `__(C)__`, `` `D` ``.
_MARKUP = re.compile(r"[*_`]+")


def strip_markup(text: str) -> str:
    """Drop markdown emphasis and code marks (`*`, `_`, backticks).

    >>> strip_markup("The correct answer is **(B)**")
    'The correct answer is (B)'
    """
    return _MARKUP.sub("", text)


def letters_class(letters: str) -> str:
    return "".join(sorted(set(letters.upper() + letters.lower())))


def extract_letter(text: str, letters: str = "ABCD") -> str | None:
    r"""The option letter a free-text answer commits to, read from the end.

    Tried in order, the last match of each winning: `\boxed{X}`; `answer is (X)` /
    `answer: X` (any case, any markdown); a line that is only the letter (`(b)`, `C.`).
    A lower-case letter counts only where it cannot be an English word (in parentheses,
    boxed, or alone before punctuation or the end), so "the answer is a mix" is no `A`.

    >>> extract_letter("so **The final answer is (c)**")
    'C'
    >>> extract_letter("Answer: B. Because...")
    'B'
    >>> extract_letter("The answer is a combination of both") is None
    True
    >>> extract_letter("I pick \\boxed{D}")
    'D'
    >>> extract_letter("(A) is wrong.\nB")
    'B'
    """
    text = strip_markup(text or "")
    cls = letters_class(letters)
    upper = "".join(sorted(set(letters.upper())))
    # A letter that is unambiguous: in brackets/boxed (any case), or capital and standing alone.
    letter = (rf"(?:\\boxed\{{\s*\(?([{cls}])\)?\s*\}}|[(\[]([{cls}])[)\]]|([{upper}])(?![A-Za-z0-9])"
              rf"|([{cls}])(?=\s*(?:$|[.,;:!)\]\n])))")
    patterns = [
        re.compile(rf"\\boxed\{{\s*\(?([{cls}])\)?\s*\}}"),
        # Only the phrase ignores case: a case-blind letter class would read the article "a".
        re.compile(rf"(?i:answer\s*(?:is|[:：]|=)\s*(?:option\s*|choice\s*)?){letter}"),
        re.compile(rf"^\s*(?i:option\s*)?{letter}\s*$", re.MULTILINE),
    ]
    for pattern in patterns:
        found = pattern.findall(text)
        if found:
            last = found[-1]
            groups = [last] if isinstance(last, str) else [g for g in last if g]
            if groups:
                return groups[0].upper()
    return None


# ---------------------------------------------------------------- judges


@dataclass
class Graders:
    """What grading may call: the judge model and which judge prompt to use.

    `judge_llm` is any LLM backend (None: benchmarks that need a judge fail with a message
    saying how to give one). `judge_prompt` is `official` (the benchmark owners' judge
    prompt) or `longtracerl` (the method's yes/no prompt, as `ltrl score` uses).
    """

    judge_llm: LLM | None = None
    judge_prompt: str = "official"
    judging: Any = None  # reward.builder.JudgeOptions: parser, no-think switch, max tokens, prompt file
    _judges: dict[str, Any] = field(default_factory=dict)

    def judge(self, kind: str, prompt: str | None = None, parse: Any = None) -> Judge:
        """A judge over `judge_llm`: the LongTraceRL judge, or one with its own prompt/parser."""
        if self.judge_llm is None:
            raise UsageError("this benchmark is graded by an LLM judge: give --judge-model and --judge-base-url "
                             "(they default to the generation endpoint)")
        if kind not in self._judges:
            from ltrl_cli.reward.builder import JudgeOptions
            from ltrl_cli.reward.judge import LLMJudge

            custom = {} if prompt is None else {"prompt": prompt, "parse": parse}
            settings = (self.judging or JudgeOptions(name="llm")).settings()
            self._judges[kind] = LLMJudge(self.judge_llm, **{**settings, **custom})
        return self._judges[kind]


async def judged(graders: Graders, item: Item, content: str, *, official: tuple[str, str, Any]) -> Grade:
    """Grade by an LLM judge: the benchmark's own (`official` = (name, prompt, parser)) or
    the LongTraceRL one, as `graders.judge_prompt` says. An empty final answer is 0 without
    asking (METHOD.md: no final content, outcome 0)."""
    if not content.strip():
        return Grade(0.0, extracted="", judge={"correct": False, "error": None, "skipped": "empty final answer"})
    if graders.judge_prompt == "official":
        name, prompt, parse = official
        judge = graders.judge(name, prompt=prompt, parse=parse)
    else:
        judge = graders.judge("longtracerl")
    verdict = await judge.judge(item.question, content, item.gold)
    record = {"correct": verdict.correct, "error": verdict.error, "raw": verdict.raw, "attempts": verdict.attempts,
              "model": getattr(judge, "model", None), "prompt": graders.judge_prompt}
    score = None if verdict.correct is None else float(verdict.correct)
    return Grade(score, extracted=getattr(verdict, "answer", None), judge=record, error=verdict.error)
