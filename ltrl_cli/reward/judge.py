"""Outcome judges: does a response's final content give the gold answer?

Three judges share one protocol (`name`, `async judge(question, content, label)`):
- `exact`: normalised exact match (lower-case, punctuation and articles removed, white
  space collapsed) of the answer extracted from the content;
- `contains`: the normalised label appears in the normalised answer as whole words;
- `llm`: an LLM reads the question, the correct answer and the response, and answers in
  the authors' grader format (`extracted_final_answer:`, `reasoning:`, `correct: yes|no`).

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
from ltrl_cli.llm.base import LLM, ChatRequest, EndpointDown
from ltrl_cli.llm.usage import BudgetExhausted, record_scope

JUDGES = ("exact", "contains", "llm")
# The judge every command uses unless told: `exact` scored 0 on correct answers phrased
# "Via X and Y: 8 July 1776", which `contains` (the label as whole words) accepts.
DEFAULT_JUDGE = "contains"
MAX_ATTEMPTS = 3  # the method: retry the judge up to 3 times on an unparseable verdict


@dataclass
class Verdict:
    """A judge's decision on one response."""

    correct: bool | None  # None: no verdict could be obtained (see `error`)
    error: str | None = None
    answer: str | None = None  # the answer the judge extracted from the response
    raw: str | None = None  # the judge model's last reply (LLM judge only)
    attempts: int = 1
    usage: dict | None = None  # the judge model's requests and tokens for this verdict (LLM judge only)

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

    def decide(self, content: str, label: str) -> Verdict:
        """The verdict, synchronously: a rule needs no I/O (the server runs it in a worker)."""
        answer = extract_answer(content)
        return Verdict(correct=self._match(answer, label), answer=answer)

    async def judge(self, question: str | None, content: str, label: str) -> Verdict:
        return self.decide(content, label)


# ---------------------------------------------------------------- the LLM judge

# The grader format of HLE / BrowseComp that the authors' judge uses: three labelled fields
# in this order, with these criteria. The wording is ltrl's own.
JUDGE_PROMPT = """\
Decide whether the [response] below answers the [question] correctly, judged only against \
the [correct_answer], which is precise and unambiguous.

[question]: {question}

[correct_answer]: {correct_answer}

[response]: {response}

Reply with the three fields below, in this order, each starting with its label.

extracted_final_answer: the final answer stated in the [response], copied exactly. Write \
None if the response states no exact final answer.

reasoning: explain whether extracted_final_answer agrees with [correct_answer], looking \
only for meaningful differences between the two. Do not discuss the background of the \
question, do not try to solve it, and do not argue for an answer other than [correct_answer].

correct: yes if extracted_final_answer agrees with [correct_answer], or for a numerical \
question lies within a small margin of error of it; no otherwise, that is when the two are \
inconsistent, ambiguous or not equivalent, or the extracted answer is wrong."""

PLACEHOLDERS = ("question", "correct_answer", "response")
_PLACEHOLDER = re.compile(r"\{(question|correct_answer|label|response)\}")

# The authors' rule: the FIRST `correct: yes|no` anywhere in the reply (up to two `*`
# either side of the word, any case; so `**correct:** yes` is no verdict) and the first
# `extracted_final_answer: <something>`; a reply counts only when both are there.
_STRICT_VERDICT = re.compile(r"\*{0,2}correct\*{0,2}\s*:\s*(no|yes)", re.IGNORECASE)
_STRICT_EXTRACTED = re.compile(r"\*{0,2}extracted_final_answer\*{0,2}\s*:\s*(.+)", re.IGNORECASE)

# The tolerant reading (--judge-parse tolerant): `correct: yes`, `**Correct:** **Yes**.`,
# `- correct: [NO]`: markup, case and trailing punctuation are accepted; the line must start
# with the word, so prose such as "the response is correct: yes and no" is not a verdict;
# the LAST verdict line wins and no extracted answer is needed.
_VERDICT = re.compile(r"^[\s>#*_`\-\[]*correct[\s*_`\]]*[:：][\s*_`\[\"']*(yes|no)\b", re.IGNORECASE | re.MULTILINE)
_EXTRACTED = re.compile(r"^[\s>#*_`\-]*extracted[_ ]final[_ ]answer[\s*_`]*[:：]\s*(.*?)\s*$",
                        re.IGNORECASE | re.MULTILINE)

PARSERS = ("strict", "tolerant")
# How an endpoint is told not to think. vLLM, SGLang and llama.cpp pass
# `chat_template_kwargs` to the chat template (Qwen3's reads `enable_thinking`); some hosted
# APIs take `thinking: {"type": "disabled"}` (what the authors' server sends); OpenAI's own
# API refuses unknown fields, hence `none`.
NO_THINK = {
    "chat-template": {"chat_template_kwargs": {"enable_thinking": False}},
    "thinking-disabled": {"thinking": {"type": "disabled"}},
    "none": {},
}


def fill_prompt(prompt: str, question: str | None, correct_answer: str, response: str) -> str:
    """The prompt with its placeholders replaced in one pass (a response that contains
    `{question}` stays as written; other braces in the prompt are left alone).

    >>> fill_prompt("Q {question} A {correct_answer} R {response} {x}", "q", "a", "{question}")
    'Q q A a R {question} {x}'
    """
    values = {"question": question or "(not given)", "correct_answer": correct_answer, "label": correct_answer,
              "response": response}
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], prompt)


def check_prompt(prompt: str, source: str = "the judge prompt") -> str:
    """A judge prompt must name all three placeholders."""
    missing = [p for p in PLACEHOLDERS if "{" + p + "}" not in prompt]
    if missing:
        raise UsageError(f"{source} lacks the placeholder(s) " + ", ".join("{" + p + "}" for p in missing))
    return prompt


def parse_strict(text: str | None) -> tuple[bool | None, str | None]:
    """(verdict, extracted answer) by the authors' rule; verdict None unless BOTH fields are there.

    >>> parse_strict("extracted_final_answer: Paris\\nreasoning: ok\\ncorrect: yes\\ncorrect: no")
    (True, 'Paris')
    >>> parse_strict("**extracted_final_answer:** Paris\\n**correct:** yes")
    (None, 'Paris')
    >>> parse_strict("correct: yes")
    (None, None)
    """
    verdict = _STRICT_VERDICT.search(text or "")
    extracted = _STRICT_EXTRACTED.search(text or "")
    answer = extracted.group(1).strip("*_` \t") if extracted else None  # markup off, for the record
    if not (verdict and extracted):
        return None, answer
    return verdict.group(1).lower() == "yes", answer


def parse_verdict(text: str | None) -> bool | None:
    """The tolerant reading: the last `correct: yes|no` line of a judge's reply; None when there is none.

    >>> parse_verdict("reasoning: fine\\n**Correct:** **Yes**.")
    True
    >>> parse_verdict("correct: yes\\nOn reflection...\\ncorrect: no")
    False
    >>> parse_verdict("I think it is right") is None
    True
    """
    found = _VERDICT.findall(text or "")
    return found[-1].lower() == "yes" if found else None


def parse_extracted(text: str | None) -> str | None:
    """The judge's `extracted_final_answer:` line, without markup; None when absent or None.

    >>> parse_extracted("**extracted_final_answer:** Paris\\ncorrect: yes")
    'Paris'
    """
    found = _EXTRACTED.findall(text or "")
    if not found:
        return None
    value = found[-1].strip("*_` ")
    return None if value.lower() in ("", "none") else value


def parse_tolerant(text: str | None) -> tuple[bool | None, str | None]:
    """(verdict, extracted answer) by the tolerant reading."""
    return parse_verdict(text), parse_extracted(text)


class LLMJudge:
    """The method's LLM judge over any backend with `async chat(request)`.

    One user message (the prompt with its placeholders filled); only the model and the
    no-thinking switch are sent unless the caller sets temperature or max_tokens. Endpoint
    faults are retried (with backoff) by the LLM layer; this class asks again only when a
    reply holds no verdict, `attempts` asks in all. A repeated ask carries a new cache key,
    so the response cache cannot hand back the reply that had no verdict.
    """

    name = "llm"

    def __init__(self, llm: LLM, *, attempts: int = MAX_ATTEMPTS, temperature: float | None = None,
                 max_tokens: int | None = None, prompt: str = JUDGE_PROMPT, parser: str = "strict",
                 no_think: str = "chat-template", parse: Callable[[str | None], bool | None] | None = None):
        """`parse` replaces the verdict reader for a benchmark with its own judge prompt
        (it returns the verdict alone, and no answer is extracted)."""
        if attempts < 1:
            raise ValueError("attempts must be >= 1")
        if parser not in PARSERS:
            raise UsageError(f"--judge-parse {parser!r}: choose one of {', '.join(PARSERS)}")
        if no_think not in NO_THINK:
            raise UsageError(f"--judge-no-think {no_think!r}: choose one of {', '.join(NO_THINK)}")
        self.llm = llm
        self.model = getattr(llm, "model", None)
        self.attempts = attempts
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.prompt = prompt
        self.extra = NO_THINK[no_think]
        if parse is not None:
            self.read, self.expected = (lambda text: (parse(text), None)), "verdict"
        elif parser == "strict":
            self.read, self.expected = parse_strict, "'correct: yes|no' verdict with an extracted_final_answer"
        else:
            self.read, self.expected = parse_tolerant, "'correct: yes|no' verdict"

    def request(self, question: str | None, content: str, label: str, attempt: int = 0) -> ChatRequest:
        """The chat request for one ask (`attempt` tells repeated asks apart in the cache only)."""
        return ChatRequest(
            messages=[{"role": "user", "content": fill_prompt(self.prompt, question, label, content)}],
            temperature=self.temperature,
            max_tokens=self.max_tokens,
            extra=self.extra,
            cache_key=None if attempt == 0 else ("judge-ask", attempt),
        )

    async def judge(self, question: str | None, content: str, label: str) -> Verdict:
        with record_scope() as used:  # inside the caller's record scope: counts there too
            verdict = await self._ask(question, content, label)
        verdict.usage = used.as_dict() or None
        return verdict

    async def _ask(self, question: str | None, content: str, label: str) -> Verdict:
        raw = None
        for attempt in range(self.attempts):
            try:
                response = await self.llm.chat(self.request(question, content, label, attempt))
            except BudgetExhausted:  # the run stops; it is not this response's fault
                raise
            except EndpointDown:
                raise  # gone for every response, not this one: the run stops, resumable
            except Exception as exc:  # the LLM layer already retried: report, never score 0
                return Verdict(None, error=f"judge endpoint failed: {_reason(exc)}", raw=raw, attempts=attempt + 1)
            raw = response.content
            correct, answer = self.read(raw)
            if correct is not None:
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
