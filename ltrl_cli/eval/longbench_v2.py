"""LongBench v2 (THUDM/LongBench-v2, "test"/"train" split, 503 questions): multiple choice
over contexts of 8K to 2M words.

The prompt is the owners' zero-shot template (their `prompts/0shot.txt`): the text inside
`<text>` tags, the question, the four choices as `(A)`..`(D)`, and the instruction to
answer as "The correct answer is (insert answer here)". Their grader removes `*` from the
response, then takes the first `The correct answer is (X)`, else the first
`The correct answer is X`. We apply exactly that first; only when it finds nothing do we
fall back to the tolerant reader (`extract_letter`: lower-case letters, other markdown,
`Answer: X`), and the record says which rule matched. Scores are broken down the way
the owners report them: easy/hard and short/medium/long.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any, Iterator

from ltrl_cli.errors import BadInput

from ltrl_cli.eval.common import Grade, Graders, Item, extract_letter, one_user_turn
from ltrl_cli.eval.tables import benchmark_rows, need

NAME = "longbench-v2"
BREAKDOWNS = ("difficulty", "length", "domain")
COLUMNS = (("_id", "id"), "question", "choice_A", "choice_B", "choice_C", "choice_D", "answer", "context")
NEEDS_JUDGE = False
CHOICES = "ABCD"

TEMPLATE = """\
Please read the following text and answer the question below.

<text>
{context}
</text>

What is the correct answer to this question: {question}
Choices:
(A) {a}
(B) {b}
(C) {c}
(D) {d}

Format your response as follows: "The correct answer is (insert answer here)"."""

_OFFICIAL = re.compile(r"The correct answer is \(([A-D])\)")
_OFFICIAL_BARE = re.compile(r"The correct answer is ([A-D])")


def load(path: Path, *, skip_missing: bool = False) -> Iterator[Item]:
    """Items from `data.json` (a JSON list), a JSONL file, or a folder holding either."""
    for file, number, row in benchmark_rows(path, sys.modules[__name__], ("*.json", "*.jsonl")):
        yield _item(row, file, number)


def _item(row: dict[str, Any], file: Path, number: int) -> Item:
    answer = need(row, "answer", file, number).strip().upper()
    if answer not in CHOICES:
        raise BadInput(f"row {number}: field 'answer': expected one of A, B, C, D, got {answer!r}", source=str(file))
    buckets = {key: str(row.get(key) or "unknown") for key in BREAKDOWNS}
    return Item(id=str(need(row, ("_id", "id"), file, number)), messages=one_user_turn(prompt(row, file, number)),
                gold=answer, question=need(row, "question", file, number), buckets=buckets,
                where=f"{file} row {number}")


def prompt(row: dict[str, Any], file: Path | None = None, number: int = 0) -> str:
    """The owners' 0-shot prompt; every field is stripped, as their script does."""
    file = file or Path("<row>")
    fields = {key: need(row, name, file, number, empty_ok=True).strip()
              for key, name in (("context", "context"), ("question", "question"), ("a", "choice_A"),
                                ("b", "choice_B"), ("c", "choice_C"), ("d", "choice_D"))}
    return TEMPLATE.format(**fields)


def official_extract(response: str) -> str | None:
    """The owners' rule: drop `*`, then `The correct answer is (X)`, else `... is X`.

    >>> official_extract("**The correct answer is (B)**")
    'B'
    >>> official_extract("The correct answer is C") , official_extract("the correct answer is (c)")
    ('C', None)
    """
    text = response.replace("*", "")
    match = _OFFICIAL.search(text) or _OFFICIAL_BARE.search(text)
    return match.group(1) if match else None


def extract(response: str) -> tuple[str | None, str | None]:
    """(letter, rule): the official rule first, then the tolerant reader.

    >>> extract("The correct answer is (b)")
    ('B', 'tolerant')
    >>> extract("I cannot tell.")
    (None, None)
    """
    letter = official_extract(response)
    if letter:
        return letter, "official"
    letter = extract_letter(response, CHOICES)
    return (letter, "tolerant") if letter else (None, None)


async def grade(item: Item, content: str, graders: Graders | None = None) -> Grade:
    """1 when the extracted letter is the gold letter; no letter found is 0 (as the owners score it)."""
    letter, rule = extract(content)
    return Grade(float(letter == item.gold), extracted=letter, detail={"rule": rule})
