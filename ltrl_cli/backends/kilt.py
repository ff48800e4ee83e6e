"""Reading KILT knowledge-source files and resolving their hyperlinks to titles.

A KILT page links to another through an anchor whose `href` is the target's title as
Wikipedia writes it in a URL: percent-encoded, perhaps with underscores for spaces, a
lower-case first letter or a `#Section` fragment. `href_title` undoes all of that and
`title_key` (from base) makes the result comparable with page titles. Titles are matched
through a 64-bit hash (`title_hash`) so a map of 6M titles fits in two numpy arrays.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Iterator
from urllib.parse import unquote

import numpy as np
import orjson

from ltrl_cli.backends.base import title_key
from ltrl_cli.backends.pages import TITLE_FIELDS, PageReader
from ltrl_cli.errors import BadInput, LtrlError
from ltrl_cli.io import open_input



def href_title(href: str) -> str:
    """The page title an anchor's href points at, normalised as Wikipedia resolves it.

    >>> href_title("D%C3%A1l%20Riata")
    'Dál Riata'
    >>> href_title("adolf_Hitler#Early%20years")
    'Adolf Hitler'
    >>> href_title("#History")
    ''
    """
    return title_key(unquote(href).split("#", 1)[0])


def title_hash(key: str) -> bytes:
    """Eight bytes identifying a normalised title (or a page id) in the on-disk maps."""
    return hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=8).digest()



class SeenIds:
    """Which page ids a stream has had, in about 8 bytes an id (KILT's 5.9M: ~50 MB).

    Ids are kept as 64-bit hashes: a sorted array, and a set of recent ones merged into
    it every `merge_every`. Two distinct ids may share a hash (about one chance in a
    million over all of KILT); the caller treats a repeat as skippable, never as fatal.

    >>> seen = SeenIds(merge_every=2)
    >>> [seen.add(i) for i in ["1", "2", "3", "1", "3", "4"]]
    [True, True, True, False, False, True]
    """

    def __init__(self, merge_every: int = 1 << 16):
        self.merge_every = merge_every
        self._sorted = np.empty(0, dtype=np.uint64)
        self._recent: set[int] = set()

    @classmethod
    def from_digests(cls, digests: bytes) -> "SeenIds":
        """The ids whose `title_hash` digests are concatenated in `digests` (a resumed build's)."""
        seen = cls()
        seen._sorted = np.unique(np.frombuffer(digests, dtype="<u8"))
        return seen

    def add(self, page_id: str) -> bool:
        """Remember `page_id`; False when it was seen before."""
        digest = int.from_bytes(title_hash(page_id), "little")
        if digest in self._recent:
            return False
        at = int(np.searchsorted(self._sorted, np.uint64(digest)))
        if at < len(self._sorted) and int(self._sorted[at]) == digest:
            return False
        self._recent.add(digest)
        if len(self._recent) >= self.merge_every:
            fresh = np.sort(np.fromiter(self._recent, dtype=np.uint64, count=len(self._recent)))
            self._sorted = np.insert(self._sorted, np.searchsorted(self._sorted, fresh), fresh)
            self._recent.clear()
        return True

def open_kilt(path: Path):
    """A binary line stream over a KILT file, gzip-compressed or not."""
    path = Path(path)
    if path.is_dir():
        raise LtrlError(f"{path}: is a directory, not a corpus file (JSON lines, plain or .gz)")
    if not path.exists():
        raise LtrlError(f"{path}: no such file")
    return open_input(path)


def read_raw(path: Path) -> Iterator[tuple[int, object]]:
    """(line number, parsed JSON) for each non-blank line of a corpus file.

    A line that is not JSON, or not UTF-8, raises BadInput naming the file and line.
    """
    for number, raw, _ in read_raw_from(path):
        yield number, raw


def read_raw_from(path: Path, line: int = 0, offset: int = 0) -> Iterator[tuple[int, object, int]]:
    """(line number, parsed JSON, byte offset after the line) for each non-blank line after `offset`.

    `line` and `offset` are a position an earlier pass reported (0, 0: the start), so a
    build can go on where it stopped; a gzip file is decompressed up to it, not parsed.
    """
    with open_kilt(path) as stream:
        if offset:
            stream.seek(offset)
        number = line
        try:
            for number, raw in enumerate(stream, start=line + 1):
                offset += len(raw)
                if raw.strip():
                    yield number, _loads(raw, number, str(path)), offset
        except (EOFError, OSError) as exc:  # a cut-off or damaged .gz
            raise BadInput(f"cannot read past this line: {exc}", line=number + 1, source=str(path)) from None


def _loads(raw: bytes, number: int, source: str):
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as bad:
            raise BadInput(f"not valid UTF-8 (byte {bad.start + 1} of the line)", line=number, source=source) from None
        raise BadInput(f"not valid JSON ({exc})", line=number, source=source) from None


def read_pages(path: Path, reader: PageReader | None = None) -> Iterator[dict]:
    """Stream the clean pages of a corpus file (see backends/pages.py for what is accepted).

    A malformed line raises BadInput naming the file and line number.
    """
    reader = reader or PageReader()
    for number, raw in read_raw(path):
        yield reader.normalise(raw, number, str(path))


def read_pages_from(path: Path, reader: PageReader, line: int = 0, offset: int = 0) -> Iterator[tuple[dict, int, int]]:
    """(page, its line number, the byte offset after it) for each page after `offset` (`read_raw_from`)."""
    for number, raw, end in read_raw_from(path, line, offset):
        yield reader.normalise(raw, number, str(path)), number, end


def read_titles(path: Path) -> Iterator[str]:
    """The title of each page of a corpus file, without reading the rest of the page.

    A line without a title is left to the full pass, which names it.
    """
    for _, raw in read_raw(path):
        title = next((raw[f] for f in TITLE_FIELDS if isinstance(raw.get(f), str)), None) if isinstance(raw, dict) else None
        if title:
            yield title


def page_links(page: dict) -> Iterator[tuple[str, int]]:
    """(normalised target title, anchor index) for each link of a page.

    Placed anchors come first with their index in `anchors`; the `unplaced_links` of the
    Wikispeedia conversion (links whose anchor text was not found in the page) follow
    with index -1, so a duplicate keeps the evidence of its placed anchor.
    """
    for index, anchor in enumerate(page.get("anchors") or ()):
        href = anchor.get("href") if isinstance(anchor, dict) else None
        if href:
            yield href_title(href), index
    for href in page.get("unplaced_links") or ():
        if isinstance(href, str) and href:
            yield href_title(href), -1

