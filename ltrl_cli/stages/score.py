"""`ltrl score`: judge each response's outcome and compute the method's rewards.

Two input layouts, told apart per record by the value at the response key:
- a group per line: `{"id", "label", "rubrics": [...], "question"?, "responses": [...]}`
  -> the record plus `rewards` (one object per response, group-normalised);
- one response per line: `{"id", "label", "rubrics", "response": "..."}`; consecutive
  lines with the same group key (default `id`) form one group -> each line plus `reward`.

The judging is async (many judge calls in flight, bounded); the reward arithmetic is
`ltrl_cli.reward`, the same functions `ltrl grpo` and the reward server call.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Iterable, Iterator

from ltrl_cli.errors import BadInput
from ltrl_cli.io import get_path
from ltrl_cli.llm.usage import record_scope
from ltrl_cli.reward.judge import Judge
from ltrl_cli.reward.scoring import (ScoreOptions, check_label, check_rubrics, check_truncated, judge_responses,
                                     reward_objects, score_as_server)
from ltrl_cli.stats import Stats

_MISSING = object()


@dataclass(frozen=True)
class Keys:
    """Dotted key paths into the input records."""

    label: str = "label"
    rubrics: str = "rubrics"
    question: str = "question"
    response: str | None = None  # None: `responses` (a list) or else `response` (one string)
    group: str = "id"
    truncated: str = "truncated"


@dataclass
class Item:
    """What is scored together: one group, from one record or from consecutive records."""

    records: list[dict]
    responses: list[str]
    label: str
    rubrics: list[str]
    question: str | None
    truncated: list[bool]
    grouped_lines: bool  # True: one response per record; False: one record holds the group


# ---------------------------------------------------------------- reading and checking

def _field(record: dict, path: str, default: Any = _MISSING) -> Any:
    value = get_path(record, path, _MISSING)
    if value is _MISSING:
        if default is _MISSING:
            raise BadInput(f"missing field '{path}'")
        return default
    return value


def _label(record: dict, keys: Keys) -> str:
    return check_label(_field(record, keys.label), keys.label)


def _rubrics(record: dict, keys: Keys, options: ScoreOptions) -> list:
    rubrics = _field(record, keys.rubrics, _MISSING if options.uses_rubric else [])
    return check_rubrics(rubrics, keys.rubrics, chunk_ids=options.as_server and options.mode == "longrlvr")


def _question(record: dict, keys: Keys) -> str | None:
    question = get_path(record, keys.question, None)
    return question if isinstance(question, str) else None


def _responses(record: dict, keys: Keys) -> tuple[list[str], bool]:
    """The record's responses and whether it is a one-response line."""
    paths = [keys.response] if keys.response else ["responses", "response"]
    for path in paths:
        value = get_path(record, path, _MISSING)
        if value is _MISSING:
            continue
        if isinstance(value, str):
            return [value], True
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return value, False
        raise BadInput(f"field '{path}' must be a string or a list of strings")
    raise BadInput("missing field " + " or ".join(f"'{p}'" for p in paths))


def _truncated(record: dict, keys: Keys, count: int) -> list[bool]:
    return check_truncated(get_path(record, keys.truncated, None), count, keys.truncated)


def check_record(record: dict, keys: Keys, options: ScoreOptions) -> Item:
    """Validate one record into an Item; BadInput (without a line number) when unusable."""
    responses, single = _responses(record, keys)
    question = _question(record, keys)
    if question is None and options.as_server and options.alpha < 1:
        raise BadInput(f"missing field '{keys.question}' (with --as-server the judge is asked the question, "
                       "as the reward server asks it)")
    return Item([record], responses, _label(record, keys), _rubrics(record, keys, options),
                question, _truncated(record, keys, len(responses)), single)


def items(records: Iterable[dict], keys: Keys, options: ScoreOptions, *, stats: Stats | None = None,
          skip_bad: bool = False) -> Iterator[Item]:
    """Records -> Items; consecutive one-response lines with the same group key merge.

    A bad record raises BadInput naming its line (from `stats`, which the reader updates as
    it yields), or with `skip_bad` is warned about, counted in `stats` and left out.
    """
    stats = stats if stats is not None else Stats()
    pending: Item | None = None
    pending_key: Any = None
    for number, record in enumerate(records, start=1):
        line = stats.line or number
        try:
            item = check_record(record, keys, options)
            key = get_path(record, keys.group, None) if item.grouped_lines else None
            joins = pending is not None and item.grouped_lines and key is not None and key == pending_key
            if joins and item.label != pending.label:
                raise BadInput(f"label {item.label!r} differs from its group's {pending.label!r}")
        except BadInput as exc:
            stats.reject(BadInput(exc.detail, line=line), skip_bad=skip_bad)
            continue
        if joins:
            _merge(pending, item)
            continue
        if pending is not None:
            yield pending
            pending = None
        if item.grouped_lines:
            pending, pending_key = item, key
        else:
            yield item
    if pending is not None:
        yield pending


def _merge(group: Item, item: Item) -> None:
    group.records.extend(item.records)
    group.responses.extend(item.responses)
    group.truncated.extend(item.truncated)


# ---------------------------------------------------------------- judging and scoring

async def score_item(item: Item, judge: Judge, options: ScoreOptions, limit: asyncio.Semaphore) -> list[dict]:
    """Judge and score one Item; returns its records with `rewards` / `reward` added."""
    if options.as_server:
        scored = list(await asyncio.gather(*(
            score_as_server(judge, item.question, item.label, r, item.rubrics, options, limit=limit)
            for r in item.responses)))
    else:
        verdicts = await judge_responses(judge, item.question, item.label, item.responses,
                                         thinking=options.thinking, limit=limit)
        scored = reward_objects(judge, item.responses, verdicts, item.rubrics, options, item.truncated)
    provenance = options.describe(judge)
    if not item.grouped_lines:
        used = _group_usage(scored)
        return [{**item.records[0], "rewards": scored, "score": {**provenance, **({"usage": used} if used else {})}}]
    return [{**record, "reward": reward, "score": provenance} for record, reward in zip(item.records, scored)]


def score(records: Iterable[dict], *, judge: Judge, options: ScoreOptions = ScoreOptions(), keys: Keys = Keys(),
          concurrency: int = 16, stats: Stats | None = None, skip_bad: bool = False) -> Iterator[dict]:
    """The stage: records in, records with rewards out, in input order.

    Up to `concurrency` judge calls are in flight at once, across groups; records stream
    (a group is written as soon as it and every group before it are scored).
    """
    from ltrl_cli.concurrency import bounded_map

    limit = asyncio.Semaphore(concurrency)  # binds to the loop that first uses it (Python >= 3.10)

    async def run(item: Item) -> list[dict]:
        if item.grouped_lines:  # one line, one response: the judge's own scope is the line's
            return await score_item(item, judge, options, limit)
        with record_scope():  # a record holding a group: one record of the per-record figures
            return await score_item(item, judge, options, limit)

    stream = items(records, keys, options, stats=stats, skip_bad=skip_bad)
    for scored in bounded_map(run, stream, concurrency=concurrency, keep_order=True):
        yield from scored


def _group_usage(rewards: list[dict]) -> dict:
    """The judge usage of a group's responses, summed (each reward keeps its own)."""
    total: dict = {}
    for reward in rewards:
        for role, tally in ((reward.get("judge") or {}).get("usage") or {}).items():
            into = total.setdefault(role, {})
            for key, value in tally.items():
                into[key] = into.get(key, 0) + value
    return total


def judge_errors(record: dict) -> int:
    """How many of a scored record's responses have a judge_error."""
    return sum(1 for r in reward_dicts(record) if r.get("judge_error"))


def reward_dicts(record: dict) -> list[dict]:
    """A scored record's reward objects: its `rewards` list, or its one `reward`."""
    found = record.get("rewards") or ([record["reward"]] if isinstance(record.get("reward"), dict) else [])
    return [r for r in found if isinstance(r, dict)]


class Tally:
    """The means the summary line gives: reward, outcome accuracy and rubric recall, each over
    the responses that have the number (an excluded response has no reward, an unjudged one
    no outcome).

    >>> t = Tally(); t.add({"rewards": [{"reward": 1.0, "outcome_reward": 1.0, "rubric_reward": 0.5},
    ...                                 {"reward": None, "outcome_reward": None, "rubric_reward": 0.0}]})
    >>> t.measures()
    {'mean reward': '1.000', 'outcome accuracy': '1.000', 'mean rubric recall': '0.250'}
    """

    KEYS = {"mean reward": "reward", "outcome accuracy": "outcome_reward", "mean rubric recall": "rubric_reward"}

    def __init__(self) -> None:
        self.sums = {name: [0.0, 0] for name in self.KEYS}

    def add(self, record: dict) -> None:
        for reward in reward_dicts(record):
            for name, key in self.KEYS.items():
                value = reward.get(key)
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    self.sums[name][0] += value
                    self.sums[name][1] += 1

    def measures(self) -> dict[str, str]:
        return {name: f"{total / n:.3f}" for name, (total, n) in self.sums.items() if n}
