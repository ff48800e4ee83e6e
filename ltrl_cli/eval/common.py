"""What the five benchmark modules share: the item and grade types, table readers that
name the file, row and field of a bad value, answer-letter extraction, and the judges.

A benchmark module (`aa_lcr`, `mrcr`, `frames`, `longbench_v2`, `longreason`) has:

- `NAME`, `BREAKDOWNS` (the bucket keys its summary breaks the score down by),
  `NEEDS_JUDGE` (graded by an LLM judge);
- `load(path, *, skip_missing=False) -> Iterator[Item]`: the official files -> items;
- `prompt(row) -> list[message]`: the owners' prompt for one row of the official file;
- `async grade(item, content, graders) -> Grade`: the owners' scoring of the final text.

An item keeps what grading needs (`gold`, `question`, `grading`) apart from the prompt,
so that `ltrl eval --score-only` can re-grade a previous run from its output alone.
"""

from __future__ import annotations

import csv
import importlib
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from ltrl_cli.errors import BadInput, MissingDependency, UsageError
from ltrl_cli.io import open_input

BENCHMARKS = {
    "aa-lcr": "aa_lcr",
    "mrcr": "mrcr",
    "frames": "frames",
    "longbench-v2": "longbench_v2",
    "longreason": "longreason",
}


def benchmark_module(name: str) -> Any:
    """The module of a benchmark by its command-line name (`aa-lcr`, `longbench-v2`, ...)."""
    if name not in BENCHMARKS:
        raise UsageError(f"--benchmark {name!r}: expected one of {', '.join(BENCHMARKS)}")
    return importlib.import_module(f"ltrl_cli.eval.{BENCHMARKS[name]}")


@dataclass
class Item:
    """One question of a benchmark, ready to send and to grade."""

    id: str
    messages: list[dict[str, Any]]  # the chat sent to the model
    gold: str  # the reference answer (a letter for multiple choice)
    question: str | None = None  # the question alone, for an LLM judge
    grading: dict[str, Any] = field(default_factory=dict)  # what else the grader needs
    buckets: dict[str, str] = field(default_factory=dict)  # breakdown key -> bucket

    def to_record(self) -> dict[str, Any]:
        """The item's part of an output record (no prompt: it can be megabytes)."""
        return {"id": self.id, "question": self.question, "gold": self.gold,
                "grading": self.grading, "buckets": self.buckets}

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> "Item":
        """Rebuild the gradable part of an item from a previous output record."""
        return cls(id=str(record["id"]), messages=[], gold=str(record["gold"]), question=record.get("question"),
                   grading=dict(record.get("grading") or {}), buckets=dict(record.get("buckets") or {}))


@dataclass
class Grade:
    """One sample's grade: a score in [0, 1], or None when no verdict could be had."""

    score: float | None
    extracted: str | None = None  # the answer the grader read from the response
    judge: dict[str, Any] | None = None  # the judge's verdict, for LLM-judged benchmarks
    metrics: dict[str, float] = field(default_factory=dict)  # secondary metrics (FRAMES substring)
    error: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)  # how the grade was reached (extraction rule...)


# ---------------------------------------------------------------- reading official files


def table_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(row number, row) from a CSV, TSV, JSONL, JSON (a list of objects) or parquet file.

    Row numbers count data rows from 1 (a CSV header is not a row; a JSONL row is a line).
    A row that is not an object raises BadInput naming the file and the row.
    """
    suffix = "".join(path.suffixes[-2:]) if path.suffix == ".gz" else path.suffix
    readers = {".csv": _csv_rows, ".tsv": _csv_rows, ".jsonl": _jsonl_rows, ".json": _json_rows,
               ".parquet": _parquet_rows}
    reader = readers.get(suffix.lower().removesuffix(".gz"))
    if reader is None:
        raise BadInput(f"unknown file type {path.suffix!r}: expected .csv, .tsv, .jsonl, .json or .parquet",
                       source=str(path))
    if not path.is_file():
        raise BadInput("file not found", source=str(path))
    yield from reader(path)


def _csv_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    # AA-LCR documents and FRAMES answers hold quoted fields far above csv's 128 KB default.
    csv.field_size_limit(sys.maxsize)
    delimiter = "\t" if ".tsv" in [s.lower() for s in path.suffixes[-2:]] else ","
    with open_input(path, text=True) as handle:
        reader = csv.DictReader(handle, delimiter=delimiter)
        try:
            for number, row in enumerate(reader, start=1):
                if None in row:  # more cells than header columns: a broken quote, usually
                    raise BadInput(f"row {number}: {len(row) - 1 + len(row[None])} cells for "
                                   f"{len(reader.fieldnames or [])} columns", source=str(path))
                yield number, row
        except csv.Error as exc:
            raise BadInput(f"row {reader.line_num}: {exc}", source=str(path)) from None


def _jsonl_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    with open_input(path) as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError as exc:
                raise BadInput(f"row {number}: not valid JSON ({exc.args[0].split(':')[0]})", source=str(path)) from None
            yield number, _object(row, path, number)


def _json_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    try:
        with open_input(path) as handle:
            data = json.loads(handle.read())
    except ValueError as exc:
        raise BadInput(f"not valid JSON ({exc})", source=str(path)) from None
    if isinstance(data, dict):  # {"data": [...]} or a single record
        data = next((v for v in data.values() if isinstance(v, list)), [data])
    if not isinstance(data, list):
        raise BadInput("expected a JSON list of objects", source=str(path))
    for number, row in enumerate(data, start=1):
        yield number, _object(row, path, number)


def _parquet_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise MissingDependency("pyarrow", "stats", "Reading parquet files") from None
    number = 0
    for batch in pq.ParquetFile(path).iter_batches(batch_size=64):
        for row in batch.to_pylist():
            number += 1
            yield number, row


def _object(row: Any, path: Path, number: int) -> dict[str, Any]:
    if not isinstance(row, dict):
        raise BadInput(f"row {number}: expected a JSON object, got {type(row).__name__}", source=str(path))
    return row


def need(row: dict[str, Any], names: str | tuple[str, ...], path: Path, number: int, *,
         kind: type | tuple[type, ...] = str, empty_ok: bool = False) -> Any:
    """The first present field of `names`; BadInput naming file, row and field otherwise.

    `kind` is the type the value must have (ints are accepted where str is asked and
    turned into text, as CSV and parquet readers disagree about ids).
    """
    names = (names,) if isinstance(names, str) else names
    for name in names:
        if name in row and row[name] is not None:
            value = row[name]
            if kind is str and isinstance(value, (int, float)) and not isinstance(value, bool):
                value = str(value)
            if not isinstance(value, kind):
                raise BadInput(f"row {number}: field '{name}': expected {_kind_name(kind)}, "
                               f"got {type(value).__name__}", source=str(path))
            if not empty_ok and isinstance(value, str) and not value.strip():
                raise BadInput(f"row {number}: field '{name}' is empty", source=str(path))
            return value
    raise BadInput(f"row {number}: missing field '{names[0]}'", source=str(path))


def _kind_name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    names = {str: "text", int: "a number", float: "a number", list: "a list", dict: "an object"}
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def data_files(path: Path, patterns: tuple[str, ...]) -> list[Path]:
    """`path` itself, or the files under a dataset folder matching `patterns`, sorted."""
    if path.is_file():
        return [path]
    if not path.exists():
        raise BadInput("not found", source=str(path))
    found = sorted({p for pattern in patterns for p in path.rglob(pattern) if p.is_file()})
    if not found:
        raise BadInput(f"no data file ({', '.join(patterns)}) in this folder", source=str(path))
    return found


def one_user_turn(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


# ---------------------------------------------------------------- answer letters

# Markdown emphasis and code marks around a letter or a phrase: `**B**`, `__(C)__`, `` `D` ``.
_MARKUP = re.compile(r"[*_`]+")


def strip_markup(text: str) -> str:
    """Drop markdown emphasis and code marks (`*`, `_`, backticks).

    >>> strip_markup("The correct answer is **(B)**")
    'The correct answer is (B)'
    """
    return _MARKUP.sub("", text)


def letters_class(letters: str) -> str:
    return "".join(sorted(set(letters.upper() + letters.lower())))


def extract_letter(text: str, letters: str = "ABCD") -> str | None:
    r"""The option letter a free-text answer commits to, read from the end.

    Tried in order, the last match of each winning: `\boxed{X}`; `answer is (X)` /
    `answer: X` (any case, any markdown); a line that is only the letter (`(b)`, `C.`).
    A lower-case letter counts only where it cannot be an English word (in parentheses,
    boxed, or alone before punctuation or the end), so "the answer is a mix" is no `A`.

    >>> extract_letter("so **The final answer is (c)**")
    'C'
    >>> extract_letter("Answer: B. Because...")
    'B'
    >>> extract_letter("The answer is a combination of both") is None
    True
    >>> extract_letter("I pick \\boxed{D}")
    'D'
    >>> extract_letter("(A) is wrong.\nB")
    'B'
    """
    text = strip_markup(text or "")
    cls = letters_class(letters)
    upper = "".join(sorted(set(letters.upper())))
    # A letter that is unambiguous: in brackets/boxed (any case), or capital and standing alone.
    letter = (rf"(?:\\boxed\{{\s*\(?([{cls}])\)?\s*\}}|[(\[]([{cls}])[)\]]|([{upper}])(?![A-Za-z0-9])"
              rf"|([{cls}])(?=\s*(?:$|[.,;:!)\]\n])))")
    patterns = [
        re.compile(rf"\\boxed\{{\s*\(?([{cls}])\)?\s*\}}"),
        # Only the phrase ignores case: a case-blind letter class would read the article "a".
        re.compile(rf"(?i:answer\s*(?:is|[:：]|=)\s*(?:option\s*|choice\s*)?){letter}"),
        re.compile(rf"^\s*(?i:option\s*)?{letter}\s*$", re.MULTILINE),
    ]
    for pattern in patterns:
        found = pattern.findall(text)
        if found:
            last = found[-1]
            groups = [last] if isinstance(last, str) else [g for g in last if g]
            if groups:
                return groups[0].upper()
    return None


# ---------------------------------------------------------------- judges


@dataclass
class Graders:
    """What grading may call: the judge model and which judge prompt to use.

    `judge_llm` is any LLM backend (None: benchmarks that need a judge fail with a message
    saying how to give one). `judge_prompt` is `official` (the benchmark owners' judge
    prompt) or `longtracerl` (the method's yes/no prompt, as `ltrl score` uses).
    """

    judge_llm: Any = None
    judge_prompt: str = "official"
    judge_max_tokens: int | None = None
    _judges: dict[str, Any] = field(default_factory=dict)

    def judge(self, kind: str, prompt: str | None = None, parse: Any = None) -> Any:
        """A judge over `judge_llm`: the LongTraceRL judge, or one with its own prompt/parser."""
        if self.judge_llm is None:
            raise UsageError("this benchmark is graded by an LLM judge: give --judge-model and --judge-base-url "
                             "(they default to the generation endpoint)")
        if kind not in self._judges:
            from ltrl_cli.reward.judge import LLMJudge

            custom = {} if prompt is None else {"prompt": prompt, "parse": parse}
            self._judges[kind] = LLMJudge(self.judge_llm, max_tokens=self.judge_max_tokens, **custom)
        return self._judges[kind]


async def judged(graders: Graders, item: Item, content: str, *, official: tuple[str, str, Any]) -> Grade:
    """Grade by an LLM judge: the benchmark's own (`official` = (name, prompt, parser)) or
    the LongTraceRL one, as `graders.judge_prompt` says. An empty final answer is 0 without
    asking (METHOD.md: no final content, outcome 0)."""
    if not content.strip():
        return Grade(0.0, extracted="", judge={"correct": False, "error": None, "skipped": "empty final answer"})
    if graders.judge_prompt == "official":
        name, prompt, parse = official
        judge = graders.judge(name, prompt=prompt, parse=parse)
    else:
        judge = graders.judge("longtracerl")
    verdict = await judge.judge(item.question, content, item.gold)
    record = {"correct": verdict.correct, "error": verdict.error, "raw": verdict.raw, "attempts": verdict.attempts,
              "model": getattr(judge, "model", None), "prompt": graders.judge_prompt}
    score = None if verdict.correct is None else float(verdict.correct)
    return Grade(score, extracted=getattr(verdict, "answer", None), judge=record, error=verdict.error)
