"""Training rows from ltrl's data: the `ltrl assemble` output, which is also the layout of
the paper's released training set (`input_messages`, `label`, `metadata.rubrics`).

    >>> to_row({"id": "q1", "input_messages": [{"role": "user", "content": "ctx Q?"}], "label": "Paris",
    ...         "metadata": {"rubrics": ["France"], "question": "Q?"}})
    {'prompt': [{'role': 'user', 'content': 'ctx Q?'}], 'label': 'Paris', 'rubrics': ['France'], 'question': 'Q?', 'prompt_id': 'q1'}
"""

from __future__ import annotations

from typing import Any, Iterator, Sequence

from ltrl_cli.io import get_path, read_records
from ltrl_cli.records import READS
from ltrl_cli.stats import Stats

# Where the rubric (the gold entities) may sit: the assemble layout first.
RUBRIC_KEYS = ("metadata.rubrics", "metadata.gold_entities", "gold_entities", "rubrics")


def rubrics_of(record: dict) -> list[str]:
    """The record's gold entities; [] when it has none (the rubric reward is then 0).

    >>> rubrics_of({"metadata": {"gold_entities": ["A", "B"]}}), rubrics_of({})
    (['A', 'B'], [])
    """
    for key in RUBRIC_KEYS:
        value = get_path(record, key, None)
        if value is not None:
            return list(value)
    return []


def to_row(record: dict) -> dict[str, Any]:
    """The columns the trainer reads; TRL hands every column but `prompt` to the reward.
    The record is one READS["grpo"] passes (iter_rows checks it as it reads)."""
    question = get_path(record, "metadata.question", None) or record.get("question")
    return {
        "prompt": record["input_messages"],
        "label": str(record["label"]),
        "rubrics": rubrics_of(record),
        "question": question,
        "prompt_id": str(record.get("id", "")) or None,
    }


def iter_rows(path: str, *, skip_bad: bool = False, stats: Stats | None = None) -> Iterator[dict[str, Any]]:
    """Stream a JSONL file of training records as rows (a bad line names its number; with
    `skip_bad` it is warned about, counted in `stats` and left out)."""
    with open(path, "rb") as stream:
        for record in read_records(stream, skip_bad=skip_bad, source=path, schema=READS["grpo"], stats=stats):
            yield to_row(record)


def load_rows(path: str, *, skip_bad: bool = False) -> list[dict[str, Any]]:
    """All the rows of a training file, in a list."""
    return list(iter_rows(path, skip_bad=skip_bad))


def within_length(rows: Sequence[dict], lengths: Sequence[int], limit: int) -> list[dict]:
    """Keep the rows whose rendered prompt fits in `limit` tokens.

    A longer prompt is dropped rather than truncated: cutting a long context would cut off
    the question at its end, or the gold passage somewhere inside.

    >>> [r["id"] for r in within_length([{"id": 1}, {"id": 2}], [3, 5], 4)]
    [1]
    """
    return [row for row, length in zip(rows, lengths, strict=True) if length <= limit]


def prompt_lengths(rows: Sequence[dict], tokenizer: Any, batch: int = 64) -> list[int]:
    """Token counts of each row's prompt with the chat template applied.

    Rendered first, then tokenized in batches: a fast tokenizer spreads a batch over the
    cores, which matters with thousands of 128K-token contexts.
    """
    lengths: list[int] = []
    for start in range(0, len(rows), batch):
        texts = [tokenizer.apply_chat_template(r["prompt"], add_generation_prompt=True, tokenize=False)
                 for r in rows[start:start + batch]]
        lengths += [len(ids) for ids in tokenizer(texts, add_special_tokens=False)["input_ids"]]
    return lengths
