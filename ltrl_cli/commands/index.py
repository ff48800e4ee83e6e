"""`ltrl index`: build the Lucene index and link graph of a KILT file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ltrl_cli.app import Quiet, Verbose, app, command


@app.command("index")
def index_command(
    source: Annotated[Path, typer.Argument(metavar="KILT.jsonl[.gz]", help="KILT knowledge-source file.")],
    output: Annotated[Path, typer.Option("--output", "-o", metavar="DIR", help="Index directory to create.")],
    force: Annotated[bool, typer.Option("--force", help="Replace DIR if it holds an index already.")] = False,
    threads: Annotated[Optional[int], typer.Option("--threads", min=1, metavar="N",
                                                   help="Lucene indexing threads [default: CPUs, at most 8].")] = None,
    quiet: Quiet = False,
    verbose: Verbose = False,
) -> None:
    """Build a searchable index and the hyperlink graph of a KILT file.

    Streams the file (memory does not grow with its text) and writes into DIR a Lucene
    BM25 index that stores each page, and the link graph: anchors' hrefs resolved to
    pages (URL-decoded, fragments stripped, first letter case-insensitive, underscores as
    spaces; Wikispeedia's `unplaced_links` too), self-links and duplicates dropped,
    unresolved targets counted. A page whose id an earlier page had is skipped and
    counted (ids are unique in KILT; the first page of an id is the one indexed). DIR is marked COMPLETE only when everything is written,
    so an interrupted build is never mistaken for a finished one.

    Reads: the KILT file (not stdin).  Writes: DIR; a summary on stderr.

    \b
    Example:
      ltrl corpus demo -o demo.jsonl.gz && ltrl index demo.jsonl.gz -o idx
      ltrl index kilt_knowledgesource.json -o kilt-idx --threads 8
    """
    from ltrl_cli import console
    from ltrl_cli.stages.index import build_index

    with command("index", quiet=quiet, verbose=verbose) as run:
        stats = build_index(source, output, force=force, threads=threads,
                            progress=lambda pages: console.progress(pages, "reading pages"))
        for key in ("pages", "resolved", "unresolved", "self_links", "duplicates", "repeated_ids"):
            run.add(key.replace("_", " ") if key != "resolved" else "links resolved", stats[key])
