"""The checks every draft of `ltrl synth` meets, whichever writer wrote it.

- answer_in_page:        the answer occurs in the final page's text;
- answer_not_in_question: the question does not contain the answer;
- final_entity_hidden:   the question does not name the final entity;
- shortcut (optional):   searching the question itself does not put the final page first.
"""

from __future__ import annotations

from ltrl_cli.backends.base import Searcher, page_body, tokens
from ltrl_cli.synth.questions import Chain, contains, names_entity



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
