"""Report sections for `ltrl judge-audit` output and for `--usage FILE` summaries.

Each input object of those kinds becomes one small table in the dataset view, named by
the file and line it came from (an audit or a usage summary is one object, so a few of
them are kept whole).
"""

from __future__ import annotations

from html import escape
from typing import Any

from ltrl_cli.errors import BadInput


def _pct(value: Any) -> str:
    return "-" if not isinstance(value, (int, float)) else f"{100 * value:.1f}%"


def _num(value: Any) -> str:
    """
    >>> _num(2695130.0), _num(0.5362), _num(12), _num(None)
    ('2,695,130', '0.5362', '12', '-')
    """
    if not isinstance(value, (int, float)):
        return "-"
    if isinstance(value, int) or abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.4g}"


def _table(head: list[str], rows: list[list[str]]) -> str:
    cells = "".join(f"<th>{escape(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{cells}</tr>{body}</table>"


class JudgeAuditSection:
    """`ltrl judge-audit` objects: agreement, hand labels, probes, stability, invalid replies."""

    title = "Judge audit"

    def __init__(self) -> None:
        self.audits: list[tuple[str, dict]] = []

    def claims(self, record: dict) -> bool:
        return "agreement" in record and "recorded_judges" in record and "cases" in record

    def add(self, record: dict, where: str) -> None:
        if not isinstance(record.get("agreement"), dict) or not isinstance(record.get("cases"), int):
            raise BadInput("a judge audit without `agreement` and `cases` (ltrl judge-audit writes both)",
                           source=where)
        self.audits.append((where, record))

    def html(self) -> str:
        return "".join(self._one(where, audit) for where, audit in self.audits)

    def _one(self, where: str, a: dict) -> str:
        judges = ", ".join(f"{escape(str(k))} {v:,}" for k, v in (a.get("recorded_judges") or {}).items())
        parts = [f"<p>{escape(where)}: {a.get('judged', 0):,} of {a['cases']:,} responses judged "
                 f"({judges}), {_pct(a.get('judged_correct_rate'))} judged correct.</p>"]
        rows = [[escape(rule), _pct(r.get("rate")), _num(r.get("judge_yes_rule_no")), _num(r.get("judge_no_rule_yes"))]
                for rule, r in a["agreement"].items() if isinstance(r, dict)]
        parts.append(_table(["rule", "agrees", "judge yes, rule no", "judge no, rule yes"], rows))
        labels = a.get("labels")
        if isinstance(labels, dict):
            rows = [[escape(name), _num(labels[name].get("cases"))]
                    + [self._interval(labels[name].get(m)) for m in ("accuracy", "precision", "recall", "kappa")]
                    for name in ("judge", "exact", "contains") if isinstance(labels.get(name), dict)]
            parts.append(_table(["vs hand labels", "cases", "accuracy", "precision", "recall", "kappa"], rows))
        probes = (a.get("probes") or {}).get("kinds")
        if isinstance(probes, dict):
            rows = [[escape(kind), _num(p.get("asked")), _pct(p.get("rate"))] for kind, p in probes.items()]
            parts.append(_table(["probe (all wrong)", "asked", "judged correct (ideal 0%)"], rows))
        stability, invalid = a.get("stability") or {}, a.get("invalid_replies") or {}
        if stability or invalid:
            parts.append(f"<p>Same verdict over two asks: {_pct(stability.get('rate'))} of "
                         f"{_num(stability.get('both_verdicts'))}; invalid replies {_pct(invalid.get('rate'))} of "
                         f"{_num(invalid.get('replies'))}.</p>")
        return "".join(parts)

    @staticmethod
    def _interval(figure: Any) -> str:
        if not isinstance(figure, dict) or figure.get("value") is None:
            return "-"
        if figure.get("low") is None:
            return f"{figure['value']:.2f}"
        return f"{figure['value']:.2f} [{figure['low']:.2f}, {figure['high']:.2f}]"


class UsageSection:
    """`--usage FILE` objects: requests and tokens by role, per record, cost, the estimate."""

    title = "Model usage"

    def __init__(self) -> None:
        self.summaries: list[tuple[str, dict]] = []

    def claims(self, record: dict) -> bool:
        return "roles" in record and "total" in record and "records" in record

    def add(self, record: dict, where: str) -> None:
        if not isinstance(record.get("roles"), dict):
            raise BadInput("a usage summary whose `roles` is not an object", source=where)
        self.summaries.append((where, record))

    def html(self) -> str:
        return "".join(self._one(where, u) for where, u in self.summaries)

    def _one(self, where: str, u: dict) -> str:
        per = u.get("per_record") or {}
        rows = []
        for role, t in {**u["roles"], "total": u.get("total") or {}}.items():
            means = per.get(role) or {}
            rows.append([escape(role), _num(t.get("requests")), _num(t.get("cached")), _num(t.get("prompt_tokens")),
                         _num(t.get("completion_tokens")), _num(means.get("requests")),
                         _num(means.get("prompt_tokens")), _num(means.get("completion_tokens"))])
        head = ["role", "requests", "cached", "prompt tokens", "completion tokens", "requests / record",
                "prompt / record", "completion / record"]
        parts = [f"<p>{escape(where)}: {_num(u.get('records'))} records.</p>", _table(head, rows)]
        cost, budget, estimate = u.get("cost"), u.get("budget"), u.get("estimate")
        if isinstance(cost, dict):
            parts.append(f"<p>Cost {_num(cost.get('total'))}, of which spent (not cached) {_num(cost.get('spent'))}.</p>")
        if isinstance(budget, dict) and budget.get("stopped"):
            parts.append(f"<p>Stopped by the budget: {escape(str(budget['stopped']))}.</p>")
        if isinstance(estimate, dict):
            rows = [[escape(name), _num(f.get("projected")), f"{_num(f.get('low'))} to {_num(f.get('high'))}"]
                    for name in ("requests", "prompt_tokens", "completion_tokens", "cost")
                    if isinstance(f := estimate.get(name), dict)]
            parts.append(f"<p>Estimate from {_num(estimate.get('sample_records'))} of "
                         f"{_num(estimate.get('total_records'))} records:</p>"
                         + _table(["projected", "whole input", "95% interval"], rows))
        return "".join(parts)
