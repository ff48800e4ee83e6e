"""OpenAI MRCR (openai/mrcr): multi-round co-reference resolution in a long chat.

Each row holds `prompt`, a JSON string of chat messages (many user requests for similar
pieces of writing and the assistant's replies; the last user turn asks for, say, "the 3rd
short poem about tapirs" with a random string prepended), `answer` (that reply with the
random string in front), `random_string_to_prepend`, `n_needles` (2, 4 or 8 identical
requests), `desired_msg_index`, `total_messages` and `n_chars`. The messages are sent as
they are.

Grading follows OpenAI's grader: a response that does not start with the random string
scores 0; otherwise the string is removed from the response and from the answer, and the
score is difflib's SequenceMatcher ratio of the two rests. The summary breaks the score
down by needle count and by prompt length (`n_chars`, in power-of-two bins).
"""

from __future__ import annotations

import json
from difflib import SequenceMatcher
import sys
from pathlib import Path
from typing import Any, Iterator

from ltrl_cli.errors import BadInput
from ltrl_cli.eval.common import Grade, Graders, Item
from ltrl_cli.eval.tables import benchmark_rows, need

NAME = "mrcr"
BREAKDOWNS = ("needles", "length")
COLUMNS = ("prompt", "answer", "random_string_to_prepend")
NEEDS_JUDGE = False


def load(path: Path, *, skip_missing: bool = False) -> Iterator[Item]:
    """Items from parquet or JSONL files, or a dataset folder of them (`2needle/*.parquet`...).

    An item's id is `<file stem>:<row>` (e.g. `2needle_0:17`) unless the row has an `id`,
    so ids stay stable across shards and reruns.
    """
    for file, number, row in benchmark_rows(path, sys.modules[__name__], ("*.parquet", "*.jsonl")):
        yield _item(row, file, number)


def _item(row: dict[str, Any], file: Path, number: int) -> Item:
    prefix = need(row, "random_string_to_prepend", file, number)
    answer = need(row, "answer", file, number)
    n_chars = row.get("n_chars")
    item_id = str(row["id"]) if row.get("id") is not None else f"{file.stem}:{number}"
    return Item(
        id=item_id,
        messages=prompt(row, file, number),
        gold=answer,
        grading={"random_string_to_prepend": prefix},
        buckets={"needles": str(row.get("n_needles", "unknown")), "length": length_bin(n_chars)},
        where=f"{file} row {number}",
    )


def prompt(row: dict[str, Any], file: Path | None = None, number: int = 0) -> list[dict[str, Any]]:
    """The chat messages of a row: `prompt` parsed from its JSON string (or already a list)."""
    where = str(file or "<row>")
    raw = need(row, "prompt", file or Path(where), number, kind=(str, list))
    try:
        messages = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError as exc:
        raise BadInput(f"row {number}: field 'prompt': not a JSON list of messages ({exc})", source=where) from None
    if not isinstance(messages, list) or not messages:
        raise BadInput(f"row {number}: field 'prompt': expected a non-empty list of messages", source=where)
    for index, message in enumerate(messages):
        if not (isinstance(message, dict) and isinstance(message.get("role"), str)
                and isinstance(message.get("content"), str)):
            raise BadInput(f"row {number}: field 'prompt': message {index} needs a 'role' and a text 'content'",
                           source=where)
    return [{"role": m["role"], "content": m["content"]} for m in messages]


def length_bin(n_chars: Any) -> str:
    """A power-of-two bin of the prompt length in characters.

    >>> length_bin(70000), length_bin(131072), length_bin(None)
    ('<=128K chars', '<=128K chars', 'unknown')
    """
    if not isinstance(n_chars, (int, float)) or n_chars <= 0:
        return "unknown"
    bound = 1024
    while bound < n_chars:
        bound *= 2
    return f"<={bound // 1024}K chars" if bound < 1 << 20 else f"<={bound // (1 << 20)}M chars"


def score(response: str, answer: str, prefix: str) -> float:
    """OpenAI's MRCR grade: 0 without the prefix, else the SequenceMatcher ratio of the rests.

    >>> score("abc123 Hello world", "abc123 Hello world", "abc123")
    1.0
    >>> score("Hello world", "abc123 Hello world", "abc123")
    0.0
    >>> round(score("abc123Hello", "abc123Hallo", "abc123"), 2)
    0.8
    """
    if not response.startswith(prefix):
        return 0.0
    rest = response.removeprefix(prefix)
    gold = answer.removeprefix(prefix)
    return float(SequenceMatcher(None, rest, gold).ratio())


async def grade(item: Item, content: str, graders: Graders | None = None) -> Grade:
    prefix = item.grading["random_string_to_prepend"]
    return Grade(score(content, item.gold, prefix), extracted=None,
                 detail={"has_prefix": content.startswith(prefix)})
