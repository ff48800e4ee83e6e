"""The report's HTML: the page around the data, and the dataset view.

The page is a shell: the list on the left is drawn by the script from the rows (only the
rows in sight are in the document, so 20,000 questions cost what 40 do), a question's
detail is drawn when it is opened, from its shard. The dataset view is written here, as
inline SVG, from counts gathered while the questions were written.
"""

from __future__ import annotations

from collections import Counter
from html import escape

import orjson

from ltrl_cli.report import assets, charts
from ltrl_cli.report.question import Figures
from ltrl_cli.report.sections import Section

MAX_BARS = 24  # a histogram with more distinct values is binned down to this many bars


def shell(title: str, meta: dict, overview_html: str, *, list_script: str) -> tuple[str, str]:
    """(head, tail) of the page; the list's rows go between them (`list_script` opens them).
    The list is drawn as soon as its rows are in: a single file's shards, after the rows,
    are still being parsed then."""
    config = orjson.dumps(meta).decode().replace("</", "<\\/")
    head = (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{escape(title)}</title><style>{assets.css()}</style></head><body>"
            f'<nav id="side"><h1><a href="#">{escape(title)}</a></h1>{assets.CONTROLS}'
            f'<div id="list" tabindex="0" role="listbox" aria-label="Questions"><div id="spacer"></div></div></nav>'
            f'<main id="main"><section id="overview">{overview_html}</section><section id="detail" hidden></section>'
            f"</main>{assets.DOC_PANE}<script>{assets.js()}\nLTRL.meta={config};</script>{list_script}")
    return head, "</body></html>"


def overview(figures: Figures, stats: dict | None, sections: list[Section]) -> str:
    c = figures.counts
    verdicts = c["verdict"]
    tried = sum(c["k"].values())
    solved = tried - c["k"].get(0, 0)
    rollouts = sum(verdicts.values())
    parts = [f"<h2>Dataset</h2><p>{figures.questions:,} questions; {solved:,} of {tried:,} with rollouts solved by "
             f"at least one; rollout accuracy {verdicts.get('correct', 0):,} of {rollouts:,} "
             f"({_pct(verdicts.get('correct', 0) / rollouts if rollouts else None)}); "
             f"{sum(sum(x.values()) for x in figures.context_tokens.values()):,} contexts.</p>", _why(c["why"])]
    grid = [
        charts.histogram("Hops per question", [(str(h), n, f"hops={h}") for h, n in sorted(c["hops"].items())]),
        charts.histogram("Correct rollouts per question (k of K)",
                         [(str(k), n, f"k={k}") for k, n in sorted(c["k"].items())]),
        charts.histogram("Turns per rollout", _binned(c["turns"])),
        charts.histogram("Pages opened per rollout", _binned(c["opened"])),
        charts.histogram("Failed rollouts: chain pages opened", [(str(k), n, None) for k, n in sorted(c["reached"].items())],
                         note="0 = never reached the chain"),
        charts.histogram("Rollouts by how they stopped", [(s, n, None) for s, n in c["stop"].most_common()]),
    ]
    parts.append('<div class="charts">' + "".join(g for g in grid if g) + "</div>")
    parts.append(_contexts(figures, stats))
    for section in sections:
        parts.append(f'<h3 class="extra">{escape(section.title)}</h3>{section.html()}')
    return "".join(parts) + _legend()


def _why(why: Counter) -> str:
    rows = [(reason, n) for reason, n in why.most_common() if reason != "has tiers"]
    if not rows:
        return ""
    links = {"no tiers: none": "solved=0", "no rollouts": "solved=-1"}
    items = []
    for reason, n in rows:
        link = next((q for start, q in links.items() if reason.startswith(start)), None)
        text = escape(reason)
        items.append(f"<li>{n:,}: " + (f'<a href="#find/{link}">{text}</a>' if link else text) + "</li>")
    return f'<p class="meta">Questions without tiers, and why:</p><ul class="why">{"".join(items)}</ul>'


def _contexts(figures: Figures, stats: dict | None) -> str:
    if not stats and not figures.depth:
        return ""
    parts = ["<h3>What the contexts are made of</h3>"]
    by_strategy = (stats or {}).get("by_strategy") or ({"all": stats} if stats and "tiers" in stats else {})
    if by_strategy:
        parts.append('<p class="meta">Share of the context tokens per tier:' + _swatches() + "</p>")
        parts.append(charts.token_share_bars(by_strategy))
    if figures.depth:
        parts.append('<p class="meta">Where the gold documents start in the prompt, by tenths of it '
                     "(darker: more of them; a model reads the question at the end):</p>")
        parts.append(charts.depth_bars({s: dict(c) for s, c in figures.depth.items()}))
    parts.append('<div class="charts">' + "".join(
        charts.histogram(f"Context tokens: {s}", [(f"{8 * k}K", n, None) for k, n in sorted(c.items())])
        for s, c in figures.context_tokens.items()) + "</div>")
    if by_strategy:
        mentions = charts.mention_bars(by_strategy)
        parts.append("<h3>How confusable the documents are</h3>" + (mentions or (
            '<p class="meta">Mention rates need every document read: give <code>ltrl stats</code> output '
            "(stats.json) with the inputs to see them.</p>")))
        parts.append(_stats_table(by_strategy))
    if stats and stats.get("comparison"):
        parts.append(_comparison(stats["comparison"]))
    return "".join(parts)


def _binned(counts: Counter) -> list[tuple[str, int, str | None]]:
    if not counts:
        return []
    top = max(counts)
    width = max(1, -(-(top + 1) // MAX_BARS))
    bins: Counter = Counter()
    for value, n in counts.items():
        bins[value // width] += n
    return [(str(b * width) if width == 1 else f"{b * width}-{b * width + width - 1}", bins.get(b, 0), None)
            for b in range(top // width + 1)]


def _stats_table(by_strategy: dict[str, dict]) -> str:
    rows = []
    for name, figures in by_strategy.items():
        for tier, row in figures["tiers"].items():
            rows.append(f"<tr><td>{escape(name)}</td><td>{_swatch(tier)}{escape(tier)}</td><td>{row['docs']:,}</td>"
                        f"<td>{row['docs_per_record']:.1f}</td><td>{_pct(row.get('token_share'))}</td>"
                        f"<td>{_pct(row.get('mention_rate_macro'))}</td></tr>")
    return ("<table><thead><tr><th>strategy</th><th>tier</th><th>docs</th><th>per context</th><th>token share</th>"
            f"<th>mention % (macro)</th></tr></thead><tbody>{''.join(rows)}</tbody></table>")


def _comparison(c: dict) -> str:
    ratio = f"{c['tier1_over_baseline']:.1f}×" if c.get("tier1_over_baseline") is not None else "-"
    return (f'<p class="measure">{escape(c["strategy"])} vs {escape(c["baseline"])}: trajectory documents hold '
            f"{_pct(c['trajectory_token_share'])} of the context tokens; {c['tier1_docs_per_context']:.1f} Tier-1 "
            f"documents per context; Tier-1 mentions a gold entity {ratio} as often as the "
            f"{escape(c['baseline'])} strategy's documents ({_pct(c['mention_rate_macro'].get('tier1'))} vs "
            f"{_pct(c['baseline_mention_rate_macro'])}).</p>")


def _legend() -> str:
    return '<p class="meta">Tier colours:' + _swatches() + "</p>"


def _swatches() -> str:
    return " ".join(f'<span class="nw">{_swatch(t)}{t}</span>' for t in charts.TIER_COLOURS)


def _swatch(tier: str) -> str:
    return f'<i class="sw t-{escape(tier)}"></i>'


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"
