"""`ltrl index`: build the Lucene index and link graph of a KILT file (or any corpus of pages)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ltrl_cli.app import ProgressEvery, Quiet, Verbose, app, command


@app.command("index")
def index_command(
    source: Annotated[Path, typer.Argument(metavar="KILT.jsonl[.gz]",
                                           help="KILT knowledge-source file, or any JSON lines of pages.")],
    output: Annotated[Path, typer.Option("--output", "-o", metavar="DIR", help="Index directory to create.")],
    force: Annotated[bool, typer.Option("--force", help="Replace DIR if it holds an index already.")] = False,
    threads: Annotated[Optional[int], typer.Option("--threads", min=1, metavar="N",
                                                   help="Lucene indexing threads, and processes inferring links "
                                                        "(--link-mentions) [default: CPUs, at most 8].")] = None,
    id_field: Annotated[Optional[str], typer.Option(
        "--id-field", metavar="FIELD",
        help="Field holding page ids, or 'title' to derive ids from titles "
             "[default: the first of wikipedia_id, _id, id that the first page has, else 'title'].")] = None,
    link_mentions: Annotated[Optional[bool], typer.Option(
        "--link-mentions/--no-link-mentions",
        help="Infer links from mentions of other pages' titles, on pages without anchors "
             "[default: on when none of the first 1,000 pages has an anchor].", show_default=False)] = None,
    progress_every: ProgressEvery = 30.0,
    checkpoint_every: Annotated[int, typer.Option(
        "--checkpoint-every", min=1, metavar="N",
        help="Pages between checkpoints, where a stopped build resumes.")] = 250_000,
    quiet: Quiet = False,
    verbose: Verbose = False,
) -> None:
    """Build a searchable index and the hyperlink graph of a KILT file or any corpus of pages.

    Streams the file (memory does not grow with its text) and writes into DIR a Lucene
    BM25 index of each page's text, the pages themselves (the text once, compressed; a
    page opens without starting Java), and the link graph: anchors' hrefs resolved to
    pages (URL-decoded, fragments stripped, first letter case-insensitive, underscores as
    spaces; Wikispeedia's `unplaced_links` too), self-links and duplicates dropped,
    unresolved targets counted. A page whose id an earlier page had is skipped and
    counted (ids are unique in KILT; the first page of an id is the one indexed). DIR is
    marked COMPLETE only when everything is written, so an interrupted build is never
    mistaken for a finished one.

    Resuming: every --checkpoint-every pages the build commits what it wrote (a Lucene
    part, the pages, the links so far) and where it is in the file. A build stopped after
    a checkpoint (Ctrl-C, SIGKILL, the OOM killer, a full disk, a reboot of the process)
    is resumed by running the same command again: it reads on from the last checkpoint,
    and the index comes out the same as an uninterrupted build's. --force starts over. A
    build stopped before its first checkpoint, or a directory whose source file has
    changed since, is built again from the start.

    Pages: ids from `wikipedia_id`, `_id` or `id` (or derived from the title: `t` and 16
    hex digits of its hash, stable across runs); titles from `wikipedia_title` or `title`;
    text from `text` or `paragraphs`, a list of paragraphs or one string. KILT markup
    becomes text: `Section::::History.` is stored as the line `## History` and
    `BULLET::::- item` as `- item`; anchor offsets are moved with the text.

    Pages without anchors get links inferred from mentions of other pages' titles when
    --link-mentions is on (whole words; first letter lower-cased only for titles without
    other capitals; titles under 4 characters, common words, dates, lists and
    disambiguation pages left out; one link per target per paragraph). Such anchors are
    marked `inferred`. The summary and warnings count links that did not resolve, anchors
    dropped and pages with repeated titles.

    Reads: the KILT file (not stdin).  Writes: DIR; a summary on stderr.

    \b
    Example:
      ltrl corpus demo -o demo.jsonl.gz && ltrl index demo.jsonl.gz -o idx
      ltrl index kilt_knowledgesource.json -o kilt-idx --threads 8
      gzip -dc demo.jsonl.gz | jq -c '{title: .wikipedia_title, text: (.text[1:] | join(""))}' > plain.jsonl
      ltrl index plain.jsonl -o plain-idx --link-mentions
    """
    from ltrl_cli import console
    from ltrl_cli.stages.index import build_index

    with command("index", quiet=quiet, verbose=verbose, progress_every=progress_every) as run:
        stats = build_index(source, output, force=force, threads=threads, id_field=id_field,
                            link_mentions=link_mentions, checkpoint_every=checkpoint_every,
                            progress=lambda pages: console.progress(pages, "index: pages read"))
        for key in ("pages", "resolved", "unresolved", "self_links", "duplicates", "repeated_ids",
                    "repeated_titles", "inferred_links", "anchors_out_of_range", "anchors_no_target"):
            if stats[key] or key in ("pages", "resolved", "unresolved"):
                run.update(key.replace("_", " ") if key != "resolved" else "links resolved", stats[key])
