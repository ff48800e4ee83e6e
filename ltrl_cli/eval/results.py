"""Results files of `ltrl eval` runs, and the table that compares them.

A results file is one JSON object per run, laid out as lm-evaluation-harness lays out its
own (`results` by task, the run's `config`, the tool's version and git hash, the date), so
runs can be kept, diffed and compared:

    {"results": {"longbench-v2": {"score": 41.7, "score_stderr": 1.9, "n": 503,
                                  "metric": "avg@4", "breakdowns": {...}, ...}},
     "config": {"label", "model", "backend", "endpoint": "localhost:8000",
                "sampling": {...}, "max_tokens", "samples", "max_context", "judge": {...}, ...},
     "ltrl_version": "0.1.0", "git_hash": "c1796f6", "date": "2026-12-07T00:10:00Z",
     "command": "ltrl eval -b longbench-v2 ..."}

`score_stderr` is a bootstrap standard error of the score over questions (percentage
points): the spread of the mean when the questions are drawn again with replacement.
`compare(files)` puts runs side by side, the paper's layout: one row per run (the label,
by default the model), one column per benchmark in the paper's order, and the average.
"""

from __future__ import annotations

import random
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Sequence
from urllib.parse import urlsplit

from ltrl_cli.errors import BadInput
from ltrl_cli.provenance import command_line, git_hash

BOOTSTRAP_ITERATIONS = 1000
ORDER = ("mrcr", "aa-lcr", "longreason", "frames", "longbench-v2")  # the paper's table


def bootstrap_stderr(values: Sequence[float], *, iterations: int = BOOTSTRAP_ITERATIONS, seed: int = 0
                     ) -> float | None:
    """Bootstrap standard error of the mean of `values` (fractions), in percentage points.

    Seeded, so a results file is reproducible; None for fewer than two values.

    >>> bootstrap_stderr([1.0, 1.0, 1.0])
    0.0
    >>> 20 < bootstrap_stderr([0.0, 1.0] * 2) < 30  # sqrt(0.25 / 4) = 0.25
    True
    """
    if len(values) < 2:
        return None
    draw = random.Random(seed).choices
    n = len(values)
    means = [sum(draw(values, k=n)) / n for _ in range(iterations)]
    centre = sum(means) / iterations
    spread = (sum((m - centre) ** 2 for m in means) / (iterations - 1)) ** 0.5
    return round(100 * spread, 2)


def endpoint_host(base_url: str | None) -> str | None:
    """`host:port` of an endpoint, without scheme, path or credentials.

    >>> endpoint_host("http://user:secret@judge.example:8000/v1"), endpoint_host(None)
    ('judge.example:8000', None)
    """
    if not base_url:
        return None
    parts = urlsplit(base_url)
    if not parts.hostname:
        return None
    return parts.hostname + (f":{parts.port}" if parts.port else "")


def results_object(summary: dict[str, Any], item_scores: Sequence[float], config: dict[str, Any],
                   *, argv: Sequence[str] | None = None) -> dict[str, Any]:
    """The results file of one run from its summary (eval.summary.summarize) and config."""
    from ltrl_cli import __version__

    entry = {k: v for k, v in summary.items() if k not in ("benchmark", "paper")}
    entry["score_stderr"] = bootstrap_stderr(item_scores)
    if summary.get("paper"):
        entry["paper"] = summary["paper"]
    return {"results": {summary["benchmark"]: entry}, "config": config, "ltrl_version": __version__,
            "git_hash": git_hash(), "date": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "command": command_line(argv)}


def results_path(path: Path, benchmark: str, date: str) -> Path:
    """`path` itself when it names a .json file, else a file inside the folder `path` named by
    benchmark and date (lm-evaluation-harness's rule for its --output_path).

    >>> str(results_path(Path("runs/a.json"), "mrcr", "d")), str(results_path(Path("runs"), "mrcr", "2026-12-07T00:10:00Z"))
    ('runs/a.json', 'runs/results_mrcr_2026-12-07T00-10-00Z.json')
    """
    if path.suffix == ".json" and not path.is_dir():
        return path
    return path / f"results_{benchmark}_{date.replace(':', '-')}.json"


# ---------------------------------------------------------------- comparing runs

def load_results(path: Path) -> dict[str, Any]:
    """A results file (or an `ltrl eval --summary` file, read as a one-benchmark result)."""
    import orjson

    try:
        data = orjson.loads(Path(path).read_bytes())
    except orjson.JSONDecodeError as exc:
        raise BadInput(f"not JSON ({exc})", source=str(path)) from None
    if isinstance(data, dict) and isinstance(data.get("results"), dict):
        return data
    if isinstance(data, dict) and "benchmark" in data and "score" in data:  # a --summary file
        return {"results": {data["benchmark"]: data}, "config": {}}
    raise BadInput("not an `ltrl eval` results file (no `results` object)", source=str(path))


def expand(paths: Iterable[Path]) -> list[Path]:
    """Files as given; a folder (`--results DIR` of several runs) stands for its .json files."""
    found: list[Path] = []
    for path in map(Path, paths):
        if not path.is_dir():
            found.append(path)
            continue
        inside = sorted(path.glob("*.json"))
        if not inside:
            raise BadInput("a folder without .json results files", source=str(path))
        found.extend(inside)
    return found


def label_of(run: dict[str, Any], path: Path) -> str:
    config = run.get("config") or {}
    return str(config.get("label") or config.get("model") or Path(path).stem)


PAPER = "paper"  # stands, among the files, for the paper's two rows (eval/paper.py)


def compare(paths: Iterable[Path | str], paper_model: str = "qwen3-4b-thinking") -> dict[str, Any]:
    """Runs side by side (files, or folders of them): {"benchmarks": [...], "rows": [{"label", "files", "scores": {bench:
    {"score", "score_stderr", "n"}}, "average"}]}. Files with the same label (one model's
    runs of several benchmarks) make one row; the average is over the benchmarks a row has,
    given only when it has them all. `paper` among the paths adds the paper's figures for
    `paper_model`, before and after LongTraceRL, as two rows in that place."""
    rows: dict[str, dict[str, Any]] = {}
    for path in paths:
        if str(path) == PAPER:
            rows.update({row["label"]: row for row in paper_rows(paper_model)})
            continue
        for found in expand([path]):
            _add_run(rows, load_results(found), found)
    seen = {b for row in rows.values() for b in row["scores"] if row["scores"][b].get("score") is not None}
    benchmarks = [b for b in ORDER if b in seen] + sorted(seen - set(ORDER))
    for row in rows.values():
        values = [row["scores"].get(b, {}).get("score") for b in benchmarks]
        reported = row.pop("reported_average", None)  # the paper's own average, over all five
        row["average"] = round(sum(values) / len(values), 1) if values and None not in values else None
        if reported is not None and set(ORDER) <= set(benchmarks):
            row["average"] = reported
    return {"benchmarks": benchmarks, "rows": list(rows.values())}


def _add_run(rows: dict[str, dict[str, Any]], run: dict[str, Any], path: Path) -> None:
    row = rows.setdefault(label_of(run, path), {"label": label_of(run, path), "files": [], "scores": {}})
    row["files"].append(str(path))
    for bench, entry in run["results"].items():
        row["scores"][bench] = {k: entry.get(k) for k in ("score", "score_stderr", "n")}


def paper_rows(model: str) -> list[dict[str, Any]]:
    """The paper's figures for `model` as two comparison rows (no standard errors: not published)."""
    from ltrl_cli.eval.paper import FIGURES, paper_figures

    paper_figures(model, ORDER[0])  # an unknown model is a UsageError naming the choices
    entry = FIGURES[model]
    return [{"label": f"paper: {entry['model']}" + (" + LongTraceRL" if side == "trained" else ""), "files": [],
             "scores": {b: {"score": entry[side].get(b), "score_stderr": None, "n": None} for b in ORDER},
             "reported_average": entry[side].get("average")}
            for side in ("base", "trained")]


def _cell(entry: dict[str, Any] | None) -> str:
    if not entry or entry.get("score") is None:
        return "-"
    stderr = entry.get("score_stderr")
    return f"{entry['score']:.1f}" + (f" ± {stderr:.1f}" if stderr is not None else "")


def cells(table: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """Header and rows of strings; a last row gives each column's change from the first run to the last."""
    header = ["run", *table["benchmarks"], "average"]
    body = [[row["label"], *(_cell(row["scores"].get(b)) for b in table["benchmarks"]),
             "-" if row["average"] is None else f"{row['average']:.1f}"] for row in table["rows"]]
    if len(table["rows"]) >= 2:
        first, last = table["rows"][0], table["rows"][-1]
        deltas = [_delta(first["scores"].get(b), last["scores"].get(b)) for b in table["benchmarks"]]
        deltas.append(_delta({"score": first["average"]}, {"score": last["average"]}))
        body.append([f"change ({last['label']} - {first['label']})", *deltas])
    return header, body


def _delta(before: dict[str, Any] | None, after: dict[str, Any] | None) -> str:
    a, b = (before or {}).get("score"), (after or {}).get("score")
    return "-" if a is None or b is None else f"{b - a:+.1f}"


def markdown(table: dict[str, Any]) -> str:
    """The comparison as a markdown table (scores in percent, ± the bootstrap standard error)."""
    header, body = cells(table)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in body]
    return "\n".join(lines) + "\n"


def rich_table(table: dict[str, Any]) -> Any:
    from rich.table import Table

    header, body = cells(table)
    grid = Table(title="ltrl eval: runs compared (score ± bootstrap standard error, percent)", title_justify="left")
    for i, name in enumerate(header):
        grid.add_column(name, justify="left" if i == 0 else "right")
    for row in body:
        grid.add_row(*row)
    return grid
