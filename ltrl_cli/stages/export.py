"""Training records in the layouts trainers read: slime (the paper's), verl, TRL.

- `slime`: the released dataset's JSONL (`id`, `source`, `input_messages`, `label`,
  `metadata`), what the authors' slime scripts and reward server read.
- `verl`: parquet rows with `data_source`, `prompt` (chat messages), `ability`,
  `reward_model` (`style`, `ground_truth`) and `extra_info` (`index`, `id`, `question`,
  `rubrics`, `tokens`, `strategy`): verl's RL dataset convention; a verl reward function
  gets `ground_truth` and `extra_info["rubrics"]`.
- `trl`: rows with a conversational `prompt` column and the reward columns `label` and
  `rubrics` (plus `id`, `question`). GRPOTrainer passes extra columns to reward functions
  as keyword arguments. Written as parquet or JSONL, both readable by `datasets`.
"""

from __future__ import annotations

from pathlib import Path
from typing import IO, Iterable, Iterator

from ltrl_cli.errors import BadInput, UsageError
from ltrl_cli.io import chunked, replacing

FORMATS = ("slime", "verl", "trl")
ABILITY = "long-context-reasoning"
SLIME_KEYS = ("id", "source", "input_messages", "label", "metadata")
_BATCH = 256  # rows per parquet row group: bounds memory for 128K-token prompts


def to_slime(record: dict) -> dict:
    """The released layout; keys other than the layout's are dropped."""
    _check(record)
    return {key: record[key] for key in SLIME_KEYS if key in record}


def to_verl(record: dict, index: int) -> dict:
    """One verl RL row (`index` is the row's position in the file)."""
    _check(record)
    meta = record.get("metadata") or {}
    return {
        "data_source": record.get("source", "longqa"),
        "prompt": _messages(record),
        "ability": ABILITY,
        "reward_model": {"style": "rule", "ground_truth": str(record["label"])},
        "extra_info": {
            "index": index,
            "id": str(record["id"]),
            "question": str(meta.get("question", "")),
            "rubrics": [str(r) for r in meta.get("rubrics") or []],
            "tokens": int(meta.get("tokens") or 0),
            "strategy": str(meta.get("strategy", "")),
        },
    }


def to_trl(record: dict) -> dict:
    """One TRL row: the conversational prompt plus the reward columns."""
    _check(record)
    meta = record.get("metadata") or {}
    return {
        "id": str(record["id"]),
        "prompt": _messages(record),
        "label": str(record["label"]),
        "rubrics": [str(r) for r in meta.get("rubrics") or []],
        "question": str(meta.get("question", "")),
    }


def _messages(record: dict) -> list[dict]:
    return [{"role": str(m["role"]), "content": str(m["content"])} for m in record["input_messages"]]


def _check(record: dict) -> None:
    for key in ("id", "input_messages", "label"):
        if key not in record:
            raise BadInput(f"record {record.get('id')}: missing field '{key}' (export reads ltrl assemble output)")
    messages = record["input_messages"]
    if not isinstance(messages, list) or not all(isinstance(m, dict) and "role" in m and "content" in m
                                                 for m in messages):
        raise BadInput(f"record {record.get('id')}: input_messages must be a list of {{role, content}}")


def rows(records: Iterable[dict], fmt: str) -> Iterator[dict]:
    """The records converted to `fmt`'s rows."""
    if fmt not in FORMATS:
        raise UsageError(f"--format {fmt!r}: choose one of {', '.join(FORMATS)}")
    for index, record in enumerate(records):
        if fmt == "slime":
            yield to_slime(record)
        elif fmt == "verl":
            yield to_verl(record, index)
        else:
            yield to_trl(record)


def writes_parquet(fmt: str, out: str) -> bool:
    """verl is always parquet; trl is parquet when the file name says so; slime never."""
    return fmt == "verl" or (fmt == "trl" and out.endswith(".parquet"))


def schema(fmt: str):
    """The parquet schema of a format's rows (fixed, so an empty rubric list is still list<string>)."""
    import pyarrow as pa

    messages = pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))
    strings = pa.list_(pa.string())
    if fmt == "verl":
        return pa.schema([
            ("data_source", pa.string()), ("prompt", messages), ("ability", pa.string()),
            ("reward_model", pa.struct([("style", pa.string()), ("ground_truth", pa.string())])),
            ("extra_info", pa.struct([("index", pa.int64()), ("id", pa.string()), ("question", pa.string()),
                                      ("rubrics", strings), ("tokens", pa.int64()), ("strategy", pa.string())])),
        ])
    return pa.schema([("id", pa.string()), ("prompt", messages), ("label", pa.string()), ("rubrics", strings),
                      ("question", pa.string())])


def write_parquet(rows_: Iterable[dict], path: Path, fmt: str) -> int:
    """Stream rows into a parquet file in row groups of 256; returns the row count.

    The file appears under its name only when complete (written as NAME.partial first).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    count = 0
    # A Python file, not the path: pyarrow's own file seeks, which a named pipe cannot.
    with replacing(path) as tmp, open(tmp, "wb") as stream, pq.ParquetWriter(stream, schema(fmt)) as writer:
        for batch in chunked(rows_, _BATCH):
            writer.write_table(pa.Table.from_pylist(batch, schema=writer.schema))
            count += len(batch)
    return count


def write_jsonl(rows_: Iterable[dict], stream: IO[bytes]) -> int:
    from ltrl_cli.io import write_records

    return write_records(rows_, stream, flush_every=64)
