"""`ltrl search` and `ltrl open`: an index queried by hand, showing what the search agent sees."""

from __future__ import annotations

import asyncio

import pytest

from ltrl_cli.agent.tools import Action, AgentTools, IndexService, ToolConfig
from tests.conftest import jsonl, run_ltrl


@pytest.fixture(scope="module")
def a_page(demo_pages):
    page = next(p for p in demo_pages if len(" ".join(p["text"]).split()) > 120)
    return page


def test_search_writes_hits_as_jsonl_when_piped(demo_index, a_page):
    title = a_page["wikipedia_title"]
    result = run_ltrl("search", "--index", str(demo_index), title, "-k", "3")
    assert result.returncode == 0, result.stderr.decode()
    hits = jsonl(result.stdout)
    assert 1 <= len(hits) <= 3 and [h["rank"] for h in hits] == list(range(1, len(hits) + 1))
    assert set(hits[0]) == {"query", "rank", "id", "title", "score", "snippet"}
    assert hits == sorted(hits, key=lambda h: -h["score"])


def test_search_snippets_are_the_agents(demo_index, a_page):
    from ltrl_cli.backends.index import open_index

    index = open_index(demo_index)
    index.start()
    service = IndexService(index)
    try:
        seen = asyncio.run(AgentTools(service).call(Action("search", {"query": a_page["wikipedia_title"], "k": 2})))
    finally:
        service.close()
        index.close()
    hits = jsonl(run_ltrl("search", "--index", str(demo_index), a_page["wikipedia_title"], "-k", "2").stdout)
    for hit in hits:
        assert f"[id: {hit['id']}] {hit['title']}\n  {hit['snippet']}" in seen.text


def test_open_shows_the_page_as_the_agents_open_tool(demo_index, a_page):
    page_id = a_page["wikipedia_id"]
    result = run_ltrl("open", "--index", str(demo_index), page_id, "--page-words", "50", "--page", "2")
    assert result.returncode == 0, result.stderr.decode()
    from ltrl_cli.backends.index import open_index

    index = open_index(demo_index)
    index.start()
    service = IndexService(index)
    try:
        tools = AgentTools(service, ToolConfig(page_words=50, allow_open_any=True))
        seen = asyncio.run(tools.call(Action("open", {"id": page_id, "page": 2})))
    finally:
        service.close()
        index.close()
    assert result.stdout.decode() == seen.text + "\n"
    assert seen.text.startswith(f"[id: {page_id}] {a_page['wikipedia_title']} (page 2 of ")
    [record] = jsonl(run_ltrl("open", "--index", str(demo_index), page_id, "--jsonl").stdout)
    assert record["id"] == page_id and record["page"] == 1 and record["text"].startswith(f"[id: {page_id}]")


@pytest.mark.parametrize("args, message", [
    (["open", "no-such-id"], "ltrl open: no page with id 'no-such-id'"),
    (["open", "PAGE", "--page", "999"], "page 999 does not exist"),
    (["search", " "], "ltrl search: the query is empty"),
])
def test_bad_ids_and_queries_are_one_line_exit_1(demo_index, a_page, args, message):
    args = [a.replace("PAGE", a_page["wikipedia_id"]) for a in args]
    result = run_ltrl(args[0], "--index", str(demo_index), *args[1:])
    stderr = result.stderr.decode()
    assert result.returncode == 1 and message in stderr and len(stderr.strip().splitlines()) == 1
    assert result.stdout == b""


def test_a_missing_index_is_named(tmp_path):
    result = run_ltrl("search", "--index", str(tmp_path / "nope"), "x")
    assert result.returncode == 1 and "index" in result.stderr.decode() and "not found" in result.stderr.decode()


def test_on_a_terminal_search_draws_a_table(demo_index, a_page):
    from unittest import mock

    from typer.testing import CliRunner

    from ltrl_cli.cli import app

    runner = CliRunner()
    with mock.patch("ltrl_cli.commands.lookup._terminal", return_value=True):
        result = runner.invoke(app, ["search", "--index", str(demo_index), a_page["wikipedia_title"], "-k", "2"])
    assert result.exit_code == 0, result.stderr
    assert "hit(s)" in result.stdout and "snippet" in result.stdout and not result.stdout.startswith("{")
