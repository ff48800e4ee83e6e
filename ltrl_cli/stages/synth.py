"""Questions from walks (method stage 1): a chain of linked pages becomes a multi-hop
question whose answer is an attribute of the last page, with the chain's entities kept
as the rubric (`gold_entities`).

A *writer* (`ltrl_cli.synth`: the LLM writer of `synth.prompt`, or the offline
`synth.template.TemplateWriter`) turns a chain into a draft (question, answer, gold
entities). Every draft then meets the same checks (`synth.checks`), each recorded in the
record's `synth.checks`.

The stage yields every record with `synth.accepted`; the command routes rejected ones to
`--rejects` and counts them by reason. Page lookups happen while the input is read and
searches after the answers come back, so the LLM calls are all that runs concurrently.
"""

from __future__ import annotations

from typing import Any, Iterable, Iterator

from ltrl_cli.backends.base import PageStore, Searcher, clip
from ltrl_cli.concurrency import bounded_map
from ltrl_cli.errors import BadInput
from ltrl_cli.llm.usage import record_scope
from ltrl_cli.synth.checks import run_checks
from ltrl_cli.synth.questions import Chain, ChainPage, Draft, SynthOptions, Writer, sentence_with


# ---------------------------------------------------------------- the stage


def synth(records: Iterable[dict], *, pages: PageStore, writer: Writer, searcher: Searcher | None = None,
          options: SynthOptions = SynthOptions()) -> Iterator[dict]:
    """Yield each walk record with `question`, `answer`, `gold_entities` and `synth` added.

    Every input record comes out once; `synth.accepted` says whether it passed the checks
    and, when not, `synth.reason` says why.
    """
    if options.shortcut_check and searcher is None:
        raise ValueError("shortcut_check needs a searcher")
    prepared = (prepare(record, pages, options) for record in records)

    async def write(item: tuple[dict, Chain | None, str | None]) -> tuple[dict, Chain | None, Draft]:
        record, chain, problem = item
        if chain is None:
            return record, None, Draft(problem=problem)
        with record_scope() as used:
            draft = await writer.write(chain)
        if used.roles:
            draft.notes["usage"] = used.as_dict()
        return record, chain, draft

    for record, chain, draft in bounded_map(write, prepared, concurrency=options.concurrency,
                                            keep_order=options.keep_order):
        yield finish(record, chain, draft, writer=writer, searcher=searcher, options=options)


def prepare(record: dict, pages: PageStore, options: SynthOptions) -> tuple[dict, Chain | None, str | None]:
    """Look up the pages of a walk; (record, chain, None) or (record, None, why not)."""
    path = record.get("path")
    if not isinstance(path, list) or len(path) < 2:
        return record, None, "short_path"
    chain_pages = []
    for number, hop in enumerate(path):
        if not isinstance(hop, dict) or "id" not in hop:
            raise BadInput(f"record {record.get('id')!r}: path[{number}] is not a page ({{\"id\", \"title\"}})")
        try:
            page = pages.page(str(hop["id"]))
        except KeyError:
            return record, None, "page_missing"
        title = hop.get("title") or page.get("wikipedia_title", "")
        evidence = _evidence(hop, options.evidence_chars) if number else None
        anchor = (hop.get("anchor") or {}).get("text") if number else None
        chain_pages.append(ChainPage(str(hop["id"]), title, page, evidence, anchor))
    return record, Chain(str(record.get("id", "")), chain_pages), None


def _evidence(hop: dict, limit: int) -> str | None:
    anchor = hop.get("anchor") or {}
    paragraph, text = anchor.get("paragraph") or "", anchor.get("text") or ""
    if not paragraph:
        return None
    return clip(sentence_with(paragraph, text), limit)


def finish(record: dict, chain: Chain | None, draft: Draft, *, writer: Writer, searcher: Searcher | None,
           options: SynthOptions) -> dict:
    """The output record: the draft, its checks, and the verdict."""
    info: dict[str, Any] = {"backend": writer.name, "model": writer.model}
    out = dict(record)
    if chain is not None:
        info["final_entity"] = chain.final.title
    if draft.problem is None and chain is not None:
        checks = run_checks(draft.question, draft.answer, chain, searcher, options)
        failed = [name for name, check in checks.items() if not check["passed"]]
        info["checks"] = checks
        draft.problem = failed[0] if failed else None
        out.update(question=draft.question, answer=draft.answer, gold_entities=draft.gold_entities)
    info["accepted"] = draft.problem is None
    if draft.problem is not None:
        info["reason"] = draft.problem
    info.update(attempts=draft.attempts, cached=draft.cached, **draft.notes)
    if options.keep_think and draft.reasoning:
        info["reasoning"] = draft.reasoning
    out["synth"] = info
    return out


__all__ = ["finish", "prepare", "synth"]
