"""`ltrl report`: one self-contained HTML page about any stage's records.

For each question: its chain with each hop's anchor evidence, the question and answer,
every rollout step by step (queries with their hits, opened and cited pages, the answer
and the verdict), the tiers, and each assembled context as a strip of documents coloured
by tier with their token counts; for the whole dataset, the `ltrl stats` figures as
inline SVG charts. Style and script are in the page: it opens offline, from a file.
"""

from __future__ import annotations

from typing import Iterable

from ltrl_cli.errors import BadInput
from ltrl_cli.report.data import Dataset


def build_report(data: Dataset, *, title: str = "ltrl report") -> str:
    """The page for a gathered Dataset; BadInput when it holds nothing to show."""
    from ltrl_cli.report.page import render

    if not data.questions and not data.stats:
        raise BadInput("nothing to report: no records in the input")
    return render(data, figures(data), title)


def figures(data: Dataset) -> dict | None:
    """The dataset's stats: an `ltrl stats` object from the input, else computed from the
    training records in it, else None."""
    if data.stats:
        return data.stats[0]
    contexts: Iterable[dict] = [record for q in data.questions.values() for record in q.contexts.values()]
    contexts = list(contexts)
    if not contexts:
        return None
    from ltrl_cli.stages.stats import compute_stats

    result = compute_stats(contexts)
    result.pop("context_tokens", None)
    return result
