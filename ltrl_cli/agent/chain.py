"""How the lexical policy follows a chain question, one hop at a time, as a search agent does.

A chain question (see `clues`) describes its first entity and then only relations: each
later entity is the one the previous page names in a quoted sentence. So the policy works
as a depth-first search over *leads*:

- the first lead is the description of [E1]: several searches with its words, then it
  opens the results it cannot rule out from their titles and snippets (those that share
  enough of the description) and reads each;
- a page that fits its lead (the description, or the name that led to it) and holds the
  lead's quoted sentence, with the masks filled consistently, is taken as that entity;
  the words filling the next mask are names, each a new lead one hop further on;
- a name lead is searched twice (the name; the name with words of the sentence its page
  should hold), and every result titled with that name is a candidate: a surname names
  several people, so it opens namesakes until one fits;
- a lead whose candidates are all read without a fit is dropped and the search goes back
  to the one before (another filling, another candidate);
- the last entity fits when it has the attribute asked for (or the cloze's sentence); the
  answer is that value, and the pages cited are the chain that led to it, nothing else.

Every page opened along the way and not cited is what the method calls a Tier-1 document;
every result never opened, Tier-2. State lives in the policy's notes (`notes["c"]`).
"""

from __future__ import annotations

import random
import re
from typing import Any

from ltrl_cli.agent.clues import Clue, Reading, best_attribute, fill_all, question_terms, same_name
from ltrl_cli.backends.base import tokens

FIRST_OPENS = 5  # candidates read for the description of [E1]
NAME_OPENS = 6  # namesakes read for one name
NAME_RESULTS = 10  # results asked for when searching a name (a surname is shared)
FITS = 0.6  # share of a description's words a result's title and snippet must show to be opened
DESCRIBED = 0.85  # share of them the page itself must hold (a template's description is its lead)
_MASKS = re.compile(r"\[E\d+\]|\[\.\.\.\]|_{3,}")


def clues_by_number(reading: Reading) -> dict[int, Clue]:
    clues = {c.number: c for c in reading.clues}
    if reading.cloze is not None:
        clues[reading.cloze.number] = reading.cloze
    return clues


def description_terms(clue: Clue | None) -> list[str]:
    return question_terms(_MASKS.sub(" ", clue.description)) if clue is not None else []


def quote_terms(clue: Clue | None) -> list[str]:
    return question_terms(_MASKS.sub(" ", clue.quote or "")) if clue is not None else []


def start(reading: Reading, rng: random.Random | None) -> dict[str, Any]:
    """The chain state with its first lead: [E1] by its description (or, without one, its quote)."""
    first = min(clues_by_number(reading).values(), key=lambda c: c.number)
    described, quoted = description_terms(first), quote_terms(first)
    queries = [" ".join(described + quoted), " ".join(described), " ".join(_key_words(described))]
    queries = [q for q in dict.fromkeys(queries) if q] or [" ".join(quoted) or "?"]
    if rng is not None:  # each rollout words its first searches in its own order
        rng.shuffle(queries)
    lead = {"k": first.number, "name": None, "from": None, "q": queries, "c": {}, "n": 0}
    return {"leads": [lead], "ok": {}, "more": [], "answer": None, "trying": None}


def _key_words(terms: list[str]) -> list[str]:
    """The rarer-looking words of a description: long words and numbers (names, years)."""
    return [t for t in terms if len(t) >= 7 or t.isdigit()][:6]


def decide(state: dict, plan: dict, opened: set[str]) -> tuple[str, dict[str, Any]] | None:
    """The next search or open, or None when the chain is answered or every lead is spent."""
    if state["answer"] is not None:
        return None
    if state["more"]:  # the rest of a long page whose first part fitted
        pid, page, lead = state["more"].pop(0)
        state["trying"] = [pid, lead]
        return "open", {"id": pid, "page": page}
    while state["leads"]:
        lead = state["leads"][-1]
        if lead["q"]:
            query = lead["q"].pop(0)
            state["trying"] = None
            return "search", {"query": query} if lead["name"] is None else {"query": query, "k": NAME_RESULTS}
        limit = FIRST_OPENS if lead["name"] is None else NAME_OPENS
        ranked = sorted((pid for pid in lead["c"] if pid not in opened),
                        key=lambda pid: -lead["c"][pid] - _jitter(pid, plan["jitter"]))
        if ranked and lead["n"] < limit:
            lead["n"] += 1
            state["trying"] = [ranked[0], len(state["leads"]) - 1]
            return "open", {"id": ranked[0]}
        state["leads"].pop()  # spent: back to the lead before
    return None


def _jitter(pid: str, jitter: float | None) -> float:
    # A rollout's own small, stable reordering of equally good candidates.
    return 0.0 if jitter is None else random.Random(f"{jitter}:{pid}").random()


def absorb_search(state: dict, plan: dict, hits: list[tuple[str, str, str]]) -> None:
    """Candidates for the current lead from a result list: (id, title, snippet) per hit."""
    if not state["leads"]:
        return
    lead = state["leads"][-1]
    clue = clues_by_number(plan["reading"]).get(lead["k"])
    if lead["name"] is not None:
        # Namesakes all carry the name; the one whose snippet shows the sentence its page
        # should hold goes first.
        anchor, wanted = (clue.anchor if clue else ""), set(quote_terms(clue))
        for rank, (pid, title, snippet) in enumerate(hits):
            if same_name(title, lead["name"]):
                shown = set(tokens(snippet))
                score = 0.5 / (rank + 1) + (anchor != "" and anchor in snippet.lower()) + 0.2 * len(wanted & shown)
                lead["c"][pid] = max(lead["c"].get(pid, 0.0), round(score, 3))
        return
    wanted = set(description_terms(clue)) or set(quote_terms(clue))
    for rank, (pid, title, snippet) in enumerate(hits):
        share = len(wanted & set(tokens(f"{title} {snippet}"))) / max(1, len(wanted))
        if share >= FITS:  # below that the snippet rules it out
            lead["c"][pid] = max(lead["c"].get(pid, 0.0), round(share + 0.1 / (rank + 1), 3))


def absorb_page(state: dict, plan: dict, pid: str, title: str, body: list[str], where: tuple[int, int],
                keys: list[str], kind: str | None) -> None:
    """Does the page fit the lead it was opened for? If so, follow its names (or answer)."""
    if not state["trying"] or state["trying"][0] != pid or state["trying"][1] >= len(state["leads"]):
        return
    lead = state["leads"][state["trying"][1]]
    reading, k = plan["reading"], lead["k"]
    clue = clues_by_number(reading).get(k)
    if lead["name"] is None and description_terms(clue):
        words = set(tokens(" ".join(body)))
        terms = description_terms(clue)
        if len(set(terms) & words) / len(terms) < DESCRIBED:
            return
    if k == reading.target:
        _final(state, pid, lead, clue, body, keys, kind)
        return
    fillings = [f for f in fill_all(clue, body) if _own_filler(f.get(str(k)), title)] if clue else []
    if not fillings:
        if clue is not None and clue.pattern is not None and where[0] < where[1]:
            state["more"].append([pid, where[0] + 1, state["trying"][1]])
        return
    state["ok"][pid] = [k, lead["from"]]
    names = list(dict.fromkeys(f[str(k + 1)] for f in fillings if f.get(str(k + 1))))
    for name in reversed(names):  # the first filling on the page is followed first
        state["leads"].append({"k": k + 1, "name": name, "from": pid, "q": _name_queries(name, plan, k + 1),
                               "c": {}, "n": 0})


def _own_filler(filler: str | None, title: str) -> bool:
    """The words standing where the page names itself must be its title, a word of it, or
    how pages refer to themselves ("the river")."""
    if filler is None:
        return True
    filler = filler.strip()
    return same_name(title, filler) or filler.lower().startswith("the ") or filler.lower() in title.lower()


def _name_queries(name: str, plan: dict, k: int) -> list[str]:
    """Two searches for a name: alone, and with words its own page should hold."""
    reading = plan["reading"]
    if k == reading.target:
        extra = plan["keys"][:2]
    else:
        extra = quote_terms(clues_by_number(reading).get(k))[:4]
    queries = [name, " ".join([name, *extra])]
    return list(dict.fromkeys(q for q in queries if q.strip()))


def _final(state: dict, pid: str, lead: dict, clue: Clue | None, body: list[str], keys: list[str],
           kind: str | None) -> None:
    if clue is not None and clue.pattern is not None and "blank" in (clue.fills or []):
        blanks = [f["blank"] for f in fill_all(clue, body) if f.get("blank")]
        answer = blanks[0] if blanks else None
    else:
        attribute = best_attribute(body, keys, kind)
        answer = attribute[1] if attribute and (attribute[2] >= 2 or not keys) else None
    if answer is not None:
        state["ok"][pid] = [lead["k"], lead["from"]]
        state["answer"] = [answer, pid]


def finish(state: dict) -> dict[str, Any] | None:
    """Cite the chain that leads to the answer's page and answer; None when there is none."""
    if state["answer"] is None:
        return None
    answer, pid = state["answer"]
    chain = []
    while pid is not None and pid not in chain:
        chain.append(pid)
        pid = state["ok"].get(pid, [0, None])[1]
    return {"ids": list(reversed(chain)), "text": answer}
