"""LongReason (lz1bytedance/LongReason): multiple-choice reasoning questions whose short
context was expanded to 8K-128K tokens of background.

Each JSONL row holds `prompt` (the whole user turn as the dataset builds it: background,
question, options and the final inquiry), `question`, `background`, `final_inquiry`,
`answer` (the option letter) and `example_idx`. The dataset ships one file per context
length (8k ... 128k); a folder of them gives one breakdown bucket per file.

The prompt is sent as it is. Grading reads the option letter the response commits to
(`extract_letter`: `The final answer is (C)`, `Answer: c`, `**B**`, `\\boxed{D}`, a lone
letter line; the last one wins) and compares it with `answer`. The letters allowed are
the options the prompt lists (`(A)`..., `A.`...), A-D when none can be found.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any, Iterator

from ltrl_cli.errors import BadInput
from ltrl_cli.eval.common import Grade, Graders, Item, extract_letter, one_user_turn
from ltrl_cli.eval.tables import benchmark_rows, need

NAME = "longreason"
BREAKDOWNS = ("length",)
COLUMNS = ("prompt", "answer")
NEEDS_JUDGE = False

# Option lines: "(A) text", "A. text", "A) text", "A: text" at the start of a line.
_OPTION = re.compile(r"^\s*\(?([A-J])[).:]\s+\S", re.MULTILINE)


def load(path: Path, *, skip_missing: bool = False) -> Iterator[Item]:
    """Items from a LongReason JSONL (or JSON/parquet) file or a folder of them."""
    for file, number, row in benchmark_rows(path, sys.modules[__name__], ("*.jsonl", "*.json", "*.parquet")):
        yield _item(row, file, number)


def _item(row: dict[str, Any], file: Path, number: int) -> Item:
    text = prompt(row, file, number)
    answer = need(row, "answer", file, number).strip().strip("()").upper()
    if not re.fullmatch(r"[A-J]", answer):
        raise BadInput(f"row {number}: field 'answer': expected an option letter, got {row['answer']!r}",
                       source=str(file))
    example = row.get("example_idx", row.get("id"))
    item_id = f"{file.stem}:{example}" if example is not None else f"{file.stem}:{number}"
    question = row.get("final_inquiry") or row.get("question")
    return Item(id=item_id, messages=one_user_turn(text), gold=answer, question=question,
                grading={"letters": options(text)}, buckets={"length": length_of(row, file)},
                where=f"{file} row {number}")


def prompt(row: dict[str, Any], file: Path | None = None, number: int = 0) -> str:
    """The row's `prompt`, as the dataset builds it."""
    return need(row, "prompt", file or Path("<row>"), number)


def options(text: str) -> str:
    """The option letters a prompt lists, in order; "ABCD" when it lists none.

    >>> options("Q?\\n(A) red\\n(B) blue\\n(C) green")
    'ABC'
    >>> options("no options here")
    'ABCD'
    """
    found = []
    for letter in _OPTION.findall(text[-20000:]):  # the options sit at the end, after the background
        if letter not in found:
            found.append(letter)
    letters = "".join(sorted(found))
    return letters if len(letters) >= 2 and letters == "ABCDEFGHIJ"[: len(letters)] else "ABCD"


def length_of(row: dict[str, Any], file: Path) -> str:
    """The context-length bucket: a `length`/`context_length` field, else the file name (`128k.jsonl`)."""
    for key in ("length", "context_length", "len"):
        if row.get(key) is not None:
            return str(row[key])
    match = re.search(r"(\d+)\s*[kK]", file.stem)
    return f"{match.group(1)}K" if match else file.stem


async def grade(item: Item, content: str, graders: Graders | None = None) -> Grade:
    """1 when the letter the response commits to is the answer letter."""
    letter = extract_letter(content, item.grading.get("letters") or "ABCD")
    return Grade(float(letter == item.gold), extracted=letter)
