"""Inline SVG charts for the report's dataset view (no script, no network)."""

from __future__ import annotations

from html import escape

TIER_COLOURS = {"gold": "#d4a017", "tier1": "#c0392b", "tier2": "#e67e22", "search": "#8e44ad",
                "random": "#95a5a6", "unknown": "#7f8c8d"}
_STRATEGY_COLOURS = ["#2c7fb8", "#95a5a6", "#41ab5d", "#8e44ad"]


def colour(tier: str) -> str:
    return TIER_COLOURS.get(tier, TIER_COLOURS["unknown"])


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
                out.append(_text(x + 3, y + 17, f"{100 * row['token_share']:.0f}%", fill="#fff"))
            x += w
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


def _text(x: float, y: float, text: str, *, size: int = 12, fill: str = "#222") -> str:
    return f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" fill="{fill}">{escape(text)}</text>'
