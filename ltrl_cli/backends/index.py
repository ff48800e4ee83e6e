"""Open an index directory built by `ltrl index`: pages, search and the link graph in one object.

`open_index(DIR)` returns an `Index`, which implements the PageStore and Searcher
protocols of `backends.base`, and carries the link graph as `.graph`. Titles, ids and
links come from the memory-mapped graph files, a page's text and the rest of its record
from `DIR/pages/` (see backends/pagestore.py); the JVM (about a second) starts only when
a search is first made.
"""

from __future__ import annotations

import random
from pathlib import Path

import orjson

from ltrl_cli.backends.base import Hit, snippet, snippet_terms, tokens
from ltrl_cli.backends.graph import Graph
from ltrl_cli.backends.pagestore import FORMAT, Pages, join_page
from ltrl_cli.errors import BackendError
from ltrl_cli.lru import LRU

BUILD_HINT = "build one with: ltrl index FILE -o DIR"
COMPLETE = "COMPLETE"  # written last by a build: counts, source, time
OWNER_MARK = ".ltrl-index"  # written first: the directory is ltrl's (so a rebuild may delete it)


def open_index(path: str | Path) -> "Index":
    """Open an index directory, or raise BackendError saying what is wrong with it."""
    path = Path(path)
    if not path.is_dir():
        raise BackendError(f"index {path} not found; {BUILD_HINT}")
    marker = path / COMPLETE
    if not marker.is_file():
        if (path / OWNER_MARK).is_file():  # a build that was killed, or ran out of disk
            raise BackendError(f"index {path} is unfinished (its build stopped before the end); "
                               f"{_resume_hint(path)}")
        raise BackendError(f"{path} is not an ltrl index (no COMPLETE marker); {BUILD_HINT} (a new or empty DIR)")
    try:
        info = orjson.loads(marker.read_bytes())
        built = info.get("format", 1)
        if built != FORMAT:
            raise BackendError(f"index {path} has format {built} and this ltrl reads format {FORMAT} (pages are "
                               f"stored differently); rebuild it with: {rebuild_command(path)}")
        graph, pages = Graph(path / "graph"), Pages(path / "pages")
    except (OSError, ValueError, orjson.JSONDecodeError) as exc:
        raise BackendError(
            f"index {path} is damaged ({exc}); rebuild it with: {rebuild_command(path)}") from None
    return Index(path, graph, pages, info)


def owner_mark(source: Path) -> str:
    """What a build writes to DIR/.ltrl-index: whose directory it is and what it indexes."""
    return f"ltrl index directory\nsource: {Path(source).resolve()}\n"


def _resume_hint(path: Path) -> str:
    """How to finish an unfinished build: resume it from its checkpoint, or rebuild it."""
    try:
        command = orjson.loads((path / ".build" / "checkpoint.json").read_bytes())["command"]
    except (OSError, ValueError, KeyError, TypeError):
        return f"rebuild it with: {rebuild_command(path)}"
    return f"resume it with: {command}"


def rebuild_command(path: Path) -> str:
    """The `ltrl index` command that rebuilds the index in `path` from the file it was built from."""
    import shlex

    source = "FILE"
    try:
        for line in (path / OWNER_MARK).read_text().splitlines():
            if line.startswith("source: "):
                source = shlex.quote(line[len("source: "):])
    except OSError:
        pass
    return f"ltrl index {source} -o {shlex.quote(str(path))} --force"


class Index:
    """PageStore + Searcher over an `ltrl index` directory, with its link graph.

    Attributes:
        graph: the link graph (`Graph`): CSR arrays, node <-> id/title maps, anchors.
        pages: the page store (`Pages`): each node's text (UTF-8) and the rest of its record.
        info: the counts recorded when the index was built.
    """

    def __init__(self, path: Path, graph: Graph, pages: Pages, info: dict, cache_pages: int = 2048):
        self.path, self.graph, self.info, self.pages = path, graph, info, pages
        self._lucene = None
        self._recent: LRU[str, dict] = LRU(cache_pages)  # pages lately opened, whole

    def start(self) -> None:
        """Start the JVM and open Lucene now, on the calling thread.

        Commands call this on the main thread before handing the index to worker
        threads: a JVM first started from a worker thread fetched pages about 4x slower.
        """
        _ = self.lucene

    @property
    def lucene(self):
        if self._lucene is None:
            from ltrl_cli.backends.lucene import LuceneSearcher

            self._lucene = LuceneSearcher(self.path / "lucene")
        return self._lucene

    # ---- PageStore

    def __len__(self) -> int:
        return len(self.graph)

    def page(self, page_id: str) -> dict:
        """The stored KILT record of a page (KeyError when there is none)."""
        page_id = str(page_id)
        page = self._recent.get(page_id)
        if page is None:
            node = self.node(page_id)
            text = self._text(page_id, node).decode("utf-8", "surrogatepass")
            page = self._recent[page_id] = join_page(text, self.pages.meta(node))
        return page

    def title(self, page_id: str) -> str:
        return self.graph.title(self.node(page_id))

    def id_for_title(self, title: str) -> str | None:
        node = self.graph.node_for_title(title)
        return None if node is None else self.graph.page_id(node)

    def random_ids(self, n: int, rng: random.Random) -> list[str]:
        nodes = rng.sample(range(len(self.graph)), min(n, len(self.graph)))
        return [self.graph.page_id(node) for node in nodes]

    def node(self, page_id: str) -> int:
        """The graph node of a page id (KeyError when there is none)."""
        node = self.graph.node_for_id(str(page_id))
        if node is None:
            raise KeyError(page_id)
        return node

    # ---- Searcher

    def search(self, query: str, k: int = 10) -> list[Hit]:
        return self._hits(self.lucene.search(query, k), snippet_terms(tokens(query)))

    def batch_search(self, queries: list[str], k: int = 10) -> list[list[Hit]]:
        found = self.lucene.batch_search(queries, k)
        return [self._hits(results, snippet_terms(tokens(query))) for results, query in zip(found, queries)]

    def _hits(self, results: list[tuple[str, float]], needles: list[bytes]) -> list[Hit]:
        """Hits with their titles (from the graph) and snippets (from the page's stored text alone)."""
        hits = []
        for page_id, score in results:
            node = self.node(page_id)
            hits.append(Hit(page_id, self.graph.title(node), score, snippet(self._text(page_id, node), needles)))
        return hits

    def _text(self, page_id: str, node: int) -> bytes:
        """A page's stored text, UTF-8; BackendError naming the page when it cannot be read."""
        try:
            return self.pages.text(node)
        except (IndexError, ValueError) as exc:
            raise BackendError(f"page {page_id}: its stored text cannot be read ({exc}); the index is damaged, "
                               f"rebuild it with: {rebuild_command(self.path)}") from None

    # ---- link evidence

    def anchor_evidence(self, src_id: str, dst_id: str) -> dict | None:
        """The anchor of link src -> dst: `{"text", "paragraph_id", "paragraph"}`, or None.

        `"inferred": true` is added when the link was inferred from a title mention
        (`ltrl index --link-mentions`). None when the link has no placed anchor (e.g. a
        Wikispeedia unplaced link).
        """
        index = self.graph.anchor_index(self.node(src_id), self.node(dst_id))
        if index is None:
            return None
        page = self.page(src_id)
        anchor = page["anchors"][index]
        paragraphs = page.get("text") or []
        pid = anchor.get("paragraph_id")
        paragraph = paragraphs[pid].strip() if isinstance(pid, int) and 0 <= pid < len(paragraphs) else ""
        evidence = {"text": anchor.get("text", ""), "paragraph_id": pid, "paragraph": paragraph}
        if anchor.get("inferred"):
            evidence["inferred"] = True
        return evidence

    def close(self) -> None:
        if self._lucene is not None:
            self._lucene.close()
            self._lucene = None
