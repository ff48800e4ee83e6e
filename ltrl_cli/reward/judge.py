"""Outcome judges: does a response's final content give the gold answer?

Three judges share one protocol (`name`, `async judge(question, content, label)`):
- `exact`: normalised exact match (lower-case, punctuation and articles removed, white
  space collapsed) of the answer extracted from the content;
- `contains`: the normalised label appears in the normalised answer as whole words;
- `llm`: an LLM reads the question, the response and the correct answer in the method's
  prompt style and ends with `correct: yes|no`.

A verdict that could not be obtained is `Verdict(correct=None, error=...)`: visible to the
caller, never a silent 0.
"""

from __future__ import annotations

import re
import string
import unicodedata
from dataclasses import dataclass
from typing import Any, Callable, Protocol, runtime_checkable

from ltrl_cli.errors import UsageError
from ltrl_cli.llm.base import LLM, ChatRequest

JUDGES = ("exact", "contains", "llm")
MAX_ATTEMPTS = 3  # the method: retry the judge up to 3 times on an unparseable verdict


@dataclass
class Verdict:
    """A judge's decision on one response."""

    correct: bool | None  # None: no verdict could be obtained (see `error`)
    error: str | None = None
    answer: str | None = None  # the answer the judge extracted from the response
    raw: str | None = None  # the judge model's last reply (LLM judge only)
    attempts: int = 1

    @property
    def outcome(self) -> float | None:
        """1.0, 0.0, or None when there is no verdict."""
        return None if self.correct is None else float(self.correct)


@runtime_checkable
class Judge(Protocol):
    name: str

    async def judge(self, question: str | None, content: str, label: str) -> Verdict: ...


# ---------------------------------------------------------------- normalised matching

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = set(string.punctuation)


def normalize_answer(text: str) -> str:
    """Lower-case, drop punctuation and the articles a/an/the, collapse white space.

    >>> normalize_answer("  The Eiffel   Tower! ")
    'eiffel tower'
    >>> normalize_answer("1,000 km")
    '1000 km'
    """
    text = "".join(c for c in text.lower() if c not in _PUNCT and not unicodedata.category(c).startswith("P"))
    return " ".join(_ARTICLES.sub(" ", text).split())


def exact_match(answer: str, label: str) -> bool:
    """Normalised exact match.

    >>> exact_match("the Beatles.", "Beatles"), exact_match("Beatles band", "Beatles")
    (True, False)
    """
    return normalize_answer(answer) == normalize_answer(label)


def contains_match(answer: str, label: str) -> bool:
    """The normalised label appears in the normalised answer as whole words.

    >>> contains_match("It was Paris, France.", "paris"), contains_match("Parisian", "Paris")
    (True, False)
    >>> contains_match("anything", "!!")
    False
    """
    needle = normalize_answer(label)
    return bool(needle) and f" {needle} " in f" {normalize_answer(answer)} "


_BOXED = re.compile(r"\\boxed\{([^{}]*)\}")
_ANSWER_LINE = re.compile(r"^\W*(?:final\s+)?answer\W*[:：]\s*(.+?)\s*$", re.IGNORECASE | re.MULTILINE)


def extract_answer(content: str) -> str:
    r"""The answer a rule judge compares: the last `\boxed{}`, else the last `Answer: ...`
    line, else the whole content.

    >>> extract_answer("So it is \\boxed{42}.")
    '42'
    >>> extract_answer("Reasoning...\n**Final answer:** Paris")
    'Paris'
    >>> extract_answer("Paris")
    'Paris'
    """
    boxed = _BOXED.findall(content)
    if boxed:
        return boxed[-1].strip()
    lines = _ANSWER_LINE.findall(content)
    if lines:
        return lines[-1].strip("*_ ")
    return content.strip()


class RuleJudge:
    """`exact` or `contains`: a deterministic judge that needs no model."""

    def __init__(self, name: str):
        if name not in ("exact", "contains"):
            raise ValueError(f"not a rule judge: {name!r}")
        self.name = name
        self._match = exact_match if name == "exact" else contains_match

    async def judge(self, question: str | None, content: str, label: str) -> Verdict:
        answer = extract_answer(content)
        return Verdict(correct=self._match(answer, label), answer=answer)


# ---------------------------------------------------------------- the LLM judge

JUDGE_PROMPT = """\
Judge whether the response below answers the question correctly, using the correct answer given.

[question]: {question}

[response]: {response}

[correct_answer]: {label}

First, write `extracted_final_answer:` followed by the final answer the response gives, \
copied exactly; write None if the response gives no final answer.

Then write `reasoning:` and explain only whether the extracted answer matches the correct \
answer. Do not solve the question yourself and do not argue for another answer; only look \
for meaningful differences between the two. A numerical answer counts as matching when it \
is within a small margin (about 1%, or the rounding the correct answer uses). An answer that \
is ambiguous, hedges between several answers, or is missing does not match.

Finally, end with one line, exactly `correct: yes` if the extracted answer matches the \
correct answer, or `correct: no` otherwise."""

# `correct: yes`, `**Correct:** Yes.`, `- correct: [NO]`: markup, case and trailing
# punctuation are tolerated; the line must start with the word so that prose such as
# "the response is correct: yes and no" elsewhere is not taken for the verdict.
_VERDICT = re.compile(r"^[\s>#*_`\-\[]*correct[\s*_`\]]*[:：][\s*_`\[\"']*(yes|no)\b", re.IGNORECASE | re.MULTILINE)
_EXTRACTED = re.compile(r"^[\s>#*_`\-]*extracted[_ ]final[_ ]answer[\s*_`]*[:：]\s*(.*?)\s*$",
                        re.IGNORECASE | re.MULTILINE)


def parse_verdict(text: str) -> bool | None:
    """The last `correct: yes|no` line of a judge's reply; None when there is none.

    >>> parse_verdict("reasoning: fine\\n**Correct:** **Yes**.")
    True
    >>> parse_verdict("correct: yes\\nOn reflection...\\ncorrect: no")
    False
    >>> parse_verdict("I think it is right") is None
    True
    """
    found = _VERDICT.findall(text or "")
    return found[-1].lower() == "yes" if found else None


def parse_extracted(text: str) -> str | None:
    """The judge's `extracted_final_answer:` line, without markup; None when absent or None.

    >>> parse_extracted("**extracted_final_answer:** Paris\\ncorrect: yes")
    'Paris'
    """
    found = _EXTRACTED.findall(text or "")
    if not found:
        return None
    value = found[-1].strip("*_` ")
    return None if value.lower() in ("", "none") else value


class LLMJudge:
    """The method's LLM judge over any backend with `async chat(request)`.

    Endpoint faults are retried (with backoff) by the LLM layer; this class retries only
    an unparseable verdict, up to `attempts` times. A retry is sampled at
    `retry_temperature` with a new seed: a deterministic judge would repeat the same
    unparseable reply, and a response cache would hand it back unchanged.
    """

    name = "llm"

    def __init__(self, llm: LLM, *, attempts: int = MAX_ATTEMPTS, temperature: float = 0.0,
                 retry_temperature: float = 0.7, max_tokens: int | None = None, prompt: str = JUDGE_PROMPT,
                 parse: Callable[[str | None], bool | None] = None, extract: Callable[[str | None], Any] = None):
        """`prompt`, `parse` and `extract` default to the method's; a benchmark with its own
        judge prompt passes its own verdict parser (and no answer extractor)."""
        if attempts < 1:
            raise ValueError("attempts must be >= 1")
        self.llm = llm
        self.model = getattr(llm, "model", None)
        self.attempts = attempts
        self.temperature = temperature
        self.retry_temperature = retry_temperature
        self.max_tokens = max_tokens
        self.prompt = prompt
        self.parse = parse or parse_verdict
        self.extract = extract or (parse_extracted if parse is None else None)
        self.expected = "'correct: yes|no' verdict" if parse is None else "verdict"  # for the error

    def request(self, question: str | None, content: str, label: str, attempt: int = 0) -> ChatRequest:
        """The chat request for one attempt (attempt 0 at the configured temperature)."""
        text = self.prompt.format(question=question or "(not given)", response=content, label=label)
        return ChatRequest(
            messages=[{"role": "user", "content": text}],
            temperature=self.temperature if attempt == 0 else self.retry_temperature,
            seed=None if attempt == 0 else attempt,
            max_tokens=self.max_tokens,
        )

    async def judge(self, question: str | None, content: str, label: str) -> Verdict:
        raw = None
        for attempt in range(self.attempts):
            try:
                response = await self.llm.chat(self.request(question, content, label, attempt))
            except Exception as exc:  # the LLM layer already retried: report, never score 0
                return Verdict(None, error=f"judge endpoint failed: {_reason(exc)}", raw=raw, attempts=attempt + 1)
            raw = response.content
            correct = self.parse(raw)
            if correct is not None:
                answer = self.extract(raw) if self.extract else None
                return Verdict(correct, answer=answer, raw=raw, attempts=attempt + 1)
        return Verdict(None, error=f"no {self.expected} in {self.attempts} judge replies", raw=raw,
                       attempts=self.attempts)


def _reason(exc: BaseException) -> str:
    message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    return " ".join(str(message).split())[:300]


def make_judge(name: str, llm: LLM | None = None, **opts: Any) -> Judge:
    """Build a judge by name: `exact`, `contains`, or `llm` (which needs `llm`)."""
    if name in ("exact", "contains"):
        return RuleJudge(name)
    if name == "llm":
        if llm is None:
            raise UsageError("--judge llm needs a model: give --base-url and --model")
        return LLMJudge(llm, **opts)
    raise UsageError(f"--judge {name!r}: choose one of {', '.join(JUDGES)}")
