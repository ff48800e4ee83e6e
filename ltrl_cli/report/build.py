"""Building a report: read every input into the Store (pass 1), then write each question's
row and detail as it comes out of the Store in id order (pass 2).

Peak memory is one input record plus one question's detail plus counters: it does not
grow with the number of questions. Output goes to a staging place and is put under its
name only when whole (`ltrl_cli.report.output`).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from ltrl_cli.errors import BadInput
from ltrl_cli.report.data import DOCS_PER_SHARD, Store, kind_of
from ltrl_cli.report.output import Output
from ltrl_cli.report.question import COLUMNS, Figures, build
from ltrl_cli.report.sections import SECTIONS, Section
from ltrl_cli.stages.stats import Stats as ContextStats
from ltrl_cli.stages.stats import compare

QUESTIONS_PER_SHARD = 16  # question details per file the page loads on demand


@dataclass
class Summary:
    questions: int
    contexts: int
    docs: int


def build_report(sources: Iterable[tuple[str, Iterable[dict], object]], out: Output, workdir: Path,
                 *, title: str, pages=None) -> Summary:
    """Read (name, records, reader Stats) triples and write the report through `out`.
    The reader's `line` names the line of a refused record. `pages` (an index: `.page(id)`)
    gives the texts of the pages a question names that none of its contexts holds."""
    store = Store(workdir / "store.sqlite")
    try:
        gathered = _read(store, sources)
        if not store.count() and not store.stats and not gathered.sections:
            raise BadInput("nothing to report: no records in the input")
        figures = _write_questions(store, out, pages)
        for shard, texts in store.doc_shards():
            out.shard("d", shard, {str(k): v for k, v in texts.items()})
        from ltrl_cli.report.page import overview

        meta = {"columns": COLUMNS, "docs_per_shard": DOCS_PER_SHARD, "title": title}
        out.finish(title=title, meta=meta, overview=overview(figures, _stats(store, gathered), gathered.sections))
        return Summary(figures.questions, gathered.contexts, store.db.execute("SELECT COUNT(*) FROM docs").fetchone()[0])
    finally:
        store.close()


class _Gathered:
    def __init__(self) -> None:
        self.contexts = 0
        self.by_strategy: dict[str, ContextStats] = defaultdict(ContextStats)
        self.sections: list[Section] = []


def _read(store: Store, sources: Iterable[tuple[str, Iterable[dict], object]]) -> _Gathered:
    gathered, offered = _Gathered(), [factory() for factory in SECTIONS]
    for name, records, reader in sources:
        for record in records:
            where = f"{name}: line {reader.line}"
            section = next((s for s in offered if s.claims(record)), None) if kind_of(record) is None else None
            if section is not None:
                section.add(record, where)
                if section not in gathered.sections:
                    gathered.sections.append(section)
                continue
            if store.add(record, where) == "training":
                gathered.contexts += 1
                meta = record["metadata"]
                # token shares and lengths from the documents' metadata only; the mention
                # rates need every text normalised (what `ltrl stats` does) and come from its output
                gathered.by_strategy[str(meta.get("strategy", "unknown"))].add(
                    record, [], [(d, None) for d in meta["docs"] if isinstance(d, dict)])
    return gathered


def _write_questions(store: Store, out: Output, pages) -> Figures:
    figures, batch, shard = Figures(), {}, 0
    for number, q in enumerate(store.questions()):
        shard = number // QUESTIONS_PER_SHARD
        if batch and number % QUESTIONS_PER_SHARD == 0:
            out.shard("q", shard - 1, batch)
            batch = {}
        row, detail, chain = build(q, shard, store.titles)
        if pages is not None:
            detail["texts"] = _texts_from_index(store, pages, detail)
        out.row(row)
        batch[q.id] = detail
        figures.add(dict(zip(COLUMNS, row)), q, chain)
    if batch:
        out.shard("q", shard, batch)
    return figures


def _texts_from_index(store: Store, pages, detail: dict) -> dict[str, int]:
    """{page: text key} for the chain's, the rollouts' opened and cited, and the gold and
    Tier-1 pages that no context of the question holds (a failed question has no
    context at all); Tier-2 pages and search hits are left out: hundreds per question."""
    in_contexts = {doc[0] for context in detail["contexts"] for doc in context["docs"]}
    wanted = [h["id"] for h in detail["path"]] + [p for r in detail["rollouts"] for p in r["opened"] + r["cited"]]
    wanted += [p for tier in ("gold", "tier1") for p in (detail["tiers"] or {}).get(tier, [])]
    found = {}
    for page in dict.fromkeys(wanted):
        if page not in in_contexts:
            key = store.page_text_key(page, lambda p: _body(pages, p))
            if key is not None:
                found[page] = key
    return found


def _body(pages, page_id: str) -> str | None:
    from ltrl_cli.backends.base import page_body

    try:
        return page_body(pages.page(page_id))
    except KeyError:
        return None


def _stats(store: Store, gathered: _Gathered) -> dict | None:
    """An `ltrl stats` object from the input (it has the mention rates), else the figures
    gathered from the training records' metadata, else None."""
    if store.stats:
        return store.stats[0]
    if not gathered.by_strategy:
        return None
    by_strategy = {name: s.result() for name, s in sorted(gathered.by_strategy.items())}
    result = {"by_strategy": by_strategy, "computed": True}
    comparison = compare(by_strategy)
    if comparison is not None:
        result["comparison"] = comparison
    return result
