"""The command side of usage accounting: the budget and estimate options become the run's
one `Usage` (ltrl_cli.llm.usage), attached to the run's Stats so the summary line shows it;
`--estimate N` cuts the input to N records and projects the rest; `--usage FILE` gets the JSON.
"""

from __future__ import annotations

import contextlib
import os
import stat
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any, Iterable, Iterator


@dataclass
class Spending:
    """The parsed usage options of one command."""

    usage: Any  # ltrl_cli.llm.usage.Usage
    estimate: int | None = None
    total: int | None = None
    path: Path | None = None
    concurrency: int = 16
    shards: int = 1
    cached: bool = True  # a response cache is used (a rerun resumes from it)

    def sample(self, records: Iterable[dict]) -> Iterator[dict]:
        """The records the run works on: the first N with --estimate, else all."""
        return iter(records) if self.estimate is None else islice(records, self.estimate)


def spending(params: dict[str, Any]) -> Spending:
    """Spending from a command's keyword arguments (`locals()`); checks the combinations."""
    from ltrl_cli.errors import UsageError
    from ltrl_cli.io import parse_shard
    from ltrl_cli.llm.usage import Budget, Prices, Usage

    prices = Prices.parse(params.get("price_per_mtok"))
    if params.get("max_cost") is not None and prices is None:
        raise UsageError("--max-cost needs --price-per-mtok IN,OUT (what a million tokens cost)")
    if params.get("total") is not None and params.get("estimate") is None:
        raise UsageError("--total is the input size for --estimate N; give --estimate too")
    budget = Budget(params.get("max_requests"), params.get("max_total_tokens"), params.get("max_cost"))
    shard = parse_shard(params.get("shard"))
    return Spending(Usage(budget, prices), params.get("estimate"), params.get("total"), params.get("usage"),
                    params.get("concurrency") or 16, shard[1] if shard else 1, not params.get("no_cache"))


@contextlib.contextmanager
def accounted(run: Any, spend: Spending, *, input_size: Any = None) -> Iterator[Any]:
    """Attach the Usage to the run (its summary line shows it); at the end, project the
    estimate (on success) and write --usage FILE (also when a budget stopped the run).

    `input_size`: a function giving the whole input's record count, for --estimate
    without --total (default: the records of the file on stdin).
    """
    from ltrl_cli import console
    from ltrl_cli.llm.usage import BudgetExhausted, estimate_table, project

    run.usage = spend.usage
    report: dict[str, Any] = {}
    try:
        yield spend.usage
        if spend.estimate is not None:
            total = spend.total or _whole_input(input_size, spend.shards)
            report["estimate"] = project(spend.usage, total, concurrency=spend.concurrency)
            console.info(estimate_table(report["estimate"]))
    except BudgetExhausted as exc:
        sent = spend.usage.as_dict()["total"]["sent"]
        rerun = ("rerun with a larger budget: the answers already paid for come from the cache" if spend.cached
                 else "with --no-cache a rerun asks every request again")
        raise BudgetExhausted(f"{exc.message} ({sent:,} requests sent); the lines written are whole; {rerun}") from None
    finally:
        if spend.path is not None:
            _write_json(spend.path, {**spend.usage.as_dict(), **report})


def _whole_input(input_size: Any, shards: int) -> int:
    from ltrl_cli.errors import UsageError

    count = input_size() if input_size is not None else stdin_file_records()
    if count is None:
        raise UsageError("--estimate: stdin is not a plain file, so its size is unknown: give --total N "
                         "(the number of records of the whole input)")
    return max(1, round(count / shards))  # --shard i/n takes about 1/n of the records


def stdin_file_records() -> int | None:
    """The records (non-empty lines) of the file on stdin, counted without moving its
    offset (pread); None when stdin is a pipe, a terminal or gzip."""
    try:
        info = os.fstat(0)
    except OSError:
        return None
    if not stat.S_ISREG(info.st_mode):
        return None
    count, offset, last = 0, 0, b"\n"
    while True:
        chunk = os.pread(0, 1 << 20, offset)
        if not chunk:
            break
        if offset == 0 and chunk[:2] == b"\x1f\x8b":
            return None
        count += chunk.count(b"\n") - chunk.count(b"\n\n")
        offset += len(chunk)
        last = chunk[-1:]
    return count + (last != b"\n")


def _write_json(path: Path, data: dict[str, Any]) -> None:
    import orjson

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(orjson.dumps(data, option=orjson.OPT_APPEND_NEWLINE))  # one line: JSONL tools and `ltrl report` read it
