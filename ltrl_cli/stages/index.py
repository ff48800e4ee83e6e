"""Build an index directory from a KILT file: Lucene index + link graph + title map.

One streaming pass over the KILT file feeds three writers: Anserini's indexer, running
meanwhile and fed through named pipes (`id` and `contents`, the page's text, indexed
but not stored), the page store (each page's text once, LZ4-compressed, and the rest of
its record: backends/pagestore.py), and the graph writer (titles, ids, spooled links).

The pass is cut into chunks of `checkpoint_every` pages. Each chunk gets its own Lucene
index (a part, built while the chunk streams); when its part is committed, the page
store and graph writer flush and `.build/checkpoint.json` records where the file was
left (line and byte offset) and what was written. A build killed at any point (SIGKILL,
a full disk, Ctrl-C) is resumed by running the same command again: it cuts the files
back to the last checkpoint, drops the parts after it and reads on from there. At the
end the links are resolved, the parts are merged into one Lucene index, and the
COMPLETE marker is written last: a directory without it is refused by `open_index`.

DIR/
  lucene/     Lucene index (BM25 over each page's text; only the page id stored)
  pages/      each page's text and the rest of its record, in node order (backends/pagestore.py)
  graph/      CSR link graph and title/id maps (see backends/graph.py)
  build.log   Anserini's log
  COMPLETE    JSON: counts, source, time (written last)
  .ltrl-index marks the directory as ours, so --force may delete it
  .build/     while building: Lucene parts, the link spool and checkpoint.json
"""

from __future__ import annotations

import itertools
import os
import shlex
import shutil
import time
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
CHECKPOINT_EVERY = 250_000  # pages a chunk: KILT's 5.9M make 24, each a few minutes on 2 cores
CHECKPOINT = "checkpoint.json"
_POSITION = "\x00position"  # (line, byte offset) riding on a page from the reader to _stream


def build_index(source: Path, out: Path, *, force: bool = False, threads: int | None = None,
                id_field: str | None = None, link_mentions: bool | None = None,
                progress: Callable[[Iterable[dict]], Iterator[dict]] | None = None,
                checkpoint_every: int = CHECKPOINT_EVERY) -> dict:
    """Index the corpus file `source` into directory `out`; return the counts for the summary.

    Args:
        source: KILT knowledge-source JSONL, or any JSONL of pages (backends/pages.py), plain or gzip.
        out: the index directory to create; it must not exist (or be empty) unless `force`;
            an unfinished build of the same file and options there is resumed.
        force: replace an existing index directory (never a directory ltrl did not make),
            finished or not: no resuming.
        threads: Lucene indexing threads, and processes inferring links (default: the CPU count, at most 8).
        id_field: the field holding page ids ("title": derive them); None: the first of
            wikipedia_id, _id, id that the first page has.
        link_mentions: infer links from title mentions on pages without anchors; None:
            only when none of the first PEEK_PAGES pages has an anchor (with a notice).
        progress: wraps the page stream, e.g. to draw a progress bar.
        checkpoint_every: pages between checkpoints (see the module doc).

    A build that fails before its first checkpoint removes what it wrote, so the same
    command can simply be rerun; after one, it keeps it and says how to resume.
    """
    started = time.perf_counter()
    source, out = Path(source), Path(out)
    kilt.open_kilt(source).close()  # "no such file", "is a directory" before anything is made
    resume = None if force else _resumable(out, source, id_field, link_mentions)
    made = False
    if resume is None:
        made = _prepare(out, force, source)
    else:
        console.info(f"index: resuming the unfinished build in {out} after {resume['pages']:,} pages (line "
                     f"{resume['line']:,} of {source}); --force starts over")
    try:
        try:
            return _build(source, out, threads, id_field, link_mentions, progress, started, checkpoint_every, resume)
        except _CannotResume as exc:
            console.info(f"index: cannot resume the build in {out} ({exc.__cause__}); starting over")
            made = _prepare(out, True, source)
            return _build(source, out, threads, id_field, link_mentions, progress, started, checkpoint_every, None)
    except BaseException:
        saved = _read_checkpoint(out)
        if saved is None:
            _discard(out, made)
        else:
            console.warn(f"index: stopped; the first {saved['pages']:,} pages are saved in {out}: resume with "
                         f"`{saved['command']}` (the same command; --force starts over)")
        raise


def _build(source, out, threads, id_field, link_mentions, progress, started, every, resume) -> dict:
    reader = PageReader(id_field)
    if resume is not None:
        link_mentions = resume["link_mentions"]
        reader.id_field, reader.chosen_by_first_page = resume["id_field"], False
        reader.counts.update(resume["reader_counts"])
    elif link_mentions is None:
        link_mentions = not _has_anchors(itertools.islice(kilt.read_pages(source, PageReader(id_field)), PEEK_PAGES))
        if link_mentions:
            console.info(f"index: none of the first {PEEK_PAGES:,} pages has a hyperlink; inferring links from "
                           "mentions of other pages' titles (--no-link-mentions to turn this off)")
    scratch = out / ".build"
    scratch.mkdir(exist_ok=True)
    threads = threads or _threads()
    try:  # a checkpoint whose files were damaged or removed since: start over
        graph = GraphWriter(out / "graph", scratch, resume=resume and resume["graph"])
        store = PageWriter(out / "pages", resume=resume and resume["store"])
        state = _State(out, scratch, source, link_mentions, resume or {})
    except (OSError, ValueError, KeyError, EOFError) as exc:
        if resume is None:
            raise
        raise _CannotResume() from exc
    if not state.streamed:
        pages = _positioned(kilt.read_pages_from(source, reader, state.line, state.offset), reader, resume is None)
        pages = progress(pages) if progress else pages
        if link_mentions:
            pages = _inferring(pages, source, threads)
        _stream(pages, graph, store, reader, state, threads, every)
    store.finish()
    if state.pages == 0:
        raise LtrlError(f"{source}: no pages found")
    with console.status("resolving links"):
        stats = graph.finish()
    with console.status(f"Lucene: merging {len(state.parts()):,} part(s) of {state.pages:,} pages"):
        from ltrl_cli.backends.lucene import merge_indexes

        merge_indexes(state.parts(), out / "lucene")
    repeats = state.repeats
    if repeats["count"]:
        console.warn(f"index: skipped {repeats['count']:,} page(s) whose id an earlier page already had "
                     f"(first: id {repeats['first']!r}); the first page of each id is the one indexed")
    shutil.rmtree(scratch)
    for log in [*(out / "pages").glob("*.log"), *(out / "graph").glob("*.log")]:  # the checkpoints' offsets
        log.unlink()
    stats.update(repeated_ids=repeats["count"], inferred_links=state.inferred, source=str(source),
                 seconds=round(time.perf_counter() - started, 1), format=FORMAT, id_field=reader.id_field,
                 anchors_out_of_range=reader.counts["anchors_out_of_range"],
                 anchors_no_target=reader.counts["anchors_no_target"])
    _warn_counts(stats)
    _write_marker(out, stats)
    return stats


def _positioned(pages: Iterator[tuple[dict, int, int]], reader: PageReader, announce: bool) -> Iterator[dict]:
    """The pages, each carrying its position in the file (popped again by _stream)."""
    for number, (page, line, offset) in enumerate(pages):
        if number == 0 and announce and reader.chosen_by_first_page:
            _announce_ids(reader)
        page[_POSITION] = (line, offset)
        yield page


def _inferring(pages: Iterator[dict], source: Path, workers: int) -> Iterator[dict]:
    with console.status("reading titles for --link-mentions"):
        from ltrl_cli.backends.mentions import MentionLinker, infer_anchors

        linker = MentionLinker(kilt.read_titles(source))
    return infer_anchors(linker, pages, workers)


def _has_anchors(pages: Iterable[dict]) -> bool:
    return any(page["anchors"] or page.get("unplaced_links") for page in pages)


def _announce_ids(reader: PageReader) -> None:
    if reader.id_field != "wikipedia_id":
        how = ("derived from titles (no wikipedia_id, _id or id field)" if reader.id_field == DERIVED
               else f"taken from the field '{reader.id_field}'")
        console.info(f"index: page ids are {how}; --id-field sets this")


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


class _CannotResume(Exception):
    """A checkpoint's files could not be reopened (the cause says why)."""


class _State:
    """Where a build is: pages written, position in the file, Lucene parts; saved at each checkpoint."""

    def __init__(self, out: Path, scratch: Path, source: Path, link_mentions: bool, saved: dict):
        self.out, self.scratch, self.source, self.link_mentions = out, scratch, source, link_mentions
        self.pages, self.line, self.offset = saved.get("pages", 0), saved.get("line", 0), saved.get("offset", 0)
        self.chunks, self.streamed = saved.get("chunks", 0), saved.get("streamed", False)
        self.repeats = saved.get("repeats", {"count": 0, "first": None})
        self.inferred = saved.get("inferred", 0)
        for part in (scratch / "lucene-parts").glob("*"):  # parts begun after the checkpoint
            if int(part.name) >= self.chunks:
                shutil.rmtree(part)
        shutil.rmtree(scratch / "feed", ignore_errors=True)

    def part(self, chunk: int) -> Path:
        return self.scratch / "lucene-parts" / f"{chunk:06d}"

    def parts(self) -> list[Path]:
        return [self.part(chunk) for chunk in range(self.chunks)]

    def save(self, graph: GraphWriter, store: PageWriter, reader: PageReader, threads: int) -> None:
        """Checkpoint: the writers' files flushed, then the record of them (replaced whole)."""
        state = {"source": _identity(self.source), "link_mentions": self.link_mentions, "id_field": reader.id_field,
                 "pages": self.pages, "line": self.line, "offset": self.offset, "chunks": self.chunks,
                 "streamed": self.streamed, "repeats": self.repeats, "inferred": self.inferred,
                 "reader_counts": dict(reader.counts), "graph": graph.checkpoint(), "store": store.checkpoint(),
                 "command": _resume_command(self.source, self.out, reader, self.link_mentions, threads)}
        _write_json(self.scratch / CHECKPOINT, state)


def _stream(pages: Iterable[dict], graph: GraphWriter, store: PageWriter, reader: PageReader, state: _State,
            threads: int, every: int) -> None:
    """Write each page to a Lucene part's feed, the page store and the graph, a checkpoint every `every` pages.

    KILT ids are unique; a page whose id came before (a file concatenated twice, a
    merge of two dumps) is skipped and counted, so Lucene and the graph agree on which
    page an id means: the first. Anchors inferred from title mentions (`infer_anchors`,
    upstream) are counted.
    """
    from ltrl_cli.backends.lucene import Feed

    seen, feed, in_chunk = kilt.SeenIds.from_digests(graph.id_digests), None, 0
    try:
        for page in pages:
            state.line, state.offset = page.pop(_POSITION)
            page_id = str(page["wikipedia_id"])
            if not seen.add(page_id):
                state.repeats["count"] += 1
                state.repeats["first"] = state.repeats["first"] or page_id
                continue
            if feed is None:
                feed = Feed(state.scratch / "feed", state.part(state.chunks), state.out / "build.log", threads,
                            optimize=False)
            state.inferred += sum(1 for anchor in page["anchors"] if anchor.get("inferred"))
            text, record = split_page(page)
            feed.add(page_id, text)
            store.add(text, record)
            graph.add_page(page_id, str(page["wikipedia_title"]), kilt.page_links(page))
            state.pages += 1
            in_chunk += 1
            if in_chunk == every:
                _seal(feed, graph, store, reader, state, threads)
                feed, in_chunk = None, 0
        state.streamed = True
        if feed is not None:
            with console.status(f"Lucene: indexing the last {in_chunk:,} pages"):
                _seal(feed, graph, store, reader, state, threads)
        else:
            state.save(graph, store, reader, threads)
    except BaseException:
        if feed is not None:
            feed.abort()
        raise


def _seal(feed, graph: GraphWriter, store: PageWriter, reader: PageReader, state: _State, threads: int) -> None:
    """Commit a chunk: its Lucene part complete, then the checkpoint that counts it."""
    feed.close_input()
    feed.finish()
    shutil.rmtree(state.scratch / "feed")
    state.chunks += 1
    state.save(graph, store, reader, threads)


def _identity(source: Path) -> dict:
    """What says the file is the one a checkpoint was made from."""
    info = source.stat()
    return {"path": str(source.resolve()), "size": info.st_size, "mtime_ns": info.st_mtime_ns}


def _resume_command(source: Path, out: Path, reader: PageReader, link_mentions: bool, threads: int) -> str:
    parts = ["ltrl", "index", str(source), "-o", str(out)]
    if reader.id_field:
        parts += ["--id-field", reader.id_field]
    parts += ["--link-mentions" if link_mentions else "--no-link-mentions", "--threads", str(threads)]
    return shlex.join(parts)


def _read_checkpoint(out: Path) -> dict | None:
    try:
        return orjson.loads((out / ".build" / CHECKPOINT).read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None


def _resumable(out: Path, source: Path, id_field: str | None, link_mentions: bool | None) -> dict | None:
    """The checkpoint of an unfinished build of the same file and options in `out`, else None."""
    if (out / COMPLETE).exists() or not (out / OWNER_MARK).exists():
        return None
    saved = _read_checkpoint(out)
    if saved is None:
        return None
    why = None
    if saved["source"] != _identity(source):
        why = f"it was a build of {saved['source']['path']} as it was then"
    elif link_mentions is not None and link_mentions != saved["link_mentions"]:
        why = "it was built with" + ("" if saved["link_mentions"] else "out") + " --link-mentions"
    elif id_field is not None and id_field != saved["id_field"]:
        why = f"its page ids came from '{saved['id_field']}'"
    if why:
        console.info(f"index: not resuming the unfinished build in {out}: {why}")
        return None
    return saved


def _write_marker(out: Path, stats: dict) -> None:
    _write_json(out / COMPLETE, stats)


def _write_json(path: Path, data: dict) -> None:
    with replacing(path) as tmp:  # appears whole
        tmp.write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2))
