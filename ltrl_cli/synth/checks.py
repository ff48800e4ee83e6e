"""The checks every draft of `ltrl synth` meets, whichever writer wrote it.

- answer_in_page:        the answer occurs in the final page's text;
- answer_not_in_question: the question does not contain the answer;
- final_entity_hidden:   the question does not name the final entity;
- shortcut (optional):   searching the question itself does not put the final page first;
- needs_chain (on when a searcher is given): no sentence of the question, and not the
                         question without its first sentence, puts a page of the chain past
                         the first among the top `chain_check_k` results: the chain can only
                         be entered where it starts.
"""

from __future__ import annotations

import re

from ltrl_cli.backends.base import Searcher, page_body, tokens
from ltrl_cli.synth.questions import Chain, SynthOptions, contains, names_entity



def run_checks(question: str, answer: str, chain: Chain, searcher: Searcher | None,
               options: SynthOptions = SynthOptions(shortcut_check=True)) -> dict[str, dict]:
    """Each check as `{"passed": bool, ...}` (see the module docstring)."""
    final = chain.final
    checks = {
        "answer_in_page": {"passed": contains(page_body(final.page), answer)},
        "answer_not_in_question": {"passed": not contains(question, answer)},
        "final_entity_hidden": {"passed": not names_entity(question, final.title)},
    }
    if searcher is not None and options.shortcut_check:
        hits = searcher.search(search_query(question), 1)
        top = hits[0] if hits else None
        checks["shortcut"] = {"passed": top is None or top.id != final.id, "top_hit": top.title if top else None}
    if searcher is not None and options.chain_check:
        checks["needs_chain"] = needs_chain(question, chain, searcher, options.chain_check_k)
    return checks


def needs_chain(question: str, chain: Chain, searcher: Searcher, k: int = 5) -> dict:
    """Search each sentence of the question but the first, and all of them together; fail
    when a page of the chain past the first comes back in the top `k`: the question could
    be entered there without its first clue. Records where (`entity`, `rank`, `query`).
    """
    sentences = question_sentences(question)
    queries = list(dict.fromkeys([" ".join(sentences[1:])] + sentences[1:]))
    later = {page.id: number for number, page in enumerate(chain.pages[1:], start=2)}
    results = searcher.batch_search([search_query(q) for q in queries if q], k) if later else []
    for number, hits in enumerate(results):
        for rank, hit in enumerate(hits, start=1):
            if hit.id in later:
                where = "the question without its first sentence" if number == 0 else f"sentence {number + 1}"
                return {"passed": False, "entity": f"E{later[hit.id]}", "title": hit.title, "rank": rank,
                        "query": where}
    return {"passed": True, "searches": len(results), "k": k}


_PIECE_END = re.compile(r'(?<=[.!?…])"?\s+')


def question_sentences(question: str) -> list[str]:
    """The question cut after each sentence end, a closing quote kept with its sentence.

    >>> question_sentences('[E1] is a town. It says: "A met [E2]. Twice." When was [E2] founded?')
    ['[E1] is a town.', 'It says: "A met [E2]. Twice."', 'When was [E2] founded?']
    """
    pieces, start = [], 0
    for match in _PIECE_END.finditer(question):
        end = match.start() + (1 if question[match.start()] == '"' else 0)
        if question.count('"', start, end) % 2 == 0:  # not inside a quotation
            pieces.append(question[start:end].strip())
            start = match.end()
    pieces.append(question[start:].strip())
    return [p for p in pieces if p]


MAX_QUERY_TERMS = 1000  # Lucene refuses a query of more than 1024 clauses (one per distinct term)


def search_query(question: str) -> str:
    """The question as a search query: its distinct words, first MAX_QUERY_TERMS of them.

    >>> search_query("Who? Who wrote it, and who read it?")
    'who wrote it and read'
    """
    return " ".join(list(dict.fromkeys(tokens(question)))[:MAX_QUERY_TERMS])
