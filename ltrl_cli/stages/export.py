"""Training records in the layouts trainers read: slime (the paper's), verl, TRL.

- `slime`: the released dataset's JSONL (`id`, `source`, `input_messages`, `label`,
  `metadata`), with `metadata.extra_reward_info` {question, rubrics, dataset_name}, which
  the authors' slime rollout sends to the reward server; plus, on request, the source
  config their loader reads (`slime_source_config`): per source, the model's message
  processor and a `remote_rm` reward model that posts {label, extra_reward_info, history}.
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

from ltrl_cli.errors import UsageError
from ltrl_cli.io import chunked, replacing
from ltrl_cli.records import reward_info

FORMATS = ("slime", "verl", "trl")
ABILITY = "long-context-reasoning"
SLIME_KEYS = ("id", "source", "input_messages", "label", "metadata")
_BATCH = 256  # rows per parquet row group: bounds memory for 128K-token prompts


# The message processors of the authors' slime fork, by model family: each renders the
# prompt with the tokenizer's chat template and splits the completion into a reasoning /
# content turn, flagging ill-formed ones.
MESSAGE_PROCESSORS = {
    "qwen3": "slime.rollout.message_processor_hub.qwen3_message_processor.Qwen3MessageProcessor",
    "deepseek-r1-distill":
        "slime.rollout.message_processor_hub.deepseek_r1_distill_message_processor.DeepSeekR1DistillMessageProcessor",
}
# History mode: the server judges the last assistant turn of the chat.
REWARD_INPUT_KEYS = ["label", "extra_reward_info", "history"]


def to_slime(record: dict) -> dict:
    """The released layout, with `metadata.extra_reward_info`; other keys are dropped.

    >>> to_slime({"id": "q", "input_messages": [{"role": "user", "content": "c Q?"}], "label": "A",
    ...           "metadata": {"question": "Q?", "rubrics": ["B"]}})["metadata"]["extra_reward_info"]
    {'question': 'Q?', 'rubrics': ['B'], 'dataset_name': 'longqa'}
    """
    out = {key: record[key] for key in SLIME_KEYS if key in record}
    out["source"] = str(record.get("source") or "longqa")  # their loader routes on it
    out["label"] = str(record["label"])
    meta = dict(record.get("metadata") or {})
    meta["extra_reward_info"] = reward_info(_question(record, meta), _rubrics(record, meta))
    out["metadata"] = meta
    return out


def _question(record: dict, meta: dict) -> str:
    """The question alone (the judge reads it), from metadata or an earlier export."""
    return meta.get("question") or (meta.get("extra_reward_info") or {}).get("question")


def has_question(record: dict) -> str | None:
    """The READS rule of --format slime: the reward server's judge needs the question alone."""
    if not (_question(record, record.get("metadata") or {}) or "").strip():
        return "no metadata.question; the reward server's judge needs the question alone (ltrl assemble writes it)"
    return None


def _rubrics(record: dict, meta: dict) -> list[str]:
    rubrics = meta.get("rubrics")
    if rubrics is None:
        rubrics = (meta.get("extra_reward_info") or {}).get("rubrics", [])
    return rubrics


def reward_url(url: str) -> str:
    """The server's `/evaluate` address; a bare `http://host:port` gets the path added.

    >>> reward_url("http://10.0.0.5:8080"), reward_url("https://rm.example/evaluate")
    ('http://10.0.0.5:8080/evaluate', 'https://rm.example/evaluate')
    """
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UsageError(f"--reward-url {url!r}: expected http://HOST:PORT[/evaluate] (where ltrl score --serve "
                         "listens, as the trainer's nodes reach it)")
    return url.rstrip("/") + "/evaluate" if parts.path in ("", "/") else url


def message_processor(name: str) -> str:
    """The message-processor class for a model family, or a dotted class path as given."""
    if name in MESSAGE_PROCESSORS:
        return MESSAGE_PROCESSORS[name]
    if "." in name:
        return name
    raise UsageError(f"--message-processor {name!r}: choose {', '.join(MESSAGE_PROCESSORS)}, "
                     "or give a class path (package.module.Class)")


def slime_source_config(sources: Iterable[str], url: str, processor: str = "qwen3") -> dict:
    """The source config (`--source-config-path`) of the authors' slime for these sources.

    >>> config = slime_source_config(["longqa"], "http://rm:8080")
    >>> config["longqa"]["reward_model"]["kwargs"]
    {'remote_url': 'http://rm:8080/evaluate', 'input_keys': ['label', 'extra_reward_info', 'history']}
    """
    entry = {
        "message_processor": {"class": message_processor(processor)},
        "reward_model": {"function": "remote_rm",
                         "kwargs": {"remote_url": reward_url(url), "input_keys": list(REWARD_INPUT_KEYS)}},
    }
    return {source: entry for source in sorted(set(sources))}


class SourcesSeen:
    """Pass slime rows through, noting each row's `source` (the config needs an entry per source)."""

    def __init__(self) -> None:
        self.sources: set[str] = set()

    def __call__(self, rows_: Iterable[dict]) -> Iterator[dict]:
        for row in rows_:
            self.sources.add(row["source"])
            yield row


def write_source_config(path: Path, config: dict) -> None:
    """Write the config whole or not at all."""
    import json

    with replacing(path) as tmp:
        tmp.write_text(json.dumps(config, indent=2) + "\n")


def to_verl(record: dict, index: int) -> dict:
    """One verl RL row (`index` is the row's position in the file)."""
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


def rows(records: Iterable[dict], fmt: str) -> Iterator[dict]:
    """The records converted to `fmt`'s rows (records checked against READS["export"] by
    the command's reader: a list label is refused there, never written as its repr)."""
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
