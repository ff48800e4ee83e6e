"""The small interfaces stages depend on, and an in-memory index that implements them.

Stages take a `PageStore` and a `Searcher` as arguments, so a test can hand in a
`MemoryIndex` built from a few KILT pages, and the command hands in the Lucene-backed
index built by `ltrl index` (`ltrl_cli.backends.index.open_index`).

A page is a KILT knowledge-source record: `wikipedia_id`, `wikipedia_title`, `text` (a
list of paragraphs; `text[0]` is the title line), `anchors` (`text`, `href`,
`paragraph_id`, `start`, `end`).
"""

from __future__ import annotations

import math
import random
import re
from collections import Counter
from dataclasses import dataclass
from typing import Iterable, Protocol, runtime_checkable


@dataclass(frozen=True)
class Hit:
    """One search result."""

    id: str  # page id (KILT wikipedia_id)
    title: str
    score: float
    snippet: str


@runtime_checkable
class PageStore(Protocol):
    def page(self, page_id: str) -> dict:
        """The KILT record of a page; KeyError when there is none."""

    def title(self, page_id: str) -> str:
        """The title of a page; KeyError when there is none."""

    def id_for_title(self, title: str) -> str | None:
        """Resolve a title as Wikipedia does (first letter case-insensitive)."""

    def random_ids(self, n: int, rng: random.Random) -> list[str]:
        """n distinct random page ids (fewer when the store is smaller)."""

    def __len__(self) -> int: ...


@runtime_checkable
class Searcher(Protocol):
    def search(self, query: str, k: int = 10) -> list[Hit]:
        """The top k pages for a free-text query, best first."""

    def batch_search(self, queries: list[str], k: int = 10) -> list[list[Hit]]:
        """search() for many queries at once (faster on Lucene)."""


@runtime_checkable
class PageIndex(PageStore, Searcher, Protocol):
    """Pages and search together: what `open_index(DIR)` returns, and MemoryIndex in tests."""


def page_body(page: dict) -> str:
    """The page's text without its title line, paragraphs separated by blank lines."""
    paragraphs = page.get("text") or []
    return "\n\n".join(p.strip() for p in paragraphs[1:] if p.strip())


def title_key(title: str) -> str:
    """Wikipedia title identity: underscores are spaces, the first letter is case-free."""
    title = title.replace("_", " ").strip()
    return title[:1].upper() + title[1:]


_TOKEN = re.compile(r"\w+")


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


def clip(text: str, width: int) -> str:
    """The text cut at a word boundary to at most `width` characters, the cut marked by "…".

    >>> clip("Born in Oslo in 1901.", 12)
    'Born in…'
    """
    text = text.strip()
    return text if len(text) <= width else text[: width - 1].rsplit(" ", 1)[0] + "…"


def page_text(page: dict) -> str:
    """The page's paragraphs joined by line breaks, title line first: what Lucene indexes and stores."""
    return "\n".join(page.get("text") or [])


# Lucene's English stop words, which its analyzer drops: a line is not picked for holding them.
STOP_WORDS = frozenset(
    "a an and are as at be but by for if in into is it no not of on or such that the their then there these "
    "they this to was will with".split())


SNIPPET_SCAN = 4000  # bytes of a page (UTF-8) a snippet is chosen from


def snippet_terms(query_terms: Iterable[str]) -> list[bytes]:
    """The terms a snippet looks for, as `snippet` takes them (once per query, not per hit).

    >>> snippet_terms(["the", "river", "a", "seine", "river"])
    [b'river', b'seine']
    """
    return list(dict.fromkeys(t.encode() for t in query_terms if len(t) > 1 and t not in STOP_WORDS))


def snippet(data: bytes, needles: list[bytes], width: int = 200, scan: int = SNIPPET_SCAN) -> str:
    r"""The line of a page's UTF-8 text after its first (the title line) with most of the query's terms, cut to `width`.

    A term counts once per line, matched as a substring; stop words do not count. Of equal
    lines the first wins (leads and attribute lines come early); with no term found, the
    first non-blank line. Only the first `scan` bytes are searched: on the long pages of
    Wikispeedia (28 KB a hit, on average) searching the whole text took 5x the Lucene
    query itself, and the lead of an article is what says what it is about. Most KILT
    pages are shorter than `scan`. ASCII letters are lower-cased once, and the search
    jumps from hit to hit with `find`.

    >>> snippet(b"T\nNothing here.\nBorn in Oslo in 1901.", snippet_terms(["oslo", "born"]))
    'Born in Oslo in 1901.'
    >>> snippet(b"T\n\nFirst line.\nSecond line.", [b"nowhere"])
    'First line.'
    >>> snippet(b"T\nFirst line.\nOslo, later.", [b"oslo"], scan=15)
    'First line.'
    >>> snippet("T\nKöln am Rhein".encode(), [b"rhein"], scan=4)  # a character cut by `scan` is dropped
    'K'
    """
    data = data[:scan]
    low, body = data.lower(), data.find(b"\n") + 1
    counts: dict[int, int] = {}  # line start -> terms found on the line
    ends: dict[int, int] = {}
    for term in needles:
        at = low.find(term, body) if body else -1
        while at >= 0:
            start, end = low.rfind(b"\n", 0, at) + 1, low.find(b"\n", at)
            end = len(low) if end < 0 else end
            counts[start], ends[start] = counts.get(start, 0) + 1, end
            at = low.find(term, end)
    if counts:
        start = min(counts, key=lambda s: (-counts[s], s))
        line = data[start:ends[start]]
    else:
        line = next((line for line in data[body:].split(b"\n") if line.strip()), b"") if body else b""
    return clip((line or data.split(b"\n", 1)[0]).decode("utf-8", "ignore"), width)


def snippet_of(page: dict, query_terms: set[str], width: int = 200) -> str:
    """`snippet` of a KILT page held in memory.

    >>> snippet_of({"text": ["T", "Nothing here.", "Born in Oslo in 1901."]}, {"oslo", "born"})
    'Born in Oslo in 1901.'
    """
    text = page_text(page).encode("utf-8", "surrogatepass")
    return snippet(text, snippet_terms(query_terms), width) or page.get("wikipedia_title", "")


class MemoryIndex:
    """PageStore and Searcher over pages held in memory, with BM25 scoring.

    Meant for tests and small corpora; `ltrl index` builds the on-disk Lucene index for
    anything real.
    """

    def __init__(self, pages: Iterable[dict], k1: float = 0.9, b: float = 0.4):
        self._pages = {str(p["wikipedia_id"]): p for p in pages}
        self._by_title = {title_key(p["wikipedia_title"]): pid for pid, p in self._pages.items()}
        self._tf = {pid: Counter(tokens(" ".join(p.get("text") or []))) for pid, p in self._pages.items()}
        self._len = {pid: sum(tf.values()) for pid, tf in self._tf.items()}
        self._avg = sum(self._len.values()) / max(1, len(self._len))
        df: Counter[str] = Counter()
        for tf in self._tf.values():
            df.update(tf.keys())
        n = len(self._pages)
        self._idf = {t: math.log(1 + (n - d + 0.5) / (d + 0.5)) for t, d in df.items()}
        self.k1, self.b = k1, b

    def __len__(self) -> int:
        return len(self._pages)

    def page(self, page_id: str) -> dict:
        return self._pages[str(page_id)]

    def title(self, page_id: str) -> str:
        return self._pages[str(page_id)]["wikipedia_title"]

    def id_for_title(self, title: str) -> str | None:
        return self._by_title.get(title_key(title))

    def random_ids(self, n: int, rng: random.Random) -> list[str]:
        ids = sorted(self._pages)
        return rng.sample(ids, min(n, len(ids)))

    def search(self, query: str, k: int = 10) -> list[Hit]:
        terms = set(tokens(query))
        scored = []
        for pid, tf in self._tf.items():
            score = sum(self._bm25(t, tf, self._len[pid]) for t in terms if t in tf)
            if score > 0:
                scored.append((-score, pid))
        scored.sort()
        return [
            Hit(pid, self.title(pid), -neg, snippet_of(self._pages[pid], terms)) for neg, pid in scored[:k]
        ]

    def batch_search(self, queries: list[str], k: int = 10) -> list[list[Hit]]:
        return [self.search(q, k) for q in queries]

    def _bm25(self, term: str, tf: Counter, length: int) -> float:
        f = tf[term]
        return self._idf[term] * f * (self.k1 + 1) / (f + self.k1 * (1 - self.b + self.b * length / self._avg))
