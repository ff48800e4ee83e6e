"""`ltrl eval` around the benchmark modules: which questions run, which earlier records are
re-graded, what the summary keeps, and why a run that did nothing is an error.

The command (commands/eval.py) turns options into models (generator, judge, tokenizer)
and hands this module plain values:

- `questions(bench, data, ...)`: the benchmark's items, ids checked unique across the
  files of a folder, then --shard and --limit, counted in a `Selection`;
- `previous_records(data, ...)`: a previous run's records (a file, .gz too, or stdin),
  only this benchmark's, then --shard and --limit;
- `remember(records, kept)` and `summary(kept, ...)`: the score and its breakdowns;
- `nothing_done(...)`: the error that says why no question (or record) was there.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from ltrl_cli.errors import BadInput
from ltrl_cli.io import in_shard, open_input, parse_shard, read_records, shard_records, stdin_records
from ltrl_cli.records import READS
from ltrl_cli.stats import Stats


@dataclass
class Selection:
    """How many questions were read, and how many --shard and --limit kept."""

    read: int = 0
    kept: int = 0


def questions(bench: Any, data: Path, *, skip_missing: bool, shard: str | None, limit: int | None,
              selection: Selection) -> Iterator[Any]:
    """The benchmark's items from `data`, unique by id, in this shard, up to `limit`."""
    from ltrl_cli.eval.tables import unique_items

    chosen = parse_shard(shard)

    def counted() -> Iterator[Any]:
        for item in unique_items(bench.load(data, skip_missing=skip_missing)):
            selection.read += 1
            if in_shard(item.id, chosen):
                selection.kept += 1
                yield item

    return islice(counted(), limit)


def nothing_done(bench: Any, data: Path | None, selection: Selection, *, skip_missing: bool, shard: str | None,
                 score_only: bool, skipped: int = 0) -> str:
    """Why a run wrote no record, for the error that ends it (`skipped`: bad lines left out)."""
    where = str(data) if data is not None else "stdin"
    if score_only:
        if selection.read == 0 and skipped:
            return f"no records left in {where} ({skipped:,} bad line(s) skipped)"
        if selection.read == 0:
            return f"no records in {where} (--score-only reads the output of an earlier `ltrl eval`)"
        return f"--shard {shard} selects none of the {selection.read:,} record(s) of {where}"
    if selection.read == 0:
        why = " (--skip-missing left out every question: their documents are missing)" if skip_missing else ""
        return f"no {bench.NAME} questions in {where}{why}"
    return f"--shard {shard} selects none of the {selection.read:,} question(s) of {where}"


def previous_records(data: Path | None, benchmark: str, *, skip_bad: bool, reader: Stats, shard: str | None,
                     limit: int | None, selection: Selection) -> Iterator[dict[str, Any]]:
    """A previous run's records, from `data` (plain or .gz) or stdin, checked against
    READS["eval"] as they are read."""
    chosen = parse_shard(shard)
    schema = READS["eval"].adjusted(rules=(of_benchmark(benchmark),))

    def counted(records: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        for record in records:
            selection.read += 1
            if in_shard(str(record.get("id")), chosen):
                selection.kept += 1
                yield record

    if data is None:
        yield from islice(counted(stdin_records(required=False, skip_bad=skip_bad, stats=reader, schema=schema)), limit)
        return
    if data.is_dir():
        raise BadInput("is a directory (--score-only --data names a previous `ltrl eval` output file)",
                       source=str(data))
    if not data.is_file():
        raise BadInput("not found (--score-only --data names a previous `ltrl eval` output)", source=str(data))
    with open_input(data) as handle:
        records = read_records(handle, skip_bad=skip_bad, source=str(data), stats=reader, schema=schema)
        yield from islice(counted(records), limit)


def of_benchmark(benchmark: str) -> Callable[[dict[str, Any]], str | None]:
    """The READS rule for --score-only: a record of another benchmark is refused."""

    def rule(record: dict[str, Any]) -> str | None:
        if record.get("benchmark") not in (None, benchmark):
            return f"a record of benchmark {record['benchmark']!r}, not {benchmark!r}"
        return None
    return rule


def remember(records: Iterable[dict[str, Any]], kept: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Pass records through, keeping what the summary needs (not the response texts)."""
    for record in records:
        kept.append({"score": record.get("score"), "buckets": record.get("buckets"), "metrics": record.get("metrics"),
                     "prompt": {"truncated": (record.get("prompt") or {}).get("truncated")},
                     "samples": [{"score": x.get("score"), "truncated": x.get("truncated")}
                                 for x in record.get("samples") or []]})
        yield record


def summary(kept: list[dict[str, Any]], bench: Any, paper: dict[str, Any] | None, *, quiet: bool,
            path: Path | None, usage: dict[str, Any] | None = None) -> dict[str, Any]:
    """Build the summary; print its table on stderr; write it as JSON to `path` when given."""
    import orjson

    from ltrl_cli import console
    from ltrl_cli.eval.summary import summarize, table

    result = summarize(kept, bench.NAME, tuple(bench.BREAKDOWNS))
    if paper is not None:
        result["paper"] = paper
    if usage:  # requests and tokens by role (ltrl_cli.llm.usage)
        result["usage"] = usage
    if kept and not quiet:
        console.console.print(table(result))
    if result["ungraded_samples"]:
        console.warn(f"eval: {result['ungraded_samples']:,} sample(s) without a judge verdict are left out of "
                     "the score, not counted as wrong")
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2) + b"\n")
    return result
