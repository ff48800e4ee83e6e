"""Reading the benchmarks' official files strictly: every bad file is an error naming it.

- `table_rows(path)`: (row number, row) from CSV, TSV, JSONL, JSON or parquet, each
  perhaps gzip-compressed; cut-short rows, unclosed quotes, bad UTF-8, damaged gzip and
  directories are errors naming the file and row.
- `benchmark_rows(path, bench, patterns)`: the rows of a benchmark's file or folder, the
  first row of each file checked against the columns that benchmark has, and a file of
  another benchmark refused by name (`SIGNATURES`).
- `unique_items(items)`: refuses a question id that came before, naming both places.
- `need(row, names, ...)`: a field's value, or an error naming file, row and field.
"""

from __future__ import annotations

import csv
import gzip
import json
import sys
import zlib
from pathlib import Path
from typing import Any, Iterable, Iterator

from ltrl_cli.errors import BadInput, MissingDependency
from ltrl_cli.io import open_input

# Columns only one benchmark's files have: a file with two or more of another benchmark's
# (and fewer of its own) is that benchmark's file, refused by name.
SIGNATURES = {
    "aa-lcr": ("document_category", "document_set_id", "question_id", "data_source_filenames", "data_source_urls",
               "input_tokens"),
    "frames": ("Prompt", "Answer", "reasoning_types", "wiki_links", "wikipedia_link_1", "wikipedia_link_11+"),
    "longbench-v2": ("choice_A", "choice_B", "choice_C", "choice_D", "difficulty", "sub_domain"),
    "mrcr": ("random_string_to_prepend", "n_needles", "desired_msg_index", "total_messages", "n_chars"),
    "longreason": ("background", "final_inquiry", "example_idx"),
}


LABELS = {"aa-lcr": "AA-LCR", "frames": "FRAMES", "longbench-v2": "LongBench v2", "mrcr": "MRCR",
          "longreason": "LongReason"}


def identify(columns: Iterable[str]) -> str | None:
    """The benchmark whose own columns a file has most of (two at least), or None.

    >>> identify(["document_category", "document_set_id", "question_id", "question", "answer"])
    'aa-lcr'
    >>> identify(["question", "answer"]) is None
    True
    """
    columns = set(columns)
    scores = {name: len(columns & set(signature)) for name, signature in SIGNATURES.items()}
    best = max(scores, key=scores.get)
    return best if scores[best] >= 2 else None


def check_columns(columns: Iterable[str], bench: Any, path: Path, number: int = 1) -> None:
    """Refuse another benchmark's file by name, and a file without the benchmark's columns."""
    columns = list(columns)
    other = identify(columns)
    own = len(set(columns) & set(SIGNATURES.get(bench.NAME, ())))
    if other is not None and other != bench.NAME and own < len(set(columns) & set(SIGNATURES[other])):
        shown = ", ".join(c for c in columns if c in SIGNATURES[other])
        raise BadInput(f"this looks like {LABELS[other]} data (it has {shown}), not {LABELS.get(bench.NAME, bench.NAME)}: "
                       f"use --benchmark {other}", source=str(path))
    missing = [names[0] if isinstance(names, tuple) else names for names in bench.COLUMNS
               if not set((names,) if isinstance(names, str) else names) & set(columns)]
    if missing:
        wanted = ", ".join(n if isinstance(n, str) else "/".join(n) for n in bench.COLUMNS)
        raise BadInput(f"row {number}: missing field(s) {', '.join(map(repr, missing))} ({bench.NAME} files have "
                       f"{wanted})", source=str(path))


def benchmark_rows(path: Path, bench: Any, patterns: tuple[str, ...]) -> Iterator[tuple[Path, int, dict[str, Any]]]:
    """(file, row number, row) of a benchmark's file, or of every data file of its folder."""
    for file in data_files(path, patterns):
        for number, row in table_rows(file):
            if number == 1:
                check_columns(row.keys(), bench, file)
            yield file, number, row


def unique_items(items: Iterable[Any]) -> Iterator[Any]:
    """Pass items through, refusing an id an earlier item had (both places named)."""
    seen: dict[str, str] = {}
    for item in items:
        if item.id in seen:
            raise BadInput(f"question id {item.id!r} appears twice: {seen[item.id] or 'an earlier row'} and "
                           f"{item.where or 'a later row'}; each question must be given once")
        seen[item.id] = item.where
        yield item


def table_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(row number, row) from a CSV, TSV, JSONL, JSON (a list of objects) or parquet file,
    each perhaps gzip-compressed (`.csv.gz`, `.jsonl.gz`, ...).

    Row numbers count data rows from 1 (a CSV header is not a row; a JSONL row is a line).
    A row that is not an object, a row cut short, an unclosed quote or bytes that are not
    UTF-8 raise BadInput naming the file and the row.
    """
    suffixes = [x.lower() for x in path.suffixes[-2:]]
    suffix = suffixes[0] if suffixes[-1:] == [".gz"] and len(suffixes) == 2 else path.suffix.lower()
    readers = {".csv": _csv_rows, ".tsv": _csv_rows, ".jsonl": _jsonl_rows, ".json": _json_rows,
               ".parquet": _parquet_rows}
    reader = readers.get(suffix)
    if reader is None:
        raise BadInput(f"unknown file type {path.suffix!r}: expected .csv, .tsv, .jsonl, .json or .parquet "
                       "(each may end in .gz)", source=str(path))
    if path.is_dir():
        raise BadInput("is a directory, not a file", source=str(path))
    if not path.is_file():
        raise BadInput("file not found", source=str(path))
    number = 0
    try:
        for number, row in reader(path):
            yield number, row
    except UnicodeDecodeError as exc:
        raise BadInput(f"row {number + 1}: not valid UTF-8 ({exc.reason} at byte {exc.start})",
                       source=str(path)) from None
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise BadInput(f"row {number + 1}: the compressed file is cut short or damaged ({exc})",
                       source=str(path)) from None


def _csv_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    # AA-LCR documents and FRAMES answers hold quoted fields far above csv's 128 KB default.
    csv.field_size_limit(sys.maxsize)
    delimiter = "\t" if ".tsv" in [s.lower() for s in path.suffixes[-2:]] else ","
    with open_input(path) as handle:
        reader = csv.DictReader(_text_lines(handle, path), delimiter=delimiter, strict=True)
        number = 0
        try:
            for number, row in enumerate(reader, start=1):
                columns = len(reader.fieldnames or [])
                if None in row:  # more cells than header columns: a broken quote, usually
                    raise BadInput(f"row {number}: {len(row) - 1 + len(row[None])} cells for "
                                   f"{columns} columns", source=str(path))
                if None in row.values():  # fewer cells than columns: a row cut short
                    cells = sum(value is not None for value in row.values())
                    raise BadInput(f"row {number}: {cells} cells for {columns} columns (the row is cut short)",
                                   source=str(path))
                yield number, row
        except csv.Error as exc:
            why = " (an unclosed quote: the file is cut short?)" if "end of data" in str(exc) else ""
            raise BadInput(f"row {number + 1}: {exc}{why}", source=str(path)) from None
        except _BadLine as exc:
            raise BadInput(f"row {number + 1} (line {exc.line}): not valid UTF-8 ({exc.reason})",
                           source=str(path)) from None


class _BadLine(Exception):
    def __init__(self, line: int, reason: str):
        super().__init__(reason)
        self.line, self.reason = line, reason


def _text_lines(handle: Any, path: Path) -> Iterator[str]:
    """The file's lines as text (line endings kept, a byte-order mark dropped), so a bad byte
    is reported on its own line, not somewhere in a read-ahead block."""
    for line_number, raw in enumerate(handle, start=1):
        try:
            text = raw.decode("utf-8-sig" if line_number == 1 else "utf-8")
        except UnicodeDecodeError as exc:
            raise _BadLine(line_number, f"{exc.reason} at byte {exc.start + 1} of the line") from None
        yield text


def _jsonl_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    with open_input(path) as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                text = line.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise BadInput(f"row {number}: not valid UTF-8 ({exc.reason} at byte {exc.start} of the line)",
                               source=str(path)) from None
            try:
                row = json.loads(text)
            except ValueError as exc:
                raise BadInput(f"row {number}: not valid JSON ({exc.args[0].split(':')[0]})", source=str(path)) from None
            yield number, _object(row, path, number)


def _json_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    try:
        with open_input(path) as handle:
            data = json.loads(handle.read().decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise BadInput(f"not valid UTF-8 ({exc.reason} at byte {exc.start})", source=str(path)) from None
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
    import pyarrow

    number = 0
    try:
        for batch in pq.ParquetFile(path).iter_batches(batch_size=64):
            for row in batch.to_pylist():
                number += 1
                yield number, row
    except pyarrow.ArrowException as exc:
        raise BadInput(f"row {number + 1}: cannot read this parquet file ({exc})", source=str(path)) from None


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
    """`path` itself, or the files under a dataset folder matching `patterns` (or the same
    names ending in .gz), sorted."""
    if path.is_file():
        return [path]
    if not path.exists():
        raise BadInput("not found", source=str(path))
    if not path.is_dir():
        raise BadInput("not a file or a folder", source=str(path))
    patterns = patterns + tuple(f"{pattern}.gz" for pattern in patterns)
    found = sorted({p for pattern in patterns for p in path.rglob(pattern) if p.is_file()})
    if not found:
        raise BadInput(f"no data file ({', '.join(patterns)}) in this folder", source=str(path))
    return found


