"""The LongTraceRL paper's evaluation figures (arXiv 2605.31584; METHOD.md "Evaluation"),
for `ltrl eval --compare paper`.

Scores are percentages, avg@4 at temperature 0.6, top-p 0.95, top-k 20, 32K new tokens.
`base` is the model before training, `trained` after LongTraceRL. The paper gives the
per-benchmark figures for Qwen3-4B-Thinking-2507 only; for the two other models it gives
the five-benchmark average alone (None below means "not reported").
"""

from __future__ import annotations

from typing import Any

from ltrl_cli.errors import UsageError

PAPER = "LongTraceRL (arXiv 2605.31584)"

FIGURES: dict[str, dict[str, Any]] = {
    "qwen3-4b-thinking": {
        "model": "Qwen3-4B-Thinking-2507",
        "base": {"mrcr": 36.2, "aa-lcr": 33.2, "longreason": 78.5, "frames": 76.7, "longbench-v2": 41.7,
                 "average": 53.3},
        "trained": {"mrcr": 45.8, "aa-lcr": 41.8, "longreason": 83.8, "frames": 79.5, "longbench-v2": 44.1,
                    "average": 59.0},
    },
    "qwen3-30b-a3b-thinking": {
        "model": "Qwen3-30B-A3B-Thinking-2507",
        "base": {"average": 60.5},
        "trained": {"average": 63.7},
    },
    "deepseek-r1-qwen3-8b": {
        "model": "DeepSeek-R1-0528-Qwen3-8B",
        "base": {"average": 42.7},
        "trained": {"average": 43.8},
    },
}


def paper_figures(model: str, benchmark: str) -> dict[str, Any]:
    """The paper's base and trained figures for one model and benchmark.

    >>> paper_figures("qwen3-4b-thinking", "mrcr")["trained"]
    45.8
    >>> paper_figures("deepseek-r1-qwen3-8b", "mrcr")["base"] is None
    True
    """
    if model not in FIGURES:
        raise UsageError(f"--paper-model {model!r}: expected one of {', '.join(FIGURES)}")
    entry = FIGURES[model]
    return {"source": PAPER, "model": entry["model"], "base": entry["base"].get(benchmark),
            "trained": entry["trained"].get(benchmark), "base_average": entry["base"].get("average"),
            "trained_average": entry["trained"].get("average")}
