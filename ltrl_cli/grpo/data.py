"""Training rows from ltrl's data, wherever it is:

- JSONL in the `ltrl assemble` layout, which is also the paper's released training set
  (`input_messages`, `label`, `metadata.rubrics`);
- parquet from `ltrl export --format trl` (`prompt`, `label`, `rubrics`, `question`, `id`)
  or `--format verl` (`prompt`, `reward_model.ground_truth`, `extra_info`);
- a folder written by `datasets`' `save_to_disk`, a dataset folder in the hub's layout
  (`ltrl export -o DIR/`: data files and a card), or a dataset name on the Hugging Face
  hub, in any of those layouts (its `train` split, or its only one).

Every row is brought to the assemble layout and checked as a JSONL line is (READS["grpo"]).

    >>> to_row({"id": "q1", "input_messages": [{"role": "user", "content": "ctx Q?"}], "label": "Paris",
    ...         "metadata": {"rubrics": ["France"], "question": "Q?"}})
    {'prompt': [{'role': 'user', 'content': 'ctx Q?'}], 'label': 'Paris', 'rubrics': ['France'], 'question': 'Q?', 'prompt_id': 'q1'}
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator, Sequence

from ltrl_cli.errors import BadInput, check_installed
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


def iter_rows(source: str, *, skip_bad: bool = False, stats: Stats | None = None) -> Iterator[dict[str, Any]]:
    """Stream the training records of `source` as rows (a bad line or row names its number;
    with `skip_bad` a bad JSONL line is warned about, counted in `stats` and left out)."""
    kind = data_kind(source)
    if kind == "jsonl":
        with open(source, "rb") as stream:
            for record in read_records(stream, skip_bad=skip_bad, source=source, schema=READS["grpo"], stats=stats):
                yield to_row(record)
        return
    for number, row in enumerate(_table(source, kind), start=1):
        record = from_table(row)
        try:
            READS["grpo"].check(record)
        except BadInput as exc:
            raise BadInput(f"row {number}: {exc.detail}", source=source) from None
        yield to_row(record)


def data_kind(source: str) -> str:
    """jsonl | parquet | disk (a save_to_disk folder) | folder (a dataset folder in the hub's
    layout, as `ltrl export -o DIR/` writes) | hub (a dataset name).

    >>> data_kind("train.parquet"), data_kind("org/some-dataset")
    ('parquet', 'hub')
    """
    path = Path(source).expanduser()
    if path.is_dir():
        if any((path / name).is_file() for name in ("dataset_info.json", "dataset_dict.json", "state.json")):
            return "disk"
        return "folder"
    if source.endswith(".parquet"):
        return "parquet"
    if path.exists() or source.startswith((".", "/", "~")) or source.endswith((".jsonl", ".json", ".gz")):
        return "jsonl"
    return "hub"


def _table(source: str, kind: str) -> Iterator[dict]:
    """The rows of a parquet file, a save_to_disk folder or a hub dataset, as dicts."""
    if kind == "parquet":
        import pyarrow.parquet as pq

        try:
            table = pq.read_table(source)
        except (OSError, ValueError) as exc:  # missing, or not parquet
            raise BadInput(f"cannot read it as parquet ({str(exc).splitlines()[0]})", source=source) from None
        yield from table.to_pylist()
        return
    check_installed("datasets", "train", f"--data {source} (a Hugging Face dataset)")
    import datasets

    try:
        loaded = datasets.load_from_disk(source) if kind == "disk" else datasets.load_dataset(source)
    except Exception as exc:  # noqa: BLE001 - the hub client, the network and the cache each raise their own
        where = {"hub": "the Hugging Face hub", "disk": "disk"}.get(kind, "a dataset folder")
        raise BadInput(f"cannot load it from {where} ({type(exc).__name__}: {str(exc).splitlines()[0]})",
                       source=source) from None
    yield from _split(loaded, source)


def _split(loaded: Any, source: str) -> Any:
    """A DatasetDict's `train` split, or its only split; a Dataset as it is."""
    if not hasattr(loaded, "keys"):
        return loaded
    names = list(loaded.keys())
    if "train" in names or len(names) == 1:
        return loaded["train" if "train" in names else names[0]]
    raise BadInput(f"splits {', '.join(names)} and none is called train", source=source)


def from_table(row: dict) -> dict:
    """A row of ltrl's parquet exports (TRL or verl layout) in the assemble layout; a row
    already in it passes as it is.

    >>> from_table({"prompt": [{"role": "user", "content": "c"}], "reward_model": {"ground_truth": "A"},
    ...             "extra_info": {"id": "q", "question": "Q?", "rubrics": ["x"]}})["label"]
    'A'
    """
    if "input_messages" in row:
        return row
    extra = row.get("extra_info") or {}
    label = (row.get("reward_model") or {}).get("ground_truth") if "reward_model" in row else row.get("label")
    out = {"input_messages": row.get("prompt"), "label": label,
           "rubrics": extra.get("rubrics", row.get("rubrics")) or [],
           "question": extra.get("question", row.get("question"))}
    if extra.get("id", row.get("id")) is not None:
        out["id"] = extra.get("id", row.get("id"))
    return {key: value for key, value in out.items() if value is not None}


def load_rows(source: str, *, skip_bad: bool = False, benchmark: str | None = None) -> list[dict[str, Any]]:
    """All the rows of a training source, in a list; with `benchmark`, the evaluation rows
    of that benchmark's files (`ltrl eval`'s loader, grpo/benchmark.py)."""
    if benchmark:
        from ltrl_cli.grpo.benchmark import benchmark_rows

        return benchmark_rows(benchmark, source)
    return list(iter_rows(source, skip_bad=skip_bad))


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
