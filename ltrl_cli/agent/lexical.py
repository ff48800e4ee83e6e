"""The offline search policy (`--backend lexical`): a stand-in for a model, not an LLM.

It plays the agent's part through the same loop, protocol and tools as a real model: it
receives the chat messages (system prompt, the question, observations) and replies with
actions, as text tags or tool calls. So it sees exactly what a model would see, and never
the gold chain or the answer, which the stage does not put in the messages.

What it does:
- a chain question (`[E1] ... [E8]'s page says: "..." When did [E9] die?`, see `clues`):
  search with the words of the clue nearest the answer, open the best results, and when a
  page holds the clue's quoted sentence (masks as wildcards) and fits its description, take
  the words that fill the next mask as the next entity's name; search that name, open the
  page with that title, and so on to the last entity, whose attribute line (or the blank of
  a cloze) is the answer;
- any other question: search with pieces of it (names, windows of content words, all of
  them), open the results that share most words with it, and answer with the attribute line
  (`Born: 14 March 1879`) that fits what is asked (when, how many, where...) on the page
  that holds most of the question's words;
- cite the pages it identified (or the best-supported ones) and answer.

It keeps its working notes in its own replies (`<notes>{json}</notes>`, outside any action
tag), as a model keeps its reasoning, so the trimming of old observations costs it nothing.
Randomness (query order, ties, how many pages to read) comes from the request's seed, so
K rollouts differ while a rerun is identical.
"""

from __future__ import annotations

import json
import random
import re
from typing import Any

from ltrl_cli.agent.clues import (Reading, answer_kind, asked_keys, best_attribute, fill_all, queries_for,
                                   question_terms, read_question, same_name)
from ltrl_cli.backends.base import tokens
from ltrl_cli.llm.base import ChatRequest, ChatResponse

NAME = "lexical"
MODEL = "lexical (offline search policy, not an LLM)"

_HIT = re.compile(r"^\[id: (?P<id>[^\]]+)\] (?P<title>.*?)(?: \(page (?P<page>\d+) of (?P<pages>\d+)\))?$")
_NOTES = re.compile(r"<notes>(.*?)</notes>", re.DOTALL)
_TURNS = re.compile(r"at most (\d+) turns")
_MASKS = re.compile(r"\[E\d+\]|\[\.\.\.\]|_{3,}")


class LexicalAgent:
    """An LLM stand-in that searches, reads and answers by word overlap (see module doc)."""

    name = NAME
    model = MODEL

    def __init__(self, *, max_searches: int = 4, max_opens: int = 6):
        self.max_searches = max_searches
        self.max_opens = max_opens

    async def chat(self, request: ChatRequest) -> ChatResponse:
        messages = request.messages
        plan = self._plan(messages, request)
        notes = _last_notes(messages) or {"q": 0, "ranked": {}, "titles": {}, "opened": [], "found": {},
                                          "failed": [], "last": None, "names": {}, "ident": {}, "asked": [],
                                          "origin": {}, "searching": None, "rejected": []}
        _absorb(notes, plan, messages)
        action, args = self._decide(notes, plan, messages)
        notes["last"] = action
        _prune(notes)
        return _reply(notes, action, args, tools=bool(request.tools))

    def _plan(self, messages: list[dict], request: ChatRequest) -> dict[str, Any]:
        """What the question and the seed decide (recomputed each turn, so the notes stay small)."""
        question = _question(messages)
        rng = random.Random(request.seed) if request.temperature > 0 and request.seed is not None else None
        turns = _TURNS.search(messages[0].get("content", "")) if messages else None
        reading = read_question(question)
        chain = reading.target is not None and bool(reading.clues or reading.cloze)
        return {
            "terms": question_terms(question), "keys": asked_keys(reading.ask if chain else question),
            "kind": answer_kind(reading.ask if chain else question),
            "queries": clue_queries(reading, rng) if chain else queries_for(question, rng, self.max_searches),
            "reading": reading if chain else None, "max_turns": int(turns.group(1)) if turns else 16,
            "opens": self.max_opens - (rng.randint(0, 2) if rng else 0),
            "jitter": rng.random() if rng else None,
        }

    def _decide(self, notes: dict, plan: dict, messages: list[dict]) -> tuple[str, dict[str, Any]]:
        turns_left = plan["max_turns"] - sum(m["role"] == "assistant" for m in messages)
        if turns_left <= 1:
            return "finish", finish(notes, plan)
        if plan["reading"] is not None:
            return _decide_chain(notes, plan)
        if _confident(notes):
            return "finish", finish(notes, plan)
        queries_left = notes["q"] < len(plan["queries"])
        unopened = _unopened(notes, plan["jitter"])
        if queries_left and (not unopened or len(notes["opened"]) >= 2 * notes["q"]):
            return _search_next(notes, plan)
        if unopened and len(notes["opened"]) < plan["opens"]:
            return _open(notes, unopened[0])
        if queries_left:
            return _search_next(notes, plan)
        return "finish", finish(notes, plan)


def _search_next(notes: dict, plan: dict) -> tuple[str, dict[str, Any]]:
    label, query = plan["queries"][notes["q"]]
    notes["q"] += 1
    notes["searching"] = label
    return "search", {"query": query}


def _open(notes: dict, page_id: str) -> tuple[str, dict[str, Any]]:
    notes["trying"] = page_id
    return "open", {"id": page_id}


# ---------------------------------------------------------------- following a chain question

PER_CLUE_OPENS = 3


def clue_queries(reading: Reading, rng: random.Random | None) -> list[list[str]]:
    """One query per clue, from the end of the chain back: [label, query] pairs."""
    queries = []
    if reading.cloze is not None:  # the final page's own sentence: the best clue there is
        words = question_terms(_MASKS.sub(" ", reading.cloze.quote or ""))
        queries.append(["cloze", " ".join(words[:24])])
    for clue in reversed(reading.clues):
        words = question_terms(_MASKS.sub(" ", f"{clue.description} {clue.quote or ''}"))
        if words:
            queries.append([f"clue:{clue.number}", " ".join(words)])
    if rng is not None and len(queries) > 2:
        # Some rollouts start a hop or two further back: another way in, and a second
        # reading of a clue whose description fits several pages.
        offset, head = rng.choices([0, 1, 2], weights=[5, 3, 2])[0], int(reading.cloze is not None)
        queries = queries[:head] + queries[head + offset :] + queries[head : head + offset]
    return queries


def _decide_chain(notes: dict, plan: dict) -> tuple[str, dict[str, Any]]:
    """Walk forward from the furthest entity whose name is known; find one by its clue if none is."""
    _identify_read(notes, plan)
    reading, names, ident = plan["reading"], notes["names"], notes["ident"]
    read = set(ident.values())
    if str(reading.target) in read or "blank" in names:
        return "finish", finish(notes, plan)
    more = [item for item in notes.pop("more", []) if item[0] not in ident]
    if more:
        notes["more"] = more[1:]
        notes["trying"] = more[0][0]
        return "open", {"id": more[0][0], "page": more[0][1]}
    for label in sorted((k for k in names if k.isdigit()), key=int, reverse=True):
        if label in read:
            continue
        for name in _candidates(notes, label):  # a page may have offered several
            hit = next((p for p in _unopened(notes, None) if same_name(notes["titles"].get(p, ""), name)), None)
            if hit:
                return _open(notes, hit)
            if name not in notes["asked"]:
                notes["asked"].append(name)
                notes["searching"] = f"name:{label}"
                return "search", {"query": name}
    tag = notes["searching"]
    tried = sum(1 for pid in notes["opened"] + notes["failed"] if notes["origin"].get(pid) == tag)
    candidates = [pid for pid in _unopened(notes, plan["jitter"]) if notes["origin"].get(pid) == tag]
    if candidates and tried < PER_CLUE_OPENS:
        return _open(notes, candidates[0])
    if notes["q"] < len(plan["queries"]):
        return _search_next(notes, plan)
    return "finish", finish(notes, plan)


def _absorb_chain(notes: dict, plan: dict, pid: str, title: str, body: list[str], where: tuple[int, int]) -> None:
    """Match the clues against an opened page: who it is, and the names its quotes reveal.

    A page whose lead fits a clue's description but which lacks the clue's quote is read on
    (its next page), since long pages keep the quoted sentence further down.
    """
    reading = plan["reading"]
    words = set(tokens(" ".join(body)))
    described = notes.setdefault("desc", {}).setdefault(pid, {})  # the lead is on page 1 only
    clues = reading.clues + ([reading.cloze] if reading.cloze else [])
    for clue in clues:
        terms = question_terms(_MASKS.sub(" ", clue.description))
        support = len(set(terms) & words) / len(terms) if terms else 0.5
        described[str(clue.number)] = max(support, described.get(str(clue.number), 0.0))
    titled = _identify(notes, plan, pid, title)  # a page titled with a name a quote gave
    for clue in clues:
        support, terms = described[str(clue.number)], question_terms(_MASKS.sub(" ", clue.description))
        fillings = fill_all(clue, body)
        if not fillings:
            fits = support >= 0.6 if terms else titled == str(clue.number)
            if fits and clue.pattern is not None and where[0] < where[1]:
                notes.setdefault("more", []).append([pid, where[0] + 1])
            continue
        if (terms and support < 0.6) or titled not in (None, str(clue.number)):
            continue  # a stock sentence on the wrong page
        notes["ident"][pid] = str(clue.number)
        for filled in fillings:
            for label, name in filled.items():
                _add_candidate(notes, label, name, support)


def _add_candidate(notes: dict, label: str, name: str, support: float) -> None:
    candidates = notes["names"].setdefault(label, [])
    if all(name != known for known, _ in candidates):
        candidates.append([name, round(support, 3)])
        candidates.sort(key=lambda c: -c[1])  # stable: page order among equals


def _candidates(notes: dict, label: str) -> list[str]:
    return [name for name, _ in notes["names"].get(label, []) if name not in notes["rejected"]]


def _identify(notes: dict, plan: dict, pid: str, title: str) -> str | None:
    """Name a page after the candidate name its title carries, if the page bears it out:
    the description of that entity's clue fits it, or (the last entity) it has the
    attribute asked for. A candidate the page does not bear out is rejected."""
    for label in [k for k in notes["names"] if k.isdigit()]:
        for name in _candidates(notes, label):
            if not same_name(title, name):
                continue
            if _bears_out(notes, plan, pid, label):
                notes["ident"][pid] = label
                return label
            notes["rejected"].append(name)
    return None


def _bears_out(notes: dict, plan: dict, pid: str, label: str) -> bool:
    reading = plan["reading"]
    if label == str(reading.target):
        attribute = notes["found"].get(pid, {}).get("attribute")
        return not plan["keys"] or bool(attribute and attribute[2] >= 2)
    clue = next((c for c in reading.clues if str(c.number) == label), None)
    if clue is None or not question_terms(_MASKS.sub(" ", clue.description)):
        return True
    return notes.get("desc", {}).get(pid, {}).get(label, 0.0) >= 0.6


def _identify_read(notes: dict, plan: dict) -> None:
    """Pages read before a quote gave their name are recognised once it does."""
    for pid in notes["opened"]:
        if pid not in notes["ident"]:
            _identify(notes, plan, pid, notes["titles"].get(pid, ""))


# ---------------------------------------------------------------- reading observations


def _question(messages: list[dict]) -> str:
    for message in messages:
        if message["role"] == "user":
            content = message.get("content") or ""
            return content.split(":", 1)[1].strip() if content.startswith("Question:") else content
    return ""


def _last_notes(messages: list[dict]) -> dict | None:
    for message in reversed(messages):
        if message["role"] == "assistant":
            found = _NOTES.search(message.get("content") or "")
            return json.loads(found.group(1)) if found else None
    return None


def _absorb(notes: dict, plan: dict, messages: list[dict]) -> None:
    """Fold the newest observation (the result of the last action) into the notes."""
    if notes["last"] not in ("search", "open") or messages[-1]["role"] == "assistant":
        return
    text = messages[-1].get("content") or ""
    if notes["last"] == "search":
        _absorb_search(notes, plan, text)
    else:
        _absorb_page(notes, plan, text)


def _absorb_search(notes: dict, plan: dict, text: str) -> None:
    lines = text.splitlines()
    terms = set(question_terms(_query_of(notes, plan)) or plan["terms"])
    for rank, line in enumerate(i for i, l in enumerate(lines) if _HIT.match(l.strip())):
        hit = _HIT.match(lines[line].strip())
        snippet = lines[line + 1] if line + 1 < len(lines) else ""
        words = set(tokens(hit["title"] + " " + snippet))
        score = len(terms & words) + 1.0 / (rank + 1)
        pid = hit["id"]
        notes["titles"][pid] = hit["title"]
        notes["origin"].setdefault(pid, notes["searching"])
        notes["ranked"][pid] = max(notes["ranked"].get(pid, 0.0), score)


def _query_of(notes: dict, plan: dict) -> str:
    """The words of the search whose results are being read (a clue's, a name's or the question's)."""
    return " ".join(q for label, q in plan["queries"] if label == notes["searching"]) or " ".join(
        name for candidates in notes["names"].values() for name, _ in candidates)


def _absorb_page(notes: dict, plan: dict, text: str) -> None:
    lines = [l for l in text.splitlines() if l.strip() not in ("<observation>", "</observation>")]
    head = _HIT.match(lines[0].strip()) if lines else None
    if head is None:  # an error observation: do not try that id again
        notes["failed"].append(notes.get("trying"))
        return
    pid, body = head["id"], lines[1:]
    if pid not in notes["opened"]:
        notes["opened"].append(pid)
    words = set(tokens(" ".join(body)))
    support = len(set(plan["terms"]) & words) / max(1, len(plan["terms"]))
    best = best_attribute(body, plan["keys"], plan["kind"])
    before = notes["found"].get(pid, {"support": 0.0, "attribute": None})  # an earlier page of it
    if before["attribute"] and (best is None or before["attribute"][2] >= best[2]):
        best = before["attribute"]
    notes["found"][pid] = {"support": round(max(support, before["support"]), 4), "attribute": best}
    if plan["reading"] is not None:
        where = (int(head["page"] or 1), int(head["pages"] or 1))
        _absorb_chain(notes, plan, pid, head["title"], [line for line in body if line.strip()], where)


# ---------------------------------------------------------------- deciding


def _unopened(notes: dict, jitter: float | None) -> list[str]:
    tried = set(notes["opened"]) | set(notes["failed"])
    ranked = sorted(notes["ranked"].items(), key=lambda kv: (-kv[1] - _tiebreak(kv[0], jitter), kv[0]))
    return [pid for pid, _ in ranked if pid not in tried]


def _tiebreak(pid: str, jitter: float | None) -> float:
    # A rollout's own small, stable perturbation of the ranking (none at temperature 0).
    return 0.0 if jitter is None else 0.5 * random.Random(f"{jitter}:{pid}").random()


def _page_score(found: dict) -> float:
    attribute = found.get("attribute")
    return found["support"] * (1.0 + (attribute[2] if attribute else 0.0))


def _prune(notes: dict, keep: int = 24) -> None:
    """Keep the notes small: only the best-ranked unopened results are remembered."""
    ranked = notes["ranked"]
    if len(ranked) > keep:
        kept = sorted(ranked, key=lambda pid: (-ranked[pid], pid))[:keep]
        notes["ranked"] = {pid: round(ranked[pid], 3) for pid in kept}
    wanted = set(notes["ranked"]) | set(notes["found"]) | set(notes["ident"])
    notes["origin"] = {pid: o for pid, o in notes["origin"].items() if pid in wanted}
    notes["desc"] = {pid: d for pid, d in notes.get("desc", {}).items() if pid in wanted}
    notes["titles"] = {pid: t for pid, t in notes["titles"].items() if pid in wanted}


def _confident(notes: dict) -> bool:
    """Stop reading once a well-supported page has a fitting, named attribute."""
    if len(notes["opened"]) < 2:
        return False
    return any(f["support"] >= 0.5 and f["attribute"] and f["attribute"][2] >= 3 for f in notes["found"].values())


def finish(notes: dict, plan: dict) -> dict[str, Any]:
    """Cite the pages read for the chain (or the best-supported ones) and answer from the
    target page's attribute line (or the cloze's blank)."""
    found, reading = notes["found"], plan["reading"]
    if reading is not None and notes["ident"]:
        chain = sorted(notes["ident"], key=lambda pid: int(notes["ident"][pid]))
        target = [pid for pid in chain if notes["ident"][pid] == str(reading.target)]
        if "blank" in notes["names"]:
            return {"ids": chain, "text": notes["names"]["blank"][0][0]}
        if target and found.get(target[0], {}).get("attribute"):
            return {"ids": chain, "text": found[target[0]]["attribute"][1]}
    if not found:
        return {"ids": [], "text": "unknown"}
    ranked = sorted(found, key=lambda pid: (-_page_score(found[pid]), pid))
    with_answer = [pid for pid in ranked if found[pid]["attribute"]]
    answer_page = with_answer[0] if with_answer else ranked[0]
    top = max(found[pid]["support"] for pid in ranked)
    cited = [answer_page] + [p for p in ranked if p != answer_page and found[p]["support"] >= 0.75 * top][:2]
    if found[answer_page]["attribute"]:
        text = found[answer_page]["attribute"][1]
    else:
        text = notes["titles"].get(answer_page, "unknown")
    return {"ids": cited, "text": text}


def _reply(notes: dict, action: str, args: dict[str, Any], *, tools: bool) -> ChatResponse:
    # Escaped angle brackets: a title holding "<answer>" must not read as an action tag.
    data = json.dumps(notes, separators=(",", ":")).replace("<", "\\u003c").replace(">", "\\u003e")
    memo = f"<notes>{data}</notes>"
    if tools:
        calls = _tool_calls(action, args)
        return ChatResponse(content=memo, tool_calls=calls, finish_reason="tool_calls")
    return ChatResponse(content=f"{memo}\n{_tags(action, args)}", finish_reason="stop")


def _tags(action: str, args: dict[str, Any]) -> str:
    if action == "search":
        return f"<search>{args['query']}</search>"
    if action == "open":
        return f'<open id="{args["id"]}" page="{args["page"]}"/>' if "page" in args else f'<open id="{args["id"]}"/>'
    cite = f"<cite>{', '.join(args['ids'])}</cite>" if args["ids"] else ""
    return f"{cite}<answer>{args['text']}</answer>"


def _tool_calls(action: str, args: dict[str, Any]) -> list[dict[str, Any]]:
    if action != "finish":
        return [{"id": f"lex_{action}", "name": action, "arguments": json.dumps(args)}]
    calls = [{"id": "lex_cite", "name": "cite", "arguments": json.dumps({"ids": args["ids"]})}] if args["ids"] else []
    return calls + [{"id": "lex_answer", "name": "answer", "arguments": json.dumps({"text": args["text"]})}]
