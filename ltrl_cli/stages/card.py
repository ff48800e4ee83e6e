"""`ltrl export -o DIR/`: the data as a Hugging Face dataset folder, with its card.

    DIR/README.md                          the dataset card: YAML header + what the data is
    DIR/data/train-00000-of-00001.parquet  (slime: .jsonl)

The YAML header is what the hub and `datasets.load_dataset(DIR)` read: `configs` (which
files make which split), `dataset_info` (the features, from the format's fixed parquet
schema; the split's size), `size_categories` and tags. The body records where the data
came from (the corpus, as `--corpus` names it), the method's settings read from the
records (context strategy, target length, tokenizer, seeds) and the figures of `ltrl
stats`, computed while the records stream through, and the command that made it.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Iterator

from ltrl_cli.errors import UsageError

DATA_DIR = "data"
CARD = "README.md"
MARK = "<!-- written by ltrl export: rewritten on the next export into this folder -->"


def data_file(fmt: str) -> str:
    """The data's path inside the folder, named as the hub names a one-shard train split."""
    return f"{DATA_DIR}/train-00000-of-00001.{'jsonl' if fmt == 'slime' else 'parquet'}"


def is_folder(output: str) -> bool:
    """-o names a dataset folder: it ends with `/` or is an existing folder (anything else is a file, as before)."""
    return output.endswith(("/", "\\")) or Path(output).is_dir()


def check_folder(folder: Path) -> None:
    """Refuse to overwrite a README.md that an earlier `ltrl export` did not write (`-o .` in a repository)."""
    card = folder / CARD
    if card.is_file() and MARK not in card.read_text(encoding="utf-8", errors="replace"):
        raise UsageError(f"-o {folder}/: it holds a README.md that ltrl export did not write; export into an "
                         "empty or new folder")


class Observed:
    """What the card says about the records, gathered as they stream past: the method's
    settings (value counts) and `ltrl stats`' figures (None when a record lacks what
    stats reads, e.g. data not made by `ltrl assemble`)."""

    SETTINGS = ("strategy", "target_tokens", "tokenizer", "seed")

    def __init__(self, collector: Any) -> None:
        """`collector`: `ltrl_cli.stages.stats.Collector()` (handed in: one stage does not import another)."""
        self.settings: dict[str, Counter] = {key: Counter() for key in self.SETTINGS}
        self.collector = collector
        self.stats_missing: str | None = None

    def watch(self, records: Iterable[dict]) -> Iterator[dict]:
        for record in records:
            meta = record.get("metadata") or {}
            for key in self.SETTINGS:
                if key in meta:
                    self.settings[key][str(meta[key])] += 1
            self._stats(record)
            yield record

    def _stats(self, record: dict) -> None:
        if self.stats_missing:
            return
        try:
            self.collector.add(record)
        except (KeyError, TypeError, IndexError) as exc:  # not an assembled record: no stats, said so
            self.stats_missing = f"record {record.get('id')!r} has no {exc} for ltrl stats"

    def stats(self) -> dict | None:
        if self.stats_missing:
            return None
        figures = self.collector.result()
        figures.pop("context_tokens", None)
        return figures


def features(arrow_schema: Any) -> list[dict] | None:
    """The YAML `features` of a parquet format's schema (`stages.export.schema`); None for
    slime's JSONL (its metadata is open-ended, and `datasets` infers it)."""
    if arrow_schema is None:
        return None
    return [_feature(field.name, field.type) for field in arrow_schema]


def _feature(name: str | None, kind: Any) -> dict:
    """One arrow field in the hub's YAML form: `dtype`, `struct` (fields), `list` (of a dtype or of fields)."""
    import pyarrow as pa

    entry: dict[str, Any] = {} if name is None else {"name": name}
    if pa.types.is_struct(kind):
        entry["struct"] = [_feature(kind.field(i).name, kind.field(i).type) for i in range(kind.num_fields)]
    elif pa.types.is_list(kind):
        inner = _feature(None, kind.value_type)
        entry["list"] = inner.get("dtype") or inner.get("struct") or inner
    else:
        entry["dtype"] = {pa.string(): "string", pa.int64(): "int64"}.get(kind, str(kind))
    return entry


def size_category(n: int) -> str:
    """The hub's size bucket.

    >>> size_category(5), size_category(1000), size_category(250_000)
    ('n<1K', '1K<n<10K', '100K<n<1M')
    """
    for limit, name in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M")):
        if n < limit:
            return name
    return "1M<n<10M" if n < 10_000_000 else "n>10M"


def data_bytes(path: Path) -> int:
    """The split's `num_bytes`: the data uncompressed (parquet's row-group sizes; a JSONL
    file's own size), close to the in-memory size `datasets` records there."""
    if path.suffix != ".parquet":
        return path.stat().st_size
    import pyarrow.parquet as pq

    meta = pq.ParquetFile(path).metadata
    return sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))


def header(rows: int, path: Path, arrow_schema: Any) -> dict:
    info: dict[str, Any] = {}
    found = features(arrow_schema)
    if found is not None:
        info["features"] = found
    size = data_bytes(path)
    info["splits"] = [{"name": "train", "num_bytes": size, "num_examples": rows}]
    info["download_size"] = path.stat().st_size
    info["dataset_size"] = size
    return {"pretty_name": None, "tags": ["ltrl", "longtracerl", "long-context", "reinforcement-learning"],
            "task_categories": ["question-answering"], "size_categories": [size_category(rows)],
            "configs": [{"config_name": "default", "data_files": [{"split": "train", "path": f"{DATA_DIR}/train-*"}]}],
            "dataset_info": info}


def card(*, name: str, fmt: str, rows: int, path: Path, corpus: str | None, observed: Observed,
         command: str, version: str, arrow_schema: Any = None) -> str:
    """The whole README.md: the YAML header, then the body (`arrow_schema`: the data's, None for JSONL)."""
    import yaml

    head = header(rows, path, arrow_schema)
    head["pretty_name"] = name
    body = [f"# {name}", "", MARK, "",
            f"Long-context RL training data made with ltrl (LongTraceRL): {rows:,} questions, each with a "
            f"long context of documents, in the `{fmt}` layout ({_LAYOUTS[fmt]}).", "",
            "## Source", "", f"- corpus: {corpus or 'not stated (ltrl export --corpus NAME names it)'}", "",
            "## Method settings", "", *_settings(observed), "",
            "## Statistics (`ltrl stats`)", "", *_stats(observed), "",
            "## Provenance", "", f"- command: `{command}`", f"- ltrl {version}, "
            f"{datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}", "",
            "## Loading", "", "```python", "from datasets import load_dataset", "",
            'data = load_dataset("path/to/this/folder", split="train")', "```", ""]
    return "---\n" + yaml.safe_dump(head, sort_keys=False, allow_unicode=True) + "---\n\n" + "\n".join(body)


_LAYOUTS = {
    "slime": "the authors' released layout: input_messages, label, metadata with extra_reward_info",
    "verl": "verl's RL layout: data_source, prompt, ability, reward_model, extra_info",
    "trl": "a conversational prompt plus the reward columns label and rubrics, for TRL's GRPOTrainer",
}


def _settings(observed: Observed) -> list[str]:
    lines = []
    for key, counts in observed.settings.items():
        if counts:
            lines.append(f"- {key}: " + ", ".join(f"{value} ({n:,})" for value, n in counts.most_common()))
    return lines or ["- not recorded in the records' metadata"]


def _stats(observed: Observed) -> list[str]:
    figures = observed.stats()
    if figures is None:
        return [f"- not computed: {observed.stats_missing}"]
    tokens = figures["tokens"]
    lines = [f"- records: {figures['records']:,} ({figures['records_without_rubrics']:,} without rubrics)",
             f"- context tokens: min {tokens['min']}, mean {tokens['mean']}, median {tokens['median']}, "
             f"max {tokens['max']}", f"- truncated documents: {figures['truncated_docs']:,}", "",
             "| tier | docs per context | token share | gold-entity mention rate (macro) |", "|---|---|---|---|"]
    for tier, row in figures["tiers"].items():
        rate = "-" if row["mention_rate_macro"] is None else f"{row['mention_rate_macro']:.4f}"
        lines.append(f"| {tier} | {row['docs_per_record']} | {row['token_share']:.4f} | {rate} |")
    return lines
