"""`ltrl search` and `ltrl open`: an index queried by hand, as the search agent sees it.

Both go through the agent's own tools (`ltrl_cli.agent.tools`), so a hit's snippet and an
opened page's text are exactly what a rollout is shown: the same clipping, the same
pages of `page_words` words, the same header line.
"""

from __future__ import annotations

import asyncio
from typing import Any

from ltrl_cli.agent.tools import Action, AgentTools, IndexService, ToolConfig, snippet
from ltrl_cli.errors import BadInput


def search_hits(index: Any, query: str, k: int, *, snippet_chars: int = ToolConfig.snippet_chars) -> list[dict]:
    """The top `k` hits for `query`: {query, rank, id, title, score, snippet}, best first."""
    if not query.strip():
        raise BadInput("the query is empty")
    hits = index.search(query, k)
    return [{"query": query, "rank": rank, "id": hit.id, "title": hit.title, "score": round(float(hit.score), 4),
             "snippet": snippet(hit, snippet_chars)} for rank, hit in enumerate(hits, start=1)]


def open_page(index: Any, page_id: str, *, page: int = 1, page_words: int = ToolConfig.page_words) -> str:
    """Page `page` of a document as the agent's `open` tool shows it; BadInput when the
    index has no such id or the document has fewer pages."""
    service = IndexService(index)
    tools = AgentTools(service, ToolConfig(page_words=page_words, allow_open_any=True))
    try:
        seen = asyncio.run(tools.call(Action("open", {"id": page_id, "page": page})))
    finally:
        service.close()
    if seen.error:
        raise BadInput(seen.error)
    return seen.text
