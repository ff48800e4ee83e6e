"""The summary of an evaluation run: avg@K as a percentage, as the paper reports it, with
per-bucket breakdowns, secondary metrics, and the paper's figures beside it on request.

    {"benchmark": "longbench-v2", "n": 503, "score": 41.7, "samples": 4, "metric": "avg@4",
     "breakdowns": {"difficulty": {"easy": {"n": 192, "score": 50.1}, ...}, ...},
     "metrics": {"substring_match": 62.0}, "ungraded_samples": 0, "unscored_items": 0,
     "truncated_prompts": 3, "truncated_responses": 12, "paper": {...}}

The score of an item is the mean over its graded samples; the benchmark score is the mean
over items that have one. Samples without a verdict (a judge that failed) are counted, not
scored 0, and the command says so.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Iterable


def summarize(records: Iterable[dict[str, Any]], benchmark: str, breakdowns: tuple[str, ...] = ()) -> dict[str, Any]:
    """Aggregate item records (as `ltrl eval` writes them) into the summary object."""
    scores: list[float] = []
    buckets: dict[str, dict[str, list[float]]] = {key: defaultdict(list) for key in breakdowns}
    metrics: dict[str, list[float]] = defaultdict(list)
    counts = {"n": 0, "samples": 0, "ungraded_samples": 0, "unscored_items": 0, "truncated_prompts": 0,
              "truncated_responses": 0}
    for record in records:
        _count(record, counts)
        if record.get("score") is None:
            continue
        scores.append(record["score"])
        for key in breakdowns:
            buckets[key][str((record.get("buckets") or {}).get(key, "unknown"))].append(record["score"])
        for key, value in (record.get("metrics") or {}).items():
            metrics[key].append(value)
    return {
        "benchmark": benchmark, "n": counts["n"], "score": _percent(scores), "samples": counts["samples"],
        "metric": f"avg@{counts['samples']}",
        "breakdowns": {key: {name: {"n": len(v), "score": _percent(v)} for name, v in sorted(groups.items())}
                       for key, groups in buckets.items()},
        "metrics": {key: _percent(v) for key, v in metrics.items()},
        **{k: v for k, v in counts.items() if k not in ("n", "samples")},
    }


def _count(record: dict[str, Any], counts: dict[str, int]) -> None:
    samples = record.get("samples") or []
    counts["n"] += 1
    counts["samples"] = max(counts["samples"], len(samples))
    counts["ungraded_samples"] += sum(1 for s in samples if s.get("score") is None)
    counts["unscored_items"] += record.get("score") is None
    counts["truncated_prompts"] += bool((record.get("prompt") or {}).get("truncated"))
    counts["truncated_responses"] += sum(1 for s in samples if s.get("truncated"))


def _percent(values: list[float]) -> float | None:
    """Mean as a percentage, one decimal; None for no values.

    >>> _percent([1.0, 0.0, 0.5]), _percent([])
    (50.0, None)
    """
    return round(100 * sum(values) / len(values), 1) if values else None


def table(summary: dict[str, Any]) -> Any:
    """A rich Table of the summary (the paper's figures in two more columns when present)."""
    from rich.table import Table

    paper = summary.get("paper")
    title = f"{summary['benchmark']}: {summary['n']:,} questions, {summary['metric']}"
    if paper:
        title += f"; paper: {paper['model']}"
    grid = Table(title=title, title_justify="left")
    grid.add_column("")
    grid.add_column("n", justify="right")
    grid.add_column("score", justify="right")
    if paper:
        grid.add_column("paper base", justify="right")
        grid.add_column("paper trained", justify="right")
    extra = [_fmt(paper.get("base")), _fmt(paper.get("trained"))] if paper else []
    grid.add_row("overall", f"{summary['n']:,}", _fmt(summary["score"]), *extra)
    for key, value in summary["metrics"].items():
        grid.add_row(key.replace("_", " "), "", _fmt(value), *([""] * len(extra)))
    for key, groups in summary["breakdowns"].items():
        for name, cell in groups.items():
            grid.add_row(f"{key}={name}", f"{cell['n']:,}", _fmt(cell["score"]), *([""] * len(extra)))
    return grid


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"
