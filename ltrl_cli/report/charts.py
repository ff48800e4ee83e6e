"""Inline SVG charts for the report's dataset view (no script, no network).

Tier colours are from the Okabe-Ito palette, which stays distinguishable under the common
colour-vision deficiencies: gold vermillion, Tier-1 dark blue and Tier-2 sky blue (one hue,
two lightnesses, as they are two depths of the same trajectory), search bluish green,
random fill light grey. A bar of a distribution links to the list filtered to it.
"""

from __future__ import annotations

from html import escape
from urllib.parse import quote

TIER_COLOURS = {"gold": "#D55E00", "tier1": "#0072B2", "tier2": "#56B4E9", "search": "#009E73",
                "random": "#C8C8C8", "unknown": "#999999"}
_STRATEGY_COLOURS = ["#0072B2", "#E69F00", "#009E73", "#CC79A7"]
BAR = "#0072B2"


def colour(tier: str) -> str:
    return TIER_COLOURS.get(tier, TIER_COLOURS["unknown"])


def histogram(title: str, bars: list[tuple[str, int, str | None]], *, width: int = 420, height: int = 170,
              note: str = "") -> str:
    """Vertical bars, one per (label, count, filter or None); a bar with a filter links to
    the list filtered by it (`#find/FILTER`)."""
    if not bars:
        return ""
    top, bottom, left = 22, 34, 8
    peak = max(n for _, n, _ in bars) or 1
    step = (width - left - 8) / len(bars)
    out = [_svg_open(width, height, title), _text(left, 14, title, size=12, weight="600")]
    every = max(1, -(-len(bars) * 44 // (width - 16)))  # a label needs about 44 px: every n-th bar
    for i, (label, n, link) in enumerate(bars):
        h = (height - top - bottom) * n / peak
        x, y = left + i * step, height - bottom - h
        bar = (f'<rect x="{x + 1:.1f}" y="{y:.1f}" width="{max(1.0, step - 2):.1f}" height="{h:.1f}" fill="{BAR}">'
               f"<title>{escape(label)}: {n:,}</title></rect>")
        out.append(f'<a href="#find/{quote(link)}">{bar}</a>' if link else bar)
        if i % every == 0:
            out.append(_text(x + step / 2, height - bottom + 13, label, size=10, anchor="middle"))
    out.append(_text(left, height - 4, note or f"highest bar: {peak:,}", size=10, fill="#555"))
    out.append("</svg>")
    return "".join(out)


def token_share_bars(by_strategy: dict[str, dict], width: int = 560) -> str:
    """One horizontal bar per strategy, split by each tier's share of the context tokens."""
    rows, bar_h, label_w = list(by_strategy.items()), 26, 110
    height = 30 + len(rows) * (bar_h + 12)
    out = [_svg_open(width, height, "Share of context tokens per tier")]
    for i, (name, figures) in enumerate(rows):
        y, x = 24 + i * (bar_h + 12), float(label_w)
        out.append(_text(4, y + 17, name))
        for tier, row in figures["tiers"].items():
            if tier == "distractors" or not row.get("token_share"):
                continue
            w = row["token_share"] * (width - label_w - 10)
            label = f"{tier}: {100 * row['token_share']:.1f}% of tokens, {row['docs_per_record']:.1f} docs per context"
            out.append(f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{colour(tier)}">'
                       f"<title>{escape(label)}</title></rect>")
            if w > 34:
                dark = tier in ("gold", "tier1", "search")
                out.append(_text(x + 3, y + 17, f"{100 * row['token_share']:.0f}%", fill="#fff" if dark else "#111"))
            x += w
    out.append("</svg>")
    return "".join(out)


def depth_bars(depth: dict[str, dict[int, int]], width: int = 560) -> str:
    """Per strategy, the share of its gold documents that start in each tenth of the
    prompt (0-10% = the top of the prompt, furthest from the question)."""
    if not depth:
        return ""
    rows, bar_h, label_w = list(depth.items()), 22, 110
    height = 40 + len(rows) * (bar_h + 10)
    out = [_svg_open(width, height, "Where the gold documents sit in the prompt")]
    cell = (width - label_w - 10) / 10
    for i, (name, counts) in enumerate(rows):
        y, total = 10 + i * (bar_h + 10), sum(counts.values()) or 1
        out.append(_text(4, y + 15, name))
        for decile in range(10):
            share = counts.get(decile, 0) / total
            shade = round(255 - 200 * min(1.0, share * 4))  # 25% or more of the gold docs: darkest
            out.append(f'<rect x="{label_w + decile * cell:.1f}" y="{y}" width="{cell - 1:.1f}" height="{bar_h}" '
                       f'fill="rgb({shade},{shade},{shade})" stroke="#bbb"><title>{escape(name)}: '
                       f"{100 * share:.1f}% of gold documents start at {10 * decile}-{10 * decile + 10}% "
                       f"of the prompt</title></rect>")
            out.append(_text(label_w + (decile + 0.5) * cell, y + 15, f"{100 * share:.0f}%", size=10, anchor="middle",
                             fill="#fff" if shade < 130 else "#111"))
    y = 10 + len(rows) * (bar_h + 10)
    out.append(_text(label_w, y + 12, "start of prompt", size=10))
    out.append(_text(width - 10, y + 12, "end (question)", size=10, anchor="end"))
    out.append("</svg>")
    return "".join(out)


def mention_bars(by_strategy: dict[str, dict], width: int = 560, height: int = 240) -> str:
    """Grouped bars: per tier, each strategy's macro rate of documents mentioning a gold entity."""
    tiers = list(dict.fromkeys(t for f in by_strategy.values() for t, row in f["tiers"].items()
                               if row.get("mention_rate_macro") is not None))
    if not tiers:
        return ""
    top, bottom, left = 24, 30, 40
    plot_h, group_w = height - top - bottom, (width - left - 10) / len(tiers)
    bar_w = group_w * 0.8 / max(1, len(by_strategy))
    out = [_svg_open(width, height, "Documents mentioning a gold entity (macro), per tier")]
    for pct in (0, 25, 50, 75, 100):
        y = top + plot_h * (1 - pct / 100)
        out.append(f'<line x1="{left}" x2="{width - 10}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>')
        out.append(_text(4, y + 4, f"{pct}%", size=10))
    for g, tier in enumerate(tiers):
        gx = left + g * group_w + group_w * 0.1
        for s, (name, figures) in enumerate(by_strategy.items()):
            rate = (figures["tiers"].get(tier) or {}).get("mention_rate_macro")
            if rate is None:
                continue
            h = plot_h * rate
            x = gx + s * bar_w
            out.append(f'<rect x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{bar_w - 2:.1f}" height="{h:.1f}" '
                       f'fill="{_STRATEGY_COLOURS[s % len(_STRATEGY_COLOURS)]}"><title>{escape(name)} {escape(tier)}: '
                       f"{100 * rate:.1f}%</title></rect>")
        out.append(_text(gx, height - 10, tier, size=11))
    for s, name in enumerate(by_strategy):
        x = left + 10 + s * 120
        out.append(f'<rect x="{x}" y="{top - 16}" width="10" height="10" fill="{_STRATEGY_COLOURS[s % 4]}"/>')
        out.append(_text(x + 14, top - 7, name, size=11))
    out.append("</svg>")
    return "".join(out)


def _svg_open(width: int, height: int, title: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}"><title>{escape(title)}</title>')


def _text(x: float, y: float, text: str, *, size: int = 12, fill: str = "#222", anchor: str = "start",
          weight: str = "normal") -> str:
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" fill="{fill}" text-anchor="{anchor}" '
            f'font-weight="{weight}">{escape(text)}</text>')
