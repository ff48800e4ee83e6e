"""The offline search policy (`--backend lexical`): a stand-in for a model, not an LLM.

It plays the agent's part through the same loop, protocol and tools as a real model: it
receives the chat messages (system prompt, the question, observations) and replies with
actions, as text tags or tool calls. So it sees exactly what a model would see, and never
the gold chain or the answer, which the stage does not put in the messages.

What it does:
- a chain question (`[E1] ... [E8]'s page says: "..." When did [E9] die?`, see `clues`):
  find [E1] by its description, then follow the chain hop by hop through the names its
  quoted sentences reveal, several searches per hop, opening every candidate it cannot
  rule out and going back when a branch dies (`chain`); the last entity's attribute line
  (or the blank of a cloze) is the answer, and the chain's pages are what it cites;
- any other question: search with pieces of it (names, windows of content words, all of
  them), open the results that share most words with it, and answer with the attribute line
  (`Born: 14 March 1879`) that fits what is asked (when, how many, where...) on the page
  that holds most of the question's words;
- otherwise cite the best-supported pages and answer.

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

from ltrl_cli.agent import chain
from ltrl_cli.agent.clues import answer_kind, asked_keys, best_attribute, queries_for, question_terms, read_question
from ltrl_cli.backends.base import tokens
from ltrl_cli.llm.base import ChatRequest, ChatResponse

NAME = "lexical"
MODEL = "lexical (offline search policy, not an LLM)"

_HIT = re.compile(r"^\[id: (?P<id>[^\]]+)\] (?P<title>.*?)(?: \(page (?P<page>\d+) of (?P<pages>\d+)\))?$")
_NOTES = re.compile(r"<notes>(.*?)</notes>", re.DOTALL)
_TURNS = re.compile(r"at most (\d+) turns")


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
        notes = _last_notes(messages) or self._start(plan)
        _absorb(notes, plan, messages)
        action, args = self._decide(notes, plan, messages)
        notes["last"] = action
        _prune(notes)
        return _reply(notes, action, args, tools=bool(request.tools))

    @staticmethod
    def _start(plan: dict) -> dict[str, Any]:
        notes = {"q": 0, "ranked": {}, "titles": {}, "opened": [], "found": {}, "failed": [], "last": None,
                 "searching": None}
        if plan["reading"] is not None:
            notes["c"] = chain.start(plan["reading"], plan["rng"])
        return notes

    def _plan(self, messages: list[dict], request: ChatRequest) -> dict[str, Any]:
        """What the question and the seed decide (recomputed each turn, so the notes stay small)."""
        question = _question(messages)
        rng = random.Random(request.seed) if request.temperature > 0 and request.seed is not None else None
        turns = _TURNS.search(messages[0].get("content", "")) if messages else None
        reading = read_question(question)
        is_chain = reading.target is not None and bool(reading.clues or reading.cloze)
        return {
            "terms": question_terms(question), "keys": asked_keys(reading.ask if is_chain else question),
            "kind": answer_kind(reading.ask if is_chain else question),
            "queries": [] if is_chain else queries_for(question, rng, self.max_searches),
            "reading": reading if is_chain else None, "rng": rng, "max_turns": int(turns.group(1)) if turns else 16,
            "opens": self.max_opens - (rng.randint(0, 2) if rng else 0),
            "jitter": rng.random() if rng else None,
        }

    def _decide(self, notes: dict, plan: dict, messages: list[dict]) -> tuple[str, dict[str, Any]]:
        turns_left = plan["max_turns"] - sum(m["role"] == "assistant" for m in messages)
        if turns_left <= 1:
            return "finish", finish(notes, plan)
        if plan["reading"] is not None:
            step = chain.decide(notes["c"], plan, set(notes["opened"]) | set(notes["failed"]))
            if step is not None and step[0] == "open":
                notes["trying"] = step[1]["id"]
            return step or ("finish", finish(notes, plan))
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
    if plan["reading"] is not None:
        hits = [(m["id"], m["title"], lines[i + 1] if i + 1 < len(lines) else "")
                for i, m in ((i, _HIT.match(line.strip())) for i, line in enumerate(lines)) if m]
        chain.absorb_search(notes["c"], plan, hits)
        return
    terms = set(question_terms(_query_of(notes, plan)) or plan["terms"])
    for rank, line in enumerate(i for i, l in enumerate(lines) if _HIT.match(l.strip())):
        hit = _HIT.match(lines[line].strip())
        snippet = lines[line + 1] if line + 1 < len(lines) else ""
        words = set(tokens(hit["title"] + " " + snippet))
        score = len(terms & words) + 1.0 / (rank + 1)
        pid = hit["id"]
        notes["titles"][pid] = hit["title"]
        notes["ranked"][pid] = max(notes["ranked"].get(pid, 0.0), score)


def _query_of(notes: dict, plan: dict) -> str:
    """The words of the search whose results are being read."""
    return " ".join(q for label, q in plan["queries"] if label == notes["searching"])


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
        chain.absorb_page(notes["c"], plan, pid, head["title"], [line for line in body if line.strip()], where,
                          plan["keys"], plan["kind"])


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
    wanted = set(notes["ranked"]) | set(notes["found"])
    notes["titles"] = {pid: t for pid, t in notes["titles"].items() if pid in wanted}


def _confident(notes: dict) -> bool:
    """Stop reading once a well-supported page has a fitting, named attribute."""
    if len(notes["opened"]) < 2:
        return False
    return any(f["support"] >= 0.5 and f["attribute"] and f["attribute"][2] >= 3 for f in notes["found"].values())


def finish(notes: dict, plan: dict) -> dict[str, Any]:
    """Cite the pages read for the chain (or the best-supported ones) and answer from the
    target page's attribute line (or the cloze's blank)."""
    found = notes["found"]
    if plan["reading"] is not None:
        answered = chain.finish(notes["c"])
        if answered is not None:
            return answered
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
        return f'<search k="{args["k"]}">{args["query"]}</search>' if "k" in args else f"<search>{args['query']}</search>"
    if action == "open":
        return f'<open id="{args["id"]}" page="{args["page"]}"/>' if "page" in args else f'<open id="{args["id"]}"/>'
    cite = f"<cite>{', '.join(args['ids'])}</cite>" if args["ids"] else ""
    return f"{cite}<answer>{args['text']}</answer>"


def _tool_calls(action: str, args: dict[str, Any]) -> list[dict[str, Any]]:
    if action != "finish":
        return [{"id": f"lex_{action}", "name": action, "arguments": json.dumps(args)}]
    calls = [{"id": "lex_cite", "name": "cite", "arguments": json.dumps({"ids": args["ids"]})}] if args["ids"] else []
    return calls + [{"id": "lex_answer", "name": "answer", "arguments": json.dumps({"text": args["text"]})}]
