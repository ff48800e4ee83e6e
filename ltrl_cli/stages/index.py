"""Build an index directory from a KILT file: Lucene index + link graph + title map.

One streaming pass over the KILT file feeds two writers: JsonCollection chunks for
Lucene (`id`, `contents`, and the page itself, stored raw so `page(id)` can return it)
and the graph writer (titles, ids, spooled links). Then Anserini indexes the chunks, the
links are resolved, and the COMPLETE marker is written last: a run killed at any point
leaves a directory that `open_index` refuses and `ltrl index --force` may replace.

DIR/
  lucene/     Lucene index (BM25; raw pages stored)
  graph/      CSR link graph and title/id maps (see backends/graph.py)
  build.log   Anserini's log
  COMPLETE    JSON: counts, source, time (written last)
  .ltrl-index marks the directory as ours, so --force may delete it
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator

import orjson

from ltrl_cli import console
from ltrl_cli.backends import kilt
from ltrl_cli.backends.graph import GraphWriter
from ltrl_cli.errors import LtrlError
from ltrl_cli.io import replacing

COMPLETE = "COMPLETE"
OWNER_MARK = ".ltrl-index"
FORMAT_VERSION = 1


def build_index(source: Path, out: Path, *, force: bool = False, threads: int | None = None,
                chunk_pages: int = 50_000,
                progress: Callable[[Iterable[dict]], Iterator[dict]] | None = None) -> dict:
    """Index the KILT file `source` into directory `out`; return the counts for the summary.

    Args:
        source: KILT knowledge-source JSONL, plain or gzip.
        out: the index directory to create; it must not exist (or be empty) unless `force`.
        force: replace an existing index directory (never a directory ltrl did not make).
        threads: Lucene indexing threads (default: the CPU count, at most 8).
        chunk_pages: pages per JsonCollection chunk (Anserini indexes chunks in parallel).
        progress: wraps the page stream, e.g. to draw a progress bar.
    """
    started = time.perf_counter()
    source, out = Path(source), Path(out)
    if not source.is_file():
        raise LtrlError(f"{source}: no such file")
    _prepare(out, force)
    scratch = out / ".build"
    (scratch / "collection").mkdir(parents=True)
    graph = GraphWriter(out / "graph", scratch)
    pages = kilt.read_pages(source)
    n, repeats = _stream(progress(pages) if progress else pages, graph, scratch / "collection", chunk_pages)
    if n == 0:
        raise LtrlError(f"{source}: no pages found")
    if repeats.count:
        console.warn(f"index: skipped {repeats.count:,} page(s) whose id an earlier page already had "
                     f"(first: id {repeats.first!r}); the first page of each id is the one indexed")
    with console.status(f"Lucene: indexing {n:,} pages"):
        from ltrl_cli.backends import lucene

        lucene.build(scratch / "collection", out / "lucene", out / "build.log", threads or _threads())
    with console.status("resolving links"):
        stats = graph.finish()
    shutil.rmtree(scratch)
    stats.update(repeated_ids=repeats.count, source=str(source), seconds=round(time.perf_counter() - started, 1),
                 format=FORMAT_VERSION)
    _write_marker(out, stats)
    return stats


def _threads() -> int:
    return max(1, min(8, os.cpu_count() or 1))


def _prepare(out: Path, force: bool) -> None:
    """Make `out` ready for a fresh build, refusing to clobber what should not be."""
    if out.exists() and not out.is_dir():
        raise LtrlError(f"{out} is not a directory; give -o a new or empty directory")
    if out.exists() and any(out.iterdir()):
        if not force:
            raise LtrlError(f"{out} already exists; pass --force to rebuild it")
        if not (out / OWNER_MARK).exists():
            raise LtrlError(f"{out} is not empty and was not made by `ltrl index`; not deleting it")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / OWNER_MARK).write_text("ltrl index directory\n")


@dataclass
class Repeats:
    """Pages skipped because an earlier page had their id."""

    count: int = 0
    first: str | None = None


def _stream(pages: Iterable[dict], graph: GraphWriter, collection: Path, chunk_pages: int) -> tuple[int, Repeats]:
    """Write each page to a Lucene chunk and to the graph writer; return the page count.

    KILT ids are unique; a page whose id came before (a file concatenated twice, a
    merge of two dumps) is skipped and counted, so Lucene and the graph agree on which
    page an id means: the first.
    """
    count, seen, repeats = 0, kilt.SeenIds(), Repeats()
    chunk = None
    try:
        for page in pages:
            page_id = str(page["wikipedia_id"])
            if not seen.add(page_id):
                repeats.count += 1
                repeats.first = repeats.first or page_id
                continue
            if count % chunk_pages == 0:
                if chunk:
                    chunk.close()
                chunk = open(collection / f"part-{count // chunk_pages:05d}.jsonl", "wb")
            chunk.write(orjson.dumps({"id": page_id, "contents": kilt.contents(page), "page": page}) + b"\n")
            graph.add_page(page_id, str(page["wikipedia_title"]), kilt.page_links(page))
            count += 1
    finally:
        if chunk:
            chunk.close()
    return count, repeats


def _write_marker(out: Path, stats: dict) -> None:
    with replacing(out / COMPLETE) as tmp:  # the marker appears whole, last
        tmp.write_bytes(orjson.dumps(stats, option=orjson.OPT_INDENT_2))
