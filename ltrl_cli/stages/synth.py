"""Questions from walks (method stage 1): a chain of linked pages becomes a multi-hop
question whose answer is an attribute of the last page, with the chain's entities kept
as the rubric (`gold_entities`).

A *writer* turns a chain into a draft (question, answer, gold entities): `LLMWriter`
prompts any LLM backend for JSON and repairs or re-asks once when the JSON is broken;
`ltrl_cli.synth.template.TemplateWriter` builds one offline. Every draft then meets the
same checks, each recorded in `synth.checks`:

- answer_in_page:        the answer occurs in the final page's text;
- answer_not_in_question: the question does not contain the answer;
- final_entity_hidden:   the question does not name the final entity;
- shortcut (optional):   searching the question itself does not put the final page first.

The stage yields every record with `synth.accepted`; the command routes rejected ones to
`--rejects` and counts them by reason. Page lookups happen while the input is read and
searches after the answers come back, so the LLM calls are all that runs concurrently.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Iterator

from ltrl_cli.backends.base import PageStore, Searcher, clip, page_body, tokens
from ltrl_cli.errors import BadInput
from ltrl_cli.llm.base import ChatRequest, RequestRejected
from ltrl_cli.synth.questions import (Chain, ChainPage, Draft, Writer, contains, names_entity,
                                    sentence_with)
from ltrl_cli.concurrency import bounded_map
from ltrl_cli.llm.text import parse_json_object
from ltrl_cli.reward.rules import normalize


@dataclass(frozen=True)
class SynthOptions:
    """How questions are written and checked.

    Attributes:
        temperature, max_tokens: sampling for the LLM writer.
        page_chars: the final page's text is cut to this many characters in the prompt.
        evidence_chars: each hop's evidence sentence is cut to this many characters.
        shortcut_check: run the search check (needs a Searcher).
        keep_think: keep the model's reasoning in `synth.reasoning`.
        concurrency, keep_order: as in bounded_map.
    """

    temperature: float = 0.7
    max_tokens: int | None = None
    page_chars: int = 8000
    evidence_chars: int = 400
    shortcut_check: bool = False
    keep_think: bool = False
    concurrency: int = 16
    keep_order: bool = True


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
        return record, chain, await writer.write(chain)

    for record, chain, draft in bounded_map(write, prepared, concurrency=options.concurrency,
                                            keep_order=options.keep_order):
        yield finish(record, chain, draft, writer=writer, searcher=searcher if options.shortcut_check else None,
                     options=options)


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
        chain_pages.append(ChainPage(str(hop["id"]), title, page, evidence))
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
        checks = run_checks(draft.question, draft.answer, chain, searcher)
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


# ---------------------------------------------------------------- checks


def run_checks(question: str, answer: str, chain: Chain, searcher: Searcher | None) -> dict[str, dict]:
    """Each check as `{"passed": bool, ...}` (see the module docstring)."""
    final = chain.final
    checks = {
        "answer_in_page": {"passed": contains(page_body(final.page), answer)},
        "answer_not_in_question": {"passed": not contains(question, answer)},
        "final_entity_hidden": {"passed": not names_entity(question, final.title)},
    }
    if searcher is not None:
        hits = searcher.search(search_query(question), 1)
        top = hits[0] if hits else None
        checks["shortcut"] = {"passed": top is None or top.id != final.id, "top_hit": top.title if top else None}
    return checks


MAX_QUERY_TERMS = 1000  # Lucene refuses a query of more than 1024 clauses (one per distinct term)


def search_query(question: str) -> str:
    """The question as a search query: its distinct words, first MAX_QUERY_TERMS of them.

    >>> search_query("Who? Who wrote it, and who read it?")
    'who wrote it and read'
    """
    return " ".join(list(dict.fromkeys(tokens(question)))[:MAX_QUERY_TERMS])


# ---------------------------------------------------------------- the LLM writer

SYSTEM_PROMPT = "You write hard multi-hop questions for training reading and search agents. You answer in JSON."

PROMPT = """Below is a chain of {n} encyclopedia pages; each page links to the next. For each link you get \
the sentence of the earlier page where the link appears. Then you get the text of the final page.

Write ONE question that:
- can only be answered by following the whole chain, from the first page to the final page;
- refers to every entity of the chain indirectly, through what the sentences say about it, never by its name;
- does not name the final entity;
- asks for a short attribute of the final entity (a date, a place, a number or a name) that its page states \
word for word, so that the answer is unique and checkable;
- does not contain the answer.

Chain:
{chain}

Final page: {final}
{text}

Reply with a JSON object only, no other text:
{{"question": "...", "answer": "<the attribute, copied from the final page>", \
"gold_entities": ["<title of each chain entity the question passes through, in chain order>"]}}"""

RETRY_PROMPT = ("That was not a JSON object with the keys question, answer and gold_entities. "
                "Reply with the JSON object only.")


def build_prompt(chain: Chain, options: SynthOptions) -> str:
    """The user message for one chain (pure: the same chain gives the same prompt)."""
    lines = []
    for number, page in enumerate(chain.pages, start=1):
        if number == 1:
            lines.append(f"{number}. {page.title}")
            continue
        previous = chain.pages[number - 2].title
        how = f'linked from {previous}: "{page.evidence}"' if page.evidence else f"linked from {previous}"
        lines.append(f"{number}. {page.title} ({how})")
    text = clip(page_body(chain.final.page), options.page_chars)
    return PROMPT.format(n=len(chain.pages), chain="\n".join(lines), final=chain.final.title, text=text)


class LLMWriter:
    """Drafts with an LLM: one request per chain, one more when the JSON cannot be read."""

    def __init__(self, llm: Any, options: SynthOptions):
        self.llm = llm
        self.name = llm.name
        self.model = llm.model
        self.options = options

    async def write(self, chain: Chain) -> Draft:
        messages = [{"role": "system", "content": SYSTEM_PROMPT},
                    {"role": "user", "content": build_prompt(chain, self.options)}]
        cached = True
        for attempt in (1, 2):
            request = ChatRequest(messages, temperature=self.options.temperature, max_tokens=self.options.max_tokens,
                                  cache_key=(chain.record_id, "synth", attempt))
            try:
                response = await self.llm.chat(request)
            except RequestRejected as exc:  # this prompt only (too long, filtered): reject the walk
                return Draft(problem="request_rejected", attempts=attempt, notes={"error": exc.message})
            cached = cached and response.cached
            draft = read_draft(response.content, chain)
            draft.attempts, draft.cached, draft.reasoning = attempt, cached, response.reasoning
            if draft.problem is None:
                return draft
            messages = messages + [{"role": "assistant", "content": response.content},
                                   {"role": "user", "content": RETRY_PROMPT}]
        return draft


def read_draft(content: str, chain: Chain) -> Draft:
    """Parse the model's JSON (repairing what can be repaired) into a Draft."""
    data = parse_json_object(content)
    if not data or not isinstance(data.get("question"), str) or not _scalar(data.get("answer")):
        return Draft(problem="unparseable")
    question, answer = data["question"].strip(), str(data["answer"]).strip()
    if not question or not answer:
        return Draft(problem="unparseable")
    gold, source = gold_from_model(data.get("gold_entities"), chain)
    return Draft(question=question, answer=answer, gold_entities=gold, notes={"gold_source": source})


def _scalar(value: Any) -> bool:
    return isinstance(value, (str, int, float)) and not isinstance(value, bool)


def gold_from_model(named: Any, chain: Chain) -> tuple[list[str], str]:
    """The model's gold entities, kept only where they are chain entities before the final one.

    Falls back to the whole chain before the final page when the model named none of them.
    """
    candidates = {normalize(t): t for t in chain.titles[:-1]}
    picked: list[str] = []
    for name in named if isinstance(named, list) else []:
        title = candidates.get(normalize(str(name)))
        if title is not None and title not in picked:
            picked.append(title)
    if not picked:
        return list(dict.fromkeys(chain.titles[:-1])), "chain"
    order = {t: i for i, t in enumerate(chain.titles)}
    return sorted(picked, key=order.__getitem__), "model"


__all__ = ["LLMWriter", "SynthOptions", "build_prompt", "finish", "prepare", "read_draft", "run_checks",
           "search_query", "synth"]
