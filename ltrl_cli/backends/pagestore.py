"""How an index stores pages: the text once, LZ4-compressed, beside the graph; Lucene only indexes it.

`DIR/pages/` holds, in node order:

- `text.bin`: each page's text (`base.page_text`: the paragraphs joined by line breaks,
  title line first), UTF-8, compressed as one LZ4 block (the same algorithm Lucene uses
  for stored fields, about the same size); `text.npy` (int64, n+1) says where each block
  starts and ends;
- `meta.bin`: the JSON array `[lengths, record]`, where the record is the page with
  `"text": null` (so `page(id)` keeps the record's key order) and `lengths` cut the text
  back into the same paragraphs; `offsets.npy` (int64, n+1) likewise.

Lucene indexes the same text but stores only the page id. A hit's snippet therefore
costs one slice of a memory-mapped file and a few microseconds of LZ4, where reading the
text back from Lucene's stored fields took three times the BM25 query on long pages; and
opening a page needs no JVM.

Format 1 stored every page twice (the indexed text, then the whole record as Anserini's
pretty-printed raw JSON); format 2 stored the text once, in Lucene.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import orjson

from ltrl_cli.backends.base import page_text
from ltrl_cli.backends.blobs import Blobs
from ltrl_cli.errors import BackendError, MissingDependency

try:
    import lz4.block as lz4_block
except ImportError:  # the `index` extra is missing: said when a page is first written or read
    lz4_block = None

FORMAT = 3  # the index format `open_index` reads; COMPLETE records the one an index was built with


def split_page(page: dict) -> tuple[str, bytes]:
    """(the text Lucene indexes and `text.bin` keeps, the rest of the page as `meta.bin` holds it).

    Lucene drops a document whose text is blank, so such a page is indexed under its
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


def encode_text(text: str) -> bytes:
    """A page's text as `text.bin` holds it: UTF-8 (lone surrogates kept), one LZ4 block.

    >>> decode_text(encode_text("Paris\\nThe capital.")).decode()
    'Paris\\nThe capital.'
    """
    return _lz4().compress(text.encode("utf-8", "surrogatepass"))


def decode_text(block: bytes) -> bytes:
    """The UTF-8 text of one `text.bin` block (ValueError when the block is damaged)."""
    lz4 = _lz4()
    try:
        return lz4.decompress(block)
    except lz4.LZ4BlockError as exc:
        raise ValueError(f"a damaged LZ4 block ({exc})") from None


def _lz4():
    if lz4_block is None:
        raise MissingDependency("lz4", "index", "An ltrl index's page store")
    return lz4_block


class PageWriter:
    """Writes `DIR/pages/`, one page at a time in node order; `finish()` writes the offsets.

    `checkpoint()` returns the page count to pass as `resume` to reopen the store there.
    """

    def __init__(self, out: Path, resume: int | None = None):
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        self._text, self._meta = Blobs(out, "text", "text", resume), Blobs(out, "meta", "offsets", resume)

    def add(self, text: str, meta: bytes) -> None:
        self._text.add(encode_text(text))
        self._meta.add(meta)

    def checkpoint(self) -> int:
        self._text.checkpoint()
        return self._meta.checkpoint()

    def finish(self) -> None:
        self._text.finish()
        self._meta.finish()


class _Slices:
    """Read side of one `Blobs` pair: item -> its bytes, sliced from the memory-mapped file."""

    def __init__(self, path: Path, name: str, offsets: str):
        from ltrl_cli.backends.graph import _blob

        self._offsets = np.load(path / f"{offsets}.npy", mmap_mode="r").view(np.ndarray)
        self._blob = _blob(path / f"{name}.bin")
        if len(self._offsets) == 0 or int(self._offsets[-1]) != len(self._blob):
            raise ValueError(f"{path / (name + '.bin')} does not end where {offsets}.npy says")

    def __getitem__(self, node: int) -> bytes:
        return self._blob[int(self._offsets[node]):int(self._offsets[node + 1])]

    def __len__(self) -> int:
        return len(self._offsets) - 1


class Pages:
    """Read side of `DIR/pages/`: a node's text (UTF-8 bytes) and its `meta.bin` entry."""

    def __init__(self, path: Path):
        path = Path(path)
        self._text, self._meta = _Slices(path, "text", "text"), _Slices(path, "meta", "offsets")
        if len(self._text) != len(self._meta):
            raise ValueError(f"{path}: {len(self._text):,} texts but {len(self._meta):,} records")

    def text(self, node: int) -> bytes:
        """The page's text as UTF-8 (`str` is `.decode("utf-8", "surrogatepass")`)."""
        return decode_text(self._text[node])

    def meta(self, node: int) -> bytes:
        return bytes(self._meta[node])

    def __len__(self) -> int:
        return len(self._meta)
