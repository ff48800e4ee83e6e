"""The report's HTML: a list of questions on the left, one question (or the dataset) on the
right. Every section is written into the page; CSS shows the one the address names
(`#q-ID`), so the page works without script and the browser only lays out what is shown.
A few lines of script filter the list as one types."""

from __future__ import annotations

from html import escape

from ltrl_cli.report import assets, charts
from ltrl_cli.report.data import Dataset, Question

MAX_HITS = 10  # search results listed per step


def render(data: Dataset, stats: dict | None, title: str) -> str:
    questions = sorted(data.questions.values(), key=lambda q: q.id)
    body = [_overview(data, stats)] + [_question(q, data) for q in questions]
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{escape(title)}</title><style>{assets.CSS}</style></head><body>"
            f'<nav id="side"><h1><a href="#overview">{escape(title)}</a></h1>'
            f'<input id="find" type="search" placeholder="Find by id or word" aria-label="Find a question">'
            f'<p id="count">{len(questions)} questions</p><ol id="list">{"".join(_item(q, data) for q in questions)}</ol>'
            f'</nav><main>{"".join(body)}</main><script>{assets.JS}</script></body></html>')


def _item(q: Question, data: Dataset) -> str:
    words = " ".join([q.id, q.text, q.answer] + [str(h.get("title", "")) for h in q.record.get("path") or []
                                                 if isinstance(h, dict)])
    mark = {True: '<span class="ok">✓</span>', False: '<span class="no">✗</span>', None: ""}[q.solved]
    return (f'<li data-text="{escape(words.lower())}"><a href="#q-{escape(q.id)}">{mark}<b>{escape(q.id)}</b> '
            f"{escape(_short(q.text, 90))}</a></li>")


def _overview(data: Dataset, stats: dict | None) -> str:
    questions = list(data.questions.values())
    solved = sum(q.solved is True for q in questions)
    tried = sum(q.solved is not None for q in questions)
    contexts = sum(len(q.contexts) for q in questions)
    parts = [f'<section id="overview" class="view"><h2>Dataset</h2><p>{len(questions)} questions; '
             f"{solved} of {tried} with rollouts solved by at least one rollout; {contexts} contexts.</p>"]
    if stats:
        by_strategy = stats.get("by_strategy") or {"all": stats}
        parts.append("<h3>What the contexts are made of</h3>" + charts.token_share_bars(by_strategy))
        parts.append("<h3>How confusable the documents are</h3>" + charts.mention_bars(by_strategy))
        parts.append(_stats_table(by_strategy))
        if stats.get("comparison"):
            parts.append(_comparison(stats["comparison"]))
    parts.append(_legend() + "</section>")
    return "".join(parts)


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


def _question(q: Question, data: Dataset) -> str:
    r = q.record
    head = (f'<section id="q-{escape(q.id)}" class="view"><h2>{escape(q.id)}</h2>'
            f'<p class="question">{escape(q.text)}</p><p><b>Answer:</b> {escape(q.answer)}</p>')
    parts = [head, _synth(r.get("synth")), _chain(r.get("path"), r.get("gold_entities"))]
    if r.get("rollouts"):
        parts.append(f"<h3>Rollouts ({len(r['rollouts'])})</h3>")
        parts += [_rollout(i, rollout, data) for i, rollout in enumerate(r["rollouts"], start=1)]
    if isinstance(r.get("tiers"), dict):
        parts.append(_tiers(r["tiers"], data))
    for strategy, record in q.contexts.items():
        parts.append(_context(strategy, record))
    return "".join(parts) + "</section>"


def _synth(info: dict | None) -> str:
    if not isinstance(info, dict):
        return ""
    checks = info.get("checks") or {}
    shown = ", ".join(f"{escape(name)} {'passed' if c.get('passed') else 'FAILED'}" for name, c in checks.items()
                      if isinstance(c, dict))
    verdict = "accepted" if info.get("accepted") else f"rejected ({escape(str(info.get('reason')))})"
    return f'<p class="meta">Written by {escape(str(info.get("model", "")))}: {verdict}. Checks: {shown or "none"}.</p>'


def _chain(path: list | None, gold: list | None) -> str:
    if not path:
        return ""
    items = []
    for number, hop in enumerate(path, start=1):
        hop = hop if isinstance(hop, dict) else {}
        anchor = hop.get("anchor") or {}
        evidence = _highlight(str(anchor.get("paragraph", "")), str(anchor.get("text", ""))) if anchor else ""
        via = f'<div class="evidence">linked from E{number - 1} by “{evidence}”</div>' if evidence else ""
        items.append(f"<li><b>E{number}</b> {escape(str(hop.get('title', '')))} "
                     f'<span class="id">[{escape(str(hop.get("id", "")))}]</span>{via}</li>')
    rubric = f'<p class="meta">Rubric (gold entities): {escape(", ".join(map(str, gold)))}</p>' if gold else ""
    return f'<h3>Chain ({len(path)} pages)</h3><ol class="chain">{"".join(items)}</ol>{rubric}'


def _rollout(number: int, rollout: dict, data: Dataset) -> str:
    verdict = {True: '<span class="ok">correct</span>', False: '<span class="no">wrong</span>'}.get(
        rollout.get("correct"), '<span class="meta">not judged</span>')
    summary = (f"Rollout {number}: {verdict}, answer “{escape(str(rollout.get('answer')))}”; "
               f"{rollout.get('turns', '?')} turns, {len(rollout.get('seen') or [])} seen, "
               f"{len(rollout.get('opened') or [])} opened, {len(rollout.get('cited') or [])} cited; "
               f"stop: {escape(str(rollout.get('stop')))}")
    rows = "".join(_step(step, data) for step in rollout.get("steps") or [] if isinstance(step, dict))
    return (f"<details><summary>{summary}</summary><table class=\"steps\"><thead><tr><th>turn</th><th>action</th>"
            f"<th>argument</th><th>result</th></tr></thead><tbody>{rows}</tbody></table></details>")


def _step(step: dict, data: Dataset) -> str:
    action, args = str(step.get("action", "")), step.get("arguments") or {}
    args = args if isinstance(args, dict) else {"": args}
    argument = args.get("query") or args.get("id") or args.get("ids") or args.get("text") or ""
    ids = [str(i) for i in step.get("result_ids") or []]
    if action == "search":
        result = ", ".join(_page(i, data) for i in ids[:MAX_HITS]) + (" …" if len(ids) > MAX_HITS else "")
        result = result or "no results"
    else:
        result = ", ".join(_page(i, data) for i in ids)
    if step.get("error"):
        result = f'<span class="no">error: {escape(str(step["error"]))}</span>'
    return (f'<tr class="{escape(action)}"><td>{escape(str(step.get("turn", "")))}</td><td>{escape(action)}</td>'
            f"<td>{escape(str(argument))}</td><td>{result}</td></tr>")


def _tiers(tiers: dict, data: Dataset) -> str:
    parts = [f"<h3>Tiers{'' if tiers.get('solved', True) else ' (from unsolved rollouts)'}</h3><dl class=tiers>"]
    for tier in ("gold", "tier1", "tier2"):
        ids = [str(i) for i in tiers.get(tier) or []]
        parts.append(f"<dt>{_swatch(tier)}{tier} ({len(ids)})</dt><dd>{', '.join(_page(i, data) for i in ids)}</dd>")
    return "".join(parts) + "</dl>"


def _context(strategy: str, record: dict) -> str:
    meta = record.get("metadata") or {}
    docs = [d for d in meta.get("docs") or [] if isinstance(d, dict)]
    total = sum(int(d.get("tokens") or 0) for d in docs) or 1
    by_tier: dict[str, int] = {}
    blocks = []
    for number, doc in enumerate(docs, start=1):
        tier, tokens = str(doc.get("tier", "unknown")), int(doc.get("tokens") or 0)
        by_tier[tier] = by_tier.get(tier, 0) + tokens
        label = (f"Document {number}: {doc.get('title', '')} [{doc.get('id', '')}] — {tier}, {tokens:,} tokens"
                 + (", cut" if doc.get("truncated") else ""))
        blocks.append(f'<span class="doc t-{escape(tier)}" style="flex-grow:{tokens}" title="{escape(label)}"></span>')
    shares = " · ".join(f"{_swatch(t)}{escape(t)} {n:,} tokens ({100 * n / total:.1f}%)" for t, n in by_tier.items())
    return (f"<h3>Context: {escape(strategy)}, {meta.get('tokens', 0):,} tokens, {len(docs)} documents</h3>"
            f'<div class="strip">{"".join(blocks)}</div><p class="meta">{shares}</p>')


def _page(page_id: str, data: Dataset) -> str:
    title = data.title(page_id)
    return f"{escape(title)} <span class=id>[{escape(page_id)}]</span>" if title else \
        f"<span class=id>[{escape(page_id)}]</span>"


def _highlight(paragraph: str, anchor: str) -> str:
    start = paragraph.find(anchor) if anchor else -1
    if start < 0:
        return escape(_short(paragraph, 300))
    lo, hi = max(0, start - 150), min(len(paragraph), start + len(anchor) + 150)
    return (("…" if lo else "") + escape(paragraph[lo:start]) + f"<mark>{escape(anchor)}</mark>"
            + escape(paragraph[start + len(anchor):hi]) + ("…" if hi < len(paragraph) else ""))


def _legend() -> str:
    return '<p class="meta">Colours: ' + " ".join(f"{_swatch(t)}{t}" for t in charts.TIER_COLOURS) + "</p>"


def _swatch(tier: str) -> str:
    return f'<i class="sw t-{escape(tier)}"></i>'


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _short(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
