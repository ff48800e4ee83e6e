"""How an index stores pages: the text once, in Lucene; the rest of each record beside the graph.

Lucene keeps a page's text as its stored `contents`, the field it also indexes: the
paragraphs joined by line breaks, title line first (`base.page_text`). A search hit reads
only that, for its snippet. The rest of the KILT record (title, anchors, unplaced links,
categories...) and the paragraph lengths that cut the text back into the same list go to
`DIR/pages/`:

- `meta.bin`: per page, in node order, the JSON array `[lengths, record]`, where the
  record is the page with `"text": null` (so `page(id)` keeps the record's key order);
- `offsets.npy` (int64, n+1): where each page's JSON starts and ends in `meta.bin`.

Format 1 indexes stored every page twice (the indexed text, then the whole record as
Anserini's pretty-printed raw JSON): 114 MB for Wikispeedia's 62 MB of Lucene index.
"""

from __future__ import annotations

from array import array
from pathlib import Path

import numpy as np
import orjson

from ltrl_cli.backends.base import page_text
from ltrl_cli.errors import BackendError

FORMAT = 2  # the index format `open_index` reads; COMPLETE records the one an index was built with


def split_page(page: dict) -> tuple[str, bytes]:
    """(the text Lucene stores, the rest of the page as `meta.bin` holds it).

    Lucene drops a document whose text is blank, so such a page is stored under its
    title and keeps its (blank) paragraphs in the record, with null for the lengths.

    >>> text, meta = split_page({"wikipedia_id": "1", "text": ["T\\n", "A b.\\n"], "anchors": []})
    >>> text, meta
    ('T\\n\\nA b.\\n', b'[[2,5],{"wikipedia_id":"1","text":null,"anchors":[]}]')
    >>> join_page(text, meta)
    {'wikipedia_id': '1', 'text': ['T\\n', 'A b.\\n'], 'anchors': []}
    >>> join_page(*split_page({"wikipedia_title": "T", "text": [" "]}))
    {'wikipedia_title': 'T', 'text': [' ']}
    """
    text = page_text(page)
    if not text.strip():
        return str(page.get("wikipedia_title") or "-"), orjson.dumps([None, page])
    return text, orjson.dumps([[len(p) for p in page["text"]], {**page, "text": None}])


def join_page(text: str, meta: bytes) -> dict:
    """The KILT record that `split_page` took apart."""
    lengths, page = orjson.loads(meta)
    if lengths is None:
        return page
    paragraphs, at = [], 0
    for length in lengths:
        paragraphs.append(text[at:at + length])
        at += length + 1
    if at - 1 != len(text):
        raise BackendError(f"page {page.get('wikipedia_id')!r}: its stored text does not match its paragraph "
                           "lengths; the index is damaged, rebuild it with: ltrl index FILE -o DIR --force")
    page["text"] = paragraphs
    return page


class MetaWriter:
    """Appends each page's `meta.bin` entry in node order; `finish()` writes the offsets."""

    def __init__(self, out: Path):
        self.out = Path(out)
        self.out.mkdir(parents=True, exist_ok=True)
        self._blob = open(self.out / "meta.bin", "wb")
        self._offsets = array("q", [0])  # 8 bytes a page

    def add(self, meta: bytes) -> None:
        self._blob.write(meta)
        self._offsets.append(self._offsets[-1] + len(meta))

    def finish(self) -> None:
        self._blob.close()
        np.save(self.out / "offsets.npy", np.frombuffer(self._offsets, dtype=np.int64))


class Meta:
    """Read side of `DIR/pages/`: node -> its `meta.bin` entry (bytes)."""

    def __init__(self, path: Path):
        from ltrl_cli.backends.graph import _blob

        self._offsets = np.load(Path(path) / "offsets.npy", mmap_mode="r").view(np.ndarray)
        self._blob = _blob(Path(path) / "meta.bin")

    def __getitem__(self, node: int) -> bytes:
        return bytes(self._blob[int(self._offsets[node]):int(self._offsets[node + 1])])

    def __len__(self) -> int:
        return len(self._offsets) - 1
