"""The hyperlink graph of an index: CSR arrays on disk, memory-mapped, plus title and id maps.

Layout of `DIR/graph/` (all arrays are .npy, opened with mmap_mode="r"):
- `indptr` (int64, n+1) and `indices` (int32, E): node u links to indices[indptr[u]:indptr[u+1]],
  sorted ascending; no self-links, no duplicates.
- `anchors` (int32, E): for each edge, the index of the anchor in the source page's
  `anchors` list that made it, or -1 (a link without a placed anchor).
- `titles.bin` + `title_offsets`, `ids.bin` + `id_offsets`: node -> title and page id (UTF-8).
- `title_hashes` + `title_nodes`, `id_hashes` + `id_nodes`: sorted 64-bit hashes of the
  normalised titles and of the page ids, with their nodes: title/id -> node by binary search.
- `in_degree` (int64, n): links into each node; `flags` (uint8, n): title kinds a walk may
  want to avoid (LIST, DISAMBIGUATION, DATE bits), so a walk never scans 6M titles.

A node is a page's position in the KILT file (0-based). Nothing here holds Python objects
per page or per edge, so a 6M-page, 100M-edge graph opens in milliseconds and costs only
the pages of the arrays a walk touches.
"""

from __future__ import annotations

import mmap
import os
import re
import shutil
from pathlib import Path
from typing import BinaryIO, Iterable

import numpy as np

from ltrl_cli.backends.base import title_key
from ltrl_cli.backends.kilt import title_hash
from ltrl_cli.backends.blobs import Blobs

EDGE = np.dtype([("src", "<i4"), ("key", "<u8"), ("anchor", "<i4")])

LIST, DISAMBIGUATION, DATE = 1, 2, 4
_MONTH = r"(January|February|March|April|May|June|July|August|September|October|November|December)"
_LIST = re.compile(r"^(List|Lists|Index|Outline|Timeline|Glossary|Table) of ")
_DISAMBIGUATION = re.compile(r"\((disambiguation|[^)]*disambiguation[^)]*)\)$")
_DATE = re.compile(
    rf"^(\d{{1,4}}s?( BC| BCE| AD| CE)?|(AD|BC) \d{{1,4}}|\d{{1,2}}(st|nd|rd|th) (century|millennium)( BC)?"
    rf"|{_MONTH}( \d{{1,2}})?|\d{{1,2}} {_MONTH}|{_MONTH} \d{{4}}|\d{{4}}s? in .+)$")


def title_flags(title: str) -> int:
    """Bit flags for titles a walk usually skips: lists, disambiguation pages, dates.

    >>> title_flags("List of rivers of Europe"), title_flags("Mercury (disambiguation)")
    (1, 2)
    >>> [title_flags(t) for t in ("1879", "1990s", "14 March", "19th century", "1905 in science", "Paris")]
    [4, 4, 4, 4, 4, 0]
    """
    return ((LIST if _LIST.match(title) else 0) | (DISAMBIGUATION if _DISAMBIGUATION.search(title) else 0)
            | (DATE if _DATE.match(title) else 0))


class Graph:
    """Read side: a link graph opened from `DIR/graph/`."""

    def __init__(self, path: Path):
        self.path = Path(path)
        # Plain ndarray views of the maps: np.memmap's subclass hooks cost more than the lookups.
        load = lambda name: np.load(self.path / f"{name}.npy", mmap_mode="r").view(np.ndarray)  # noqa: E731
        self.indptr, self.indices, self.anchors = load("indptr"), load("indices"), load("anchors")
        self._title_offsets, self._id_offsets = load("title_offsets"), load("id_offsets")
        self._title_hashes, self._title_nodes = load("title_hashes"), load("title_nodes")
        self._id_hashes, self._id_nodes = load("id_hashes"), load("id_nodes")
        self._titles, self._ids = _blob(self.path / "titles.bin"), _blob(self.path / "ids.bin")
        self._in_degree: np.ndarray | None = None
        self.flags = load("flags")

    def __len__(self) -> int:
        return len(self.indptr) - 1

    @property
    def out_degree(self) -> np.ndarray:
        return np.diff(self.indptr)

    @property
    def in_degree(self) -> np.ndarray:
        """Links into each node (computed once, on first use)."""
        if self._in_degree is None:
            self._in_degree = np.load(self.path / "in_degree.npy", mmap_mode="r").view(np.ndarray)
        return self._in_degree

    def neighbors(self, node: int) -> np.ndarray:
        return self.indices[self.indptr[node]:self.indptr[node + 1]]

    def has_edge(self, src: int, dst: int) -> bool:
        return self._edge(src, dst) is not None

    def anchor_index(self, src: int, dst: int) -> int | None:
        """The source page's anchor (index into its `anchors`) behind link src -> dst.

        None when there is no such link or the link has no placed anchor.
        """
        edge = self._edge(src, dst)
        if edge is None or self.anchors[edge] < 0:
            return None
        return int(self.anchors[edge])

    def _edge(self, src: int, dst: int) -> int | None:
        lo, hi = int(self.indptr[src]), int(self.indptr[src + 1])
        pos = lo + int(np.searchsorted(self.indices[lo:hi], dst))
        return pos if pos < hi and self.indices[pos] == dst else None

    def title(self, node: int) -> str:
        return _text(self._titles, self._title_offsets, node)

    def page_id(self, node: int) -> str:
        return _text(self._ids, self._id_offsets, node)

    def titles(self, nodes) -> list[str]:
        """Titles of many nodes at once (one numpy lookup for all their offsets)."""
        return _texts(self._titles, self._title_offsets, nodes)

    def page_ids(self, nodes) -> list[str]:
        return _texts(self._ids, self._id_offsets, nodes)

    def node_for_title(self, title: str) -> int | None:
        """Resolve a title as Wikipedia does (underscores, first letter)."""
        key = title_key(title)
        node = _lookup(self._title_hashes, self._title_nodes, title_hash(key))
        return node if node is not None and title_key(self.title(node)) == key else None

    def node_for_id(self, page_id: str) -> int | None:
        node = _lookup(self._id_hashes, self._id_nodes, title_hash(str(page_id)))
        return node if node is not None and self.page_id(node) == str(page_id) else None


def _blob(path: Path):
    """A read-only byte view of a file: mmap slicing is cheap and pages in on demand."""
    with open(path, "rb") as f:
        if not os.fstat(f.fileno()).st_size:
            return b""
        return mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)


def _text(blob, offsets: np.ndarray, node: int) -> str:
    """One node's text: scalar reads, a few times cheaper than `_texts` (every search hit's title)."""
    if not 0 <= node < len(offsets) - 1:
        raise KeyError(f"node out of range: {node}")
    return blob[int(offsets[node]):int(offsets[node + 1])].decode("utf-8", "surrogatepass")


def _texts(blob, offsets: np.ndarray, nodes) -> list[str]:
    nodes = np.asarray(nodes, dtype=np.int64)
    try:
        if len(nodes) and nodes.min() < 0:
            raise IndexError
        starts, ends = offsets[nodes].tolist(), offsets[nodes + 1].tolist()
    except IndexError:
        raise KeyError(f"node out of range: {nodes.min()}..{nodes.max()}") from None
    return [blob[a:b].decode("utf-8", "surrogatepass") for a, b in zip(starts, ends)]


def _lookup(hashes: np.ndarray, nodes: np.ndarray, digest: bytes) -> int | None:
    key = np.frombuffer(digest, dtype="<u8")[0]
    pos = int(np.searchsorted(hashes, key))
    return int(nodes[pos]) if pos < len(hashes) and hashes[pos] == key else None


class GraphWriter:
    """Write side: fed page by page while the KILT file streams past, then `finish()`.

    Pages' titles and ids go straight to disk; links are spooled as fixed-size records
    (source node, target title hash, anchor index) to a scratch file and resolved at the
    end in chunks, so memory stays at a few bytes per page however long the text is.
    """

    def __init__(self, out: Path, scratch: Path, spool_every: int = 1 << 16, resume: dict | None = None):
        self.out, self.scratch = Path(out), Path(scratch)
        self.out.mkdir(parents=True, exist_ok=True)
        pages = None if resume is None else resume["pages"]
        self._titles, self._ids = Blobs(self.out, "titles", "title_offsets", pages), Blobs(self.out, "ids", "id_offsets", pages)
        # 8 bytes a page (not a Python int's 36): KILT's 5.9M pages cost ~50 MB per map
        self._title_hashes, self._id_hashes = bytearray(), bytearray()
        self._flags = bytearray()
        self._pending: list[tuple[int, bytes, int]] = []
        self.spool_every = spool_every
        self.stats = {"links": 0, "self_links": 0}
        if resume is None:
            self._spool: BinaryIO = open(self.scratch / "edges.spool", "wb")
            return
        self._spool = open(self.scratch / "edges.spool", "r+b")
        self._spool.truncate(resume["spool_bytes"])
        self._spool.seek(0, 2)
        self.stats.update(resume["stats"])
        for title, page_id in zip(self._titles.items(), self._ids.items()):  # the maps, from the pages kept
            self._index(title.decode("utf-8", "surrogatepass"), page_id.decode("utf-8", "surrogatepass"))

    def add_page(self, page_id: str, title: str, links: Iterable[tuple[str, int]]) -> int:
        """Record one page and its links (normalised target title, anchor index); return its node."""
        node = len(self._titles)
        key = title_key(title)
        self._titles.add(title.encode("utf-8", "surrogatepass"))
        self._ids.add(page_id.encode("utf-8", "surrogatepass"))
        self._index(title, page_id)
        for target, anchor in links:
            self.stats["links"] += 1
            if not target or target == key:  # "#Section" links and links to itself
                self.stats["self_links"] += 1
                continue
            self._pending.append((node, title_hash(target), anchor))
        if len(self._pending) >= self.spool_every:
            self._flush()
        return node

    def _index(self, title: str, page_id: str) -> None:
        self._title_hashes += title_hash(title_key(title))
        self._id_hashes += title_hash(page_id)
        self._flags.append(title_flags(title))

    @property
    def id_digests(self) -> bytes:
        """The 64-bit hash of each page id so far (kilt.SeenIds can start from them)."""
        return bytes(self._id_hashes)

    def checkpoint(self) -> dict:
        """Make the pages added so far durable; the dict reopens the writer there (`resume`)."""
        self._flush()
        self._spool.flush()
        return {"pages": min(self._titles.checkpoint(), self._ids.checkpoint()), "spool_bytes": self._spool.tell(),
                "stats": dict(self.stats)}

    def _flush(self) -> None:
        if not self._pending:
            return
        edges = np.empty(len(self._pending), dtype=EDGE)
        src, keys, anchors = zip(*self._pending)
        edges["src"], edges["anchor"] = src, anchors
        edges["key"] = np.frombuffer(b"".join(keys), dtype="<u8")
        edges.tofile(self._spool)
        self._pending.clear()

    def finish(self, chunk: int = 1 << 19) -> dict:
        """Resolve the spooled links and write the arrays; return the link counts."""
        self._flush()
        self._spool.close()
        n = len(self._titles)
        self._titles.finish()
        self._ids.finish()
        title_hashes = _save_lookup(self.out, "title", self._title_hashes)
        repeated_titles = int((title_hashes[1:] == title_hashes[:-1]).sum()) if n else 0
        _save_lookup(self.out, "id", self._id_hashes)
        title_nodes = np.load(self.out / "title_nodes.npy")
        resolved = _resolve(self.scratch / "edges.spool", title_hashes, title_nodes, n, self.scratch, chunk)
        for name in ("indices", "anchors"):
            _npy_from_raw(self.scratch / f"{name}.raw", self.out / f"{name}.npy", np.int32)
        np.save(self.out / "indptr.npy", resolved.pop("indptr"))
        np.save(self.out / "in_degree.npy", resolved.pop("in_degree"))
        np.save(self.out / "flags.npy", np.frombuffer(bytes(self._flags), dtype=np.uint8))
        self.stats["self_links"] += resolved.pop("self_links")
        self.stats.update(resolved, pages=n, repeated_titles=repeated_titles)
        return self.stats


def _save_lookup(out: Path, name: str, digests: bytearray) -> np.ndarray:
    """Sorted hashes and their nodes; a stable sort keeps the first page of a repeated title."""
    hashes = np.frombuffer(bytes(digests), dtype="<u8")
    order = np.argsort(hashes, kind="stable")
    np.save(out / f"{name}_hashes.npy", hashes[order])
    np.save(out / f"{name}_nodes.npy", order.astype(np.int32))
    return hashes[order]


def _resolve(spool: Path, hashes: np.ndarray, nodes: np.ndarray, n: int, scratch: Path, chunk: int) -> dict:
    """Turn spooled (src, target hash, anchor) records into CSR rows, chunk by chunk.

    The spool is in source order; a chunk's last source is held back and joined to the
    next chunk, so each source's duplicates are always seen together.
    """
    counts = np.zeros(n, dtype=np.int64)
    in_degree = np.zeros(n, dtype=np.int64)
    totals = {"resolved": 0, "unresolved": 0, "duplicates": 0, "self_links": 0}
    carry = np.empty(0, dtype=EDGE)
    with open(spool, "rb") as src, open(scratch / "indices.raw", "wb") as idx, \
            open(scratch / "anchors.raw", "wb") as anc:
        while True:
            block = np.fromfile(src, dtype=EDGE, count=chunk)
            last = len(block) == 0
            edges = np.concatenate([carry, block])
            if not last and len(edges):
                keep = edges["src"] != edges["src"][-1]
                edges, carry = edges[keep], edges[~keep]
            _resolve_chunk(edges, hashes, nodes, (counts, in_degree), totals, idx, anc)
            if last:
                break
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    return {**totals, "indptr": indptr, "in_degree": in_degree}


def _resolve_chunk(edges, hashes, nodes, counts, totals, idx: BinaryIO, anc: BinaryIO) -> None:
    if not len(edges):
        return
    pos = np.searchsorted(hashes, edges["key"]).clip(max=max(len(hashes) - 1, 0))
    found = hashes[pos] == edges["key"] if len(hashes) else np.zeros(len(edges), bool)
    totals["unresolved"] += int((~found).sum())
    src, dst, anchor = edges["src"][found], nodes[pos[found]], edges["anchor"][found]
    ok = src != dst  # a link to the page itself under another spelling of its title
    totals["self_links"] += int((~ok).sum())
    src, dst, anchor = src[ok], dst[ok], anchor[ok]
    order = np.lexsort((np.arange(len(src)), dst, src))  # by source, target, then first seen
    src, dst, anchor = src[order], dst[order], anchor[order]
    first = np.ones(len(src), dtype=bool)
    first[1:] = (src[1:] != src[:-1]) | (dst[1:] != dst[:-1])
    totals["duplicates"] += int((~first).sum())
    totals["resolved"] += int(first.sum())
    dst[first].astype(np.int32).tofile(idx)
    anchor[first].astype(np.int32).tofile(anc)
    out_counts, in_counts = counts
    out_counts += np.bincount(src[first], minlength=len(out_counts))
    in_counts += np.bincount(dst[first], minlength=len(in_counts))


def _npy_from_raw(raw: Path, target: Path, dtype) -> None:
    """Wrap a raw little-endian array file in an .npy header (its length known only now)."""
    count = raw.stat().st_size // np.dtype(dtype).itemsize
    with open(target, "wb") as out, open(raw, "rb") as data:
        np.lib.format.write_array_header_1_0(
            out, {"descr": np.dtype(dtype).str, "fortran_order": False, "shape": (count,)})
        shutil.copyfileobj(data, out, 1 << 24)
    raw.unlink()
