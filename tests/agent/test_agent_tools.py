"""The agent's tools: results, paging, and the rules that keep opened ⊆ seen and cited ⊆ opened."""

from __future__ import annotations

import asyncio

import pytest

from ltrl_cli.agent.tools import Action, AgentTools, IndexService, ToolConfig, paginate, parse_ids
from ltrl_cli.backends.base import MemoryIndex


def page(pid: str, title: str, *paragraphs: str) -> dict:
    return {"wikipedia_id": pid, "wikipedia_title": title, "text": [title, *paragraphs], "anchors": []}


PAGES = [
    page("1", "Arlo Venmoor", "Arlo Venmoor was an astronomer of Vesteria.", "Born: 14 March 1879"),
    page("2", "Lake Venmoor", "Lake Venmoor is a lake in Vesteria.", "Area: 12.5 km²"),
    page("3", "Vesteria", "Vesteria is a region known for glassmaking.", "Population: 48,210"),
    page("4", "Long page", *[" ".join(f"w{i}_{j}" for j in range(30)) for i in range(10)]),
]


def run(coro):
    return asyncio.run(coro)


async def session(actions: list[Action], config: ToolConfig = ToolConfig()) -> tuple[AgentTools, list]:
    service = IndexService(MemoryIndex(PAGES))
    tools = AgentTools(service, config)
    try:
        return tools, [await tools.call(a) for a in actions]
    finally:
        service.close()


def test_search_lists_ids_titles_and_snippets_and_records_seen():
    tools, [obs] = run(session([Action("search", {"query": "Venmoor astronomer"})]))
    assert obs.error is None and obs.ids[0] == "1"
    assert "[id: 1] Arlo Venmoor" in obs.text and "astronomer" in obs.text
    assert tools.seen == obs.ids


def test_search_k_is_honoured_and_capped():
    _, [two, many] = run(session([Action("search", {"query": "Venmoor Vesteria", "k": 2}),
                                  Action("search", {"query": "Venmoor Vesteria", "k": "999"})],
                                 ToolConfig(max_search_k=3)))
    assert len(two.ids) == 2 and len(many.ids) == 3


def test_open_is_refused_unless_a_search_showed_the_id():
    tools, [refused, _, opened] = run(session([Action("open", {"id": "3"}),
                                               Action("search", {"query": "glassmaking region"}),
                                               Action("open", {"id": "3"})]))
    assert refused.error and "only ids shown by a search" in refused.text
    assert opened.error is None and "Population: 48,210" in opened.text
    assert tools.opened == ["3"] and set(tools.opened) <= set(tools.seen)


def test_allow_open_any_opens_unseen_ids():
    tools, [obs] = run(session([Action("open", {"id": "2"})], ToolConfig(allow_open_any=True)))
    assert obs.error is None and tools.opened == ["2"] and tools.seen == []


def test_open_pages_a_long_document():
    config = ToolConfig(allow_open_any=True, page_words=100)  # 10 paragraphs of 30 words: 3 a page
    tools, [first, last, missing] = run(session([Action("open", {"id": "4"}), Action("open", {"id": "4", "page": 4}),
                                                 Action("open", {"id": "4", "page": 9})], config))
    assert "(page 1 of 4)" in first.text and "page=2" in first.text and "w3_0" not in first.text
    assert "(page 4 of 4)" in last.text and "w9_0" in last.text and "follows" not in last.text
    assert missing.error and "has 4 page(s)" in missing.error


def test_cite_accepts_only_opened_ids():
    tools, obs = run(session([Action("search", {"query": "Venmoor"}), Action("cite", {"ids": ["1"]}),
                              Action("open", {"id": "1"}), Action("cite", {"ids": "1, 2"})]))
    assert obs[1].error and "only opened pages can be cited" in obs[1].error
    assert obs[3].error is None and "refused, never opened: 2" in obs[3].text
    assert tools.cited == ["1"] and set(tools.cited) <= set(tools.opened) <= set(tools.seen)


def test_answer_is_final_and_recorded():
    tools, [obs] = run(session([Action("answer", {"text": " 1879 "})]))
    assert obs.final and tools.answer_text == "1879"


@pytest.mark.parametrize("action, message", [
    (Action("fly", {}), "unknown action 'fly'"),
    (Action("search", {}), "missing argument 'query'"),
    (Action("search", {"query": "x", "k": "many"}), "must be a whole number"),
    (Action("open", {"id": "1", "page": 0}), "at least 1"),
    (Action("open", {}), "exactly one id"),
    (Action("open", {"id": "999"}), "only ids shown by a search"),
    (Action("answer", {"text": "  "}), "missing argument 'text'"),
    (Action("cite", {}), "cite needs ids"),
    (Action("search", error="bad JSON"), "bad JSON"),
])
def test_malformed_actions_become_error_observations(action, message):
    _, [obs] = run(session([action]))
    assert obs.error and message in obs.error and obs.text.startswith("error:") and not obs.final


def test_unknown_page_id_is_an_error_even_with_allow_open_any():
    _, [obs] = run(session([Action("open", {"id": "404"})], ToolConfig(allow_open_any=True)))
    assert obs.error == "no page with id '404'"


def test_searches_issued_together_run_as_one_batch():
    class Counting(MemoryIndex):
        batches: list[int] = []

        def batch_search(self, queries, k=10):
            self.batches.append(len(queries))
            return super().batch_search(queries, k)

    index = Counting(PAGES)

    async def many():
        service = IndexService(index)
        try:
            return await asyncio.gather(*(service.search(q, 2) for q in ["Venmoor", "Vesteria", "lake", "astronomer"]))
        finally:
            service.close()

    results = run(many())
    assert [len(r) <= 2 for r in results] == [True] * 4
    assert sum(index.batches) == 4 and len(index.batches) < 4  # the first runs alone, the rest together


def test_paginate_and_parse_ids():
    assert paginate([], 10) == [""]
    assert paginate(["a " * 5, "b " * 5], 10) == ["a a a a a\n\nb b b b b"]
    assert parse_ids(["3", 4]) == ["3", "4"] and parse_ids(None) == []
