"""Build an index directory from a KILT file: Lucene index + link graph + title map.

One streaming pass over the KILT file feeds three writers: Anserini's indexer, running
meanwhile and fed through named pipes (`id` and `contents`, the page's text, indexed
but not stored), the page store (each page's text once, LZ4-compressed, and the rest of
its record: backends/pagestore.py), and the graph writer (titles, ids, spooled links). The links are resolved while Lucene merges, and the
COMPLETE marker is written last: a run killed at any point leaves a directory that
`open_index` refuses and `ltrl index --force` may replace.

DIR/
  lucene/     Lucene index (BM25 over each page's text; only the page id stored)
  pages/      each page's text and the rest of its record, in node order (backends/pagestore.py)
  graph/      CSR link graph and title/id maps (see backends/graph.py)
  build.log   Anserini's log
  COMPLETE    JSON: counts, source, time (written last)
  .ltrl-index marks the directory as ours, so --force may delete it
"""

from __future__ import annotations

import itertools
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator

import orjson

from ltrl_cli import console
from ltrl_cli.backends import kilt
from ltrl_cli.backends.index import COMPLETE, OWNER_MARK, owner_mark
from ltrl_cli.backends.graph import GraphWriter
from ltrl_cli.backends.pages import DERIVED, PageReader
from ltrl_cli.backends.pagestore import FORMAT, PageWriter, split_page
from ltrl_cli.errors import LtrlError
from ltrl_cli.io import replacing


PEEK_PAGES = 1000  # pages looked at to tell a corpus without anchors


def build_index(source: Path, out: Path, *, force: bool = False, threads: int | None = None,
                id_field: str | None = None, link_mentions: bool | None = None,
                progress: Callable[[Iterable[dict]], Iterator[dict]] | None = None) -> dict:
    """Index the corpus file `source` into directory `out`; return the counts for the summary.

    Args:
        source: KILT knowledge-source JSONL, or any JSONL of pages (backends/pages.py), plain or gzip.
        out: the index directory to create; it must not exist (or be empty) unless `force`.
        force: replace an existing index directory (never a directory ltrl did not make).
        threads: Lucene indexing threads, and processes inferring links (default: the CPU count, at most 8).
        id_field: the field holding page ids ("title": derive them); None: the first of
            wikipedia_id, _id, id that the first page has.
        link_mentions: infer links from title mentions on pages without anchors; None:
            only when none of the first PEEK_PAGES pages has an anchor (with a notice).
        progress: wraps the page stream, e.g. to draw a progress bar.

    A build that fails removes what it wrote, so the same command can simply be rerun.
    """
    started = time.perf_counter()
    source, out = Path(source), Path(out)
    kilt.open_kilt(source).close()  # "no such file", "is a directory" before anything is made
    made = _prepare(out, force, source)
    try:
        return _build(source, out, threads, id_field, link_mentions, progress, started)
    except BaseException:
        _discard(out, made)
        raise


def _build(source, out, threads, id_field, link_mentions, progress, started) -> dict:
    reader = PageReader(id_field)
    if link_mentions is None:
        link_mentions = not _has_anchors(itertools.islice(kilt.read_pages(source, PageReader(id_field)), PEEK_PAGES))
        if link_mentions:
            console.info(f"index: none of the first {PEEK_PAGES:,} pages has a hyperlink; inferring links from "
                           "mentions of other pages' titles (--no-link-mentions to turn this off)")
    linker = None
    if link_mentions:
        with console.status("reading titles for --link-mentions"):
            from ltrl_cli.backends.mentions import MentionLinker

            linker = MentionLinker(kilt.read_titles(source))
    scratch = out / ".build"
    scratch.mkdir()
    threads = threads or _threads()
    graph, store = GraphWriter(out / "graph", scratch), PageWriter(out / "pages")
    pages = kilt.read_pages(source, reader)
    if reader.chosen_by_first_page:
        pages = _announce_ids(pages, reader)
    pages = progress(pages) if progress else pages
    if linker is not None:
        from ltrl_cli.backends.mentions import infer_anchors

        pages = infer_anchors(linker, pages, threads)
    from ltrl_cli.backends.lucene import Feed

    feed = Feed(scratch, out / "lucene", out / "build.log", threads)
    try:
        n, repeats, inferred = _stream(pages, graph, store, feed)
        if n == 0:
            raise LtrlError(f"{source}: no pages found")
        feed.close_input()
        with console.status("resolving links"):  # while Lucene merges
            stats = graph.finish()
        with console.status(f"Lucene: indexing {n:,} pages"):
            feed.finish()
    except BaseException:
        feed.abort()
        raise
    if repeats.count:
        console.warn(f"index: skipped {repeats.count:,} page(s) whose id an earlier page already had "
                     f"(first: id {repeats.first!r}); the first page of each id is the one indexed")
    shutil.rmtree(scratch)
    stats.update(repeated_ids=repeats.count, inferred_links=inferred, source=str(source),
                 seconds=round(time.perf_counter() - started, 1), format=FORMAT, id_field=reader.id_field,
                 anchors_out_of_range=reader.counts["anchors_out_of_range"],
                 anchors_no_target=reader.counts["anchors_no_target"])
    _warn_counts(stats)
    _write_marker(out, stats)
    return stats


def _has_anchors(pages: Iterable[dict]) -> bool:
    return any(page["anchors"] or page.get("unplaced_links") for page in pages)


def _announce_ids(pages: Iterator[dict], reader: PageReader) -> Iterator[dict]:
    for number, page in enumerate(pages):
        if number == 0 and reader.id_field != "wikipedia_id":
            how = ("derived from titles (no wikipedia_id, _id or id field)" if reader.id_field == DERIVED
                   else f"taken from the field '{reader.id_field}'")
            console.info(f"index: page ids are {how}; --id-field sets this")
        yield page


def _warn_counts(stats: dict) -> None:
    """Say so when the graph came out thin, and what was dropped on the way."""
    pages, resolved = stats["pages"], stats["resolved"]
    if resolved == 0:
        console.warn(f"index: no links resolved among {pages:,} pages ({stats['links']:,} links read, "
                     f"{stats['unresolved']:,} to no page of the corpus): `ltrl walk` will find no walk; "
                     "for a corpus without hyperlinks, index it with --link-mentions")
    elif resolved < pages:
        console.warn(f"index: only {resolved:,} links resolved among {pages:,} pages (fewer than one a page); "
                     "walks will be few and short")
    if stats["links"] and stats["unresolved"] > stats["links"] // 2:
        console.warn(f"index: {stats['unresolved']:,} of {stats['links']:,} links point to no page of the corpus")
    if stats["anchors_out_of_range"]:
        console.warn(f"index: {stats['anchors_out_of_range']:,} anchor(s) name a paragraph their page does not "
                     "have: kept as links without evidence")
    if stats["anchors_no_target"]:
        console.warn(f"index: dropped {stats['anchors_no_target']:,} anchor(s) without an href")
    if stats.get("repeated_titles"):
        console.warn(f"index: {stats['repeated_titles']:,} page(s) have a title an earlier page already had; "
                     "links to such a title go to the first of them")


def _discard(out: Path, made: bool) -> None:
    """Remove what a failed build wrote: the whole directory if this build made it, else its contents."""
    if made:
        shutil.rmtree(out, ignore_errors=True)
        return
    for child in out.iterdir() if out.is_dir() else ():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child, ignore_errors=True)
        else:
            child.unlink(missing_ok=True)


def _threads() -> int:
    return max(1, min(8, os.cpu_count() or 1))


def _prepare(out: Path, force: bool, source: Path) -> bool:
    """Make `out` ready for a fresh build, refusing to clobber what should not be; True if made here.

    A directory ltrl marked but never finished (a build killed with SIGKILL, a full disk) is
    replaced without --force: nothing in it is usable.
    """
    if out.exists() and not out.is_dir():
        raise LtrlError(f"{out} is not a directory; give -o a new or empty directory")
    made = not out.exists()
    if out.exists() and any(out.iterdir()):
        ours = (out / OWNER_MARK).exists()
        if not ours:
            raise LtrlError(f"{out} is not empty and was not made by `ltrl index`; not deleting it")
        if (out / COMPLETE).exists() and not force:
            raise LtrlError(f"{out} already exists; pass --force to rebuild it")
        if not (out / COMPLETE).exists():
            console.info(f"index: {out} holds an unfinished build; replacing it")
        shutil.rmtree(out)
        made = True
    out.mkdir(parents=True, exist_ok=True)
    (out / OWNER_MARK).write_text(owner_mark(source))  # names the source: the rebuild hint gives it
    return made


@dataclass
class Repeats:
    """Pages skipped because an earlier page had their id."""

    count: int = 0
    first: str | None = None


def _stream(pages: Iterable[dict], graph: GraphWriter, store: PageWriter, feed) -> tuple[int, Repeats, int]:
    """Write each page to Lucene's feed, the page store and the graph; return the page count.

    KILT ids are unique; a page whose id came before (a file concatenated twice, a
    merge of two dumps) is skipped and counted, so Lucene and the graph agree on which
    page an id means: the first. Anchors inferred from title mentions (`infer_anchors`,
    upstream) are counted; their number is returned last.
    """
    count, seen, repeats, inferred = 0, kilt.SeenIds(), Repeats(), 0
    for page in pages:
        page_id = str(page["wikipedia_id"])
        if not seen.add(page_id):
            repeats.count += 1
            repeats.first = repeats.first or page_id
            continue
        inferred += sum(1 for anchor in page["anchors"] if anchor.get("inferred"))
        text, record = split_page(page)
        feed.add(page_id, text)
        store.add(text, record)
        graph.add_page(page_id, str(page["wikipedia_title"]), kilt.page_links(page))
        count += 1
    store.finish()
    return count, repeats, inferred


def _write_marker(out: Path, stats: dict) -> None:
    with replacing(out / COMPLETE) as tmp:  # the marker appears whole, last
        tmp.write_bytes(orjson.dumps(stats, option=orjson.OPT_INDENT_2))
