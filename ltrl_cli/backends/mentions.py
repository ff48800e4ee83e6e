"""Links inferred from mentions of other pages' titles, for corpora that ship no hyperlinks.

`MentionLinker(titles)` builds one Aho-Corasick automaton (pyahocorasick, C) over every
title worth matching, so finding mentions costs the same per character of text whether the
corpus has 5,000 titles or KILT's 5.9M (docs/index-walk.md has the figures). Rules:

- whole words only: text and titles are compared with every character that is not a letter
  or digit read as a space, and a title must have a space (or the paragraph's edge) on
  both sides;
- case: a title matches as written; a title of several words whose letters after the
  first are all lower case ("Solar energy") also matches with its first letter
  lower-cased. One-word titles ("Water", "History") and titles with other capitals
  ("Adolf Hitler", "BBC") must match exactly: on Wikispeedia, lower-casing one-word titles
  too raised recall from 0.63 to 0.77 but dropped precision from 0.55 to 0.38;
- titles shorter than `min_chars` characters, titles that are common English words
  ("The", "Water" is kept, "About" is not: `COMMON_WORDS`), dates, lists and disambiguation
  pages are left out; "Mercury (planet)" also matches "Mercury" (exact case only) when no
  page is titled "Mercury" and no other page shares that base;
- overlapping mentions: the leftmost wins, then the longest ("New York City" over "New York");
- one link per target per paragraph (its first mention), none to the page itself, none from
  the title line or heading lines.

Each inferred anchor is a KILT anchor (`text`, `href`, `paragraph_id`, `start`, `end`) with
`"inferred": true`, so the graph, the walk's evidence and synth use it like a real one.
"""

from __future__ import annotations

import re
from array import array
from typing import Iterable, Iterator
from urllib.parse import quote

from ltrl_cli.backends.base import title_key
from ltrl_cli.backends.graph import title_flags
from ltrl_cli.errors import MissingDependency

_NON_WORD = re.compile(r"[\W_]")
_QUALIFIER = re.compile(r"^(.+?) \(([^()]+)\)$")
MAX_TITLE_CHARS = 200
_LENGTH_BITS = 8  # automaton values: title number << 8 | pattern length (patterns <= 255 chars)

# Frequent English words that are also Wikipedia titles but almost never mean the page when
# written in running text. Written for ltrl; compared case-insensitively, single words only.
COMMON_WORDS = frozenset("""
a about above across after again against all almost alone along already also although always
among an and another any anyone anything are area around as at away back be became because
become been before began behind being below best better between both but by called came can
case cause certain change close come common could day days did different do does done down
during each early east either end even ever every example far few field first five follow
following for form former found four free from further general given go good great group had
half has have he her here high him his home how however if important in include including into
is it its just kind known large last later law least less life like line little long made
main major make man many may me means men might more most much must my name near need never
new next no north not nothing now number of off often old on once one only open or order
other our out over own part past people period place play point power present public put
rather real right said same second see set several shall she should show side since small so
some something south still such system take than that the their them then there these they
thing things third this those though three through thus time times to today together too top
toward towards two type under until up upon us use used using very was way we well were west
what when where whether which while who whole why will with within without word words work
world would year years yet you young your
""".split())


def _spaced(text: str) -> str:
    """The text with every non-letter, non-digit character as a space (same length)."""
    return _NON_WORD.sub(" ", text)


class MentionLinker:
    """Finds other pages' titles in a page's paragraphs and makes inferred anchors of them.

    Args:
        titles: every page title of the corpus, in any order (repeats are fine).
        min_chars: the shortest title (in characters) that is matched.
    """

    def __init__(self, titles: Iterable[str], min_chars: int = 4):
        try:
            import ahocorasick
        except ImportError:
            raise MissingDependency("pyahocorasick", "index", "Inferring links from title mentions") from None
        self.min_chars = min_chars
        self._blob = bytearray()
        self._offsets = array("q", [0])
        self._automaton = ahocorasick.Automaton(ahocorasick.STORE_INTS)
        bases: dict[str, int] = {}
        for title in titles:
            title = title.strip()
            if not self._worth(title):
                continue
            patterns = self._patterns(title)
            if patterns[0] in self._automaton:  # a repeated title: the first page keeps it
                continue
            number = self._keep(title_key(title))
            for pattern in patterns:
                self._add(pattern, number)
            qualified = _QUALIFIER.match(title)
            if qualified and self._worth(qualified.group(1)):
                base = qualified.group(1)
                bases[base] = -1 if base in bases else number
        for base, number in bases.items():  # "Mercury (planet)" as "Mercury", if nothing else is
            patterns = self._patterns(base, lower=False)
            if number >= 0 and patterns[0] not in self._automaton:
                for pattern in patterns:
                    self._add(pattern, number)
        self._automaton.make_automaton()
        self.titles = len(self._offsets) - 1

    def _worth(self, title: str) -> bool:
        return (self.min_chars <= len(title) <= MAX_TITLE_CHARS and not title_flags(title)
                and title.lower() not in COMMON_WORDS and _spaced(title).strip() != "")

    @staticmethod
    def _patterns(title: str, lower: bool = True) -> list[str]:
        forms = [title]
        rest = title[1:]
        if lower and " " in title and "(" not in title and title[:1].isupper() and rest == rest.lower():
            forms.append(title[:1].lower() + rest)
        return [" " + _spaced(form) + " " for form in forms]

    def _keep(self, key: str) -> int:
        self._blob += key.encode("utf-8", "surrogatepass")
        self._offsets.append(len(self._blob))
        return len(self._offsets) - 2

    def _add(self, pattern: str, number: int) -> None:
        if len(pattern) < 256 and pattern not in self._automaton:
            self._automaton.add_word(pattern, number << _LENGTH_BITS | len(pattern))

    def title(self, number: int) -> str:
        return self._blob[self._offsets[number]:self._offsets[number + 1]].decode("utf-8", "surrogatepass")

    def mentions(self, paragraph: str) -> list[tuple[int, int, int]]:
        """(start, end, title number) of each title mentioned, leftmost-longest, no overlaps."""
        spaced = " " + _spaced(paragraph) + " "
        found = []
        for end, value in self._automaton.iter(spaced):
            length = value & ((1 << _LENGTH_BITS) - 1)
            start = end - length + 1  # the pattern's leading space, at spaced[start]
            found.append((start, -(length - 2), value >> _LENGTH_BITS))
        found.sort()
        out, reach = [], 0
        for start, neg_len, number in found:
            if start >= reach:  # in paragraph coordinates the word starts at `start` (padding cancels)
                out.append((start, start - neg_len, number))
                reach = start - neg_len
        return out

    def anchors(self, page: dict) -> list[dict]:
        """Inferred anchors for a clean page (see module doc), in paragraph order."""
        own = title_key(page["wikipedia_title"])
        out = []
        for pid, paragraph in enumerate(page["text"]):
            if pid == 0 or paragraph.lstrip().startswith("## "):
                continue
            seen: set[int] = set()
            for start, end, number in self.mentions(paragraph):
                if number in seen:
                    continue
                seen.add(number)
                title = self.title(number)
                if title == own:
                    continue
                out.append({"text": paragraph[start:end], "href": quote(title), "paragraph_id": pid,
                            "start": start, "end": end, "inferred": True})
        return out


def infer_anchors(linker: MentionLinker, pages: Iterable[dict], workers: int = 1,
                  batch: int = 64) -> Iterator[dict]:
    """Each page, in order, with inferred anchors where it has no anchors or links of its own.

    With `workers` > 1 the matching runs in that many forked processes (the automaton is
    shared with them by fork, not copied through a pipe). In batches, the title and text
    of each page that needs links go out pickled and only its anchors come back: sending
    whole pages both ways held 2 processes to 1.3x of one, this gives 1.56x (100k demo
    pages, 2 cores). No thread is started: the caller goes on starting child processes
    (Lucene's JVM, with a preexec_fn) while pages flow, and a fork beside running threads
    can leave the child stuck on a lock. Each process has one batch in hand at a time, so
    neither side can block the other on a full pipe. The processes end when the pages do.
    """
    if workers <= 1:
        for page in pages:
            yield _with_anchors(linker, page)
        return
    import itertools
    import multiprocessing

    context = multiprocessing.get_context("fork")
    links, procs = [], []
    for _ in range(workers):
        ours, theirs = context.Pipe()
        proc = context.Process(target=_serve, args=(linker, theirs, [*links, ours]), daemon=True)
        proc.start()
        theirs.close()
        links.append(ours)
        procs.append(proc)
    try:
        pages = iter(pages)
        batches = iter(lambda: list(itertools.islice(pages, batch)), [])
        busy: list[tuple] = []  # (process, its batch), oldest first
        for link in links:  # one batch to each process
            chunk = next(batches, None)
            if chunk is None:
                break
            busy.append((link, _send(link, chunk)))
        while busy:
            link, chunk = busy.pop(0)
            done = link.recv()
            following = next(batches, None)
            if following is not None:
                busy.append((link, _send(link, following)))
            found = iter(done)
            for page in chunk:
                if _needs(page):
                    page["anchors"] = next(found)
                yield page
    finally:
        for link in links:
            link.close()  # the process sees EOF and ends
        for proc in procs:
            proc.join(timeout=5)
            if proc.is_alive():
                proc.kill()


def _send(link, chunk: list[dict]) -> list[dict]:
    """Send a process what it matches in `chunk`: the title and text of each page without links."""
    link.send([(page["wikipedia_title"], page["text"]) for page in chunk if _needs(page)])
    return chunk


def _serve(linker: MentionLinker, link, inherited: list) -> None:
    """A worker process: batches of (title, text) in, each one's anchors out, until EOF."""
    for other in inherited:  # our end's parent side and earlier workers', copied by fork: each open copy
        other.close()       # of a parent side hides the EOF its worker waits for to end
    while True:
        try:
            pages = link.recv()
        except EOFError:
            return
        link.send([linker.anchors({"wikipedia_title": title, "text": text}) for title, text in pages])


def _needs(page: dict) -> bool:
    """Whether a page gets inferred anchors: it has no anchors or links of its own."""
    return not page["anchors"] and not page.get("unplaced_links")


def _with_anchors(linker: MentionLinker, page: dict) -> dict:
    if _needs(page):
        page["anchors"] = linker.anchors(page)
    return page
