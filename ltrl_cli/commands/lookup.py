"""`ltrl search` and `ltrl open`: query an index by hand (Pyserini's search CLI, for ltrl's
index), seeing what the search agent sees."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ltrl_cli.app import Quiet, Verbose, app, command

IndexDir = Annotated[Path, typer.Option("--index", metavar="DIR", help="Index built by `ltrl index`.")]
Jsonl = Annotated[bool, typer.Option("--jsonl", help="JSON lines even on a terminal.")]


@app.command("search")
def search_command(
    index: IndexDir,
    query: Annotated[str, typer.Argument(metavar="QUERY", help="Words to search for (BM25).")],
    k: Annotated[int, typer.Option("-k", "--k", min=1, metavar="N", help="Hits to show.")] = 10,
    snippet_chars: Annotated[int, typer.Option("--snippet-chars", min=10, metavar="N",
                                               help="Snippet length, as the agent is shown it.")] = 200,
    jsonl: Jsonl = False, quiet: Quiet = False, verbose: Verbose = False,
) -> None:
    """Search an index as the search agent does: the top hits with id, title, score and snippet.

    Writes: one JSON object per hit (`query`, `rank`, `id`, `title`, `score`, `snippet`)
    when stdout is not a terminal (or with --jsonl); a table on a terminal.

    \b
    Example:
      ltrl search --index idx "river delta" -k 5
      ltrl search --index idx "river delta" | jq -r .id | head -1 | xargs ltrl open --index idx
    """
    from ltrl_cli.io import records_out, write_records
    from ltrl_cli.stages.lookup import search_hits

    with command("search", quiet=quiet, verbose=verbose, summary=False):
        the_index = _open(index)
        try:
            hits = search_hits(the_index, query, k, snippet_chars=snippet_chars)
        finally:
            the_index.close()
        if not hits:
            from ltrl_cli import console

            console.warn(f"ltrl search: no hits for {query!r}")
        if jsonl or not _terminal():
            with records_out() as out:
                write_records(hits, out)
        else:
            _table(query, hits)


def _terminal() -> bool:
    """A person reads stdout (a table), rather than a program (JSON lines), as `ls` decides."""
    import sys

    return sys.stdout.isatty()


def _open(path: Path):
    from ltrl_cli.backends.index import open_index

    the_index = open_index(path)
    the_index.start()
    return the_index


def _table(query: str, hits: list[dict]) -> None:
    from rich.console import Console
    from rich.table import Table

    grid = Table(title=f'"{query}": {len(hits)} hit(s)', title_justify="left")
    for name, justify in (("#", "right"), ("id", "left"), ("title", "left"), ("score", "right"), ("snippet", "left")):
        grid.add_column(name, justify=justify, overflow="fold")
    for hit in hits:
        grid.add_row(str(hit["rank"]), hit["id"], hit["title"], f"{hit['score']:.3f}", hit["snippet"])
    Console().print(grid)  # stdout, which is a terminal here


@app.command("open")
def open_command(
    index: IndexDir,
    page_id: Annotated[str, typer.Argument(metavar="ID", help="A page id, as `ltrl search` shows it.")],
    page: Annotated[int, typer.Option("--page", min=1, metavar="N", help="Which page of a long document.")] = 1,
    page_words: Annotated[int, typer.Option("--page-words", min=1, metavar="N",
                                            help="Words per page, as the agent's open tool pages it.")] = 2000,
    jsonl: Jsonl = False, quiet: Quiet = False, verbose: Verbose = False,
) -> None:
    """Show a page of the index as the search agent reads it after `open`.

    Writes: the page's text, headed by its id, title and page count, as the agent's open
    tool renders it; with --jsonl one JSON object (`id`, `page`, `text`). An id the index
    does not have, or a page past the last, is exit 1 naming it.

    \b
    Example:
      ltrl open --index idx 12
      ltrl open --index idx 12 --page 2 --page-words 500
    """
    from ltrl_cli.io import records_out, write_records
    from ltrl_cli.stages.lookup import open_page

    with command("open", quiet=quiet, verbose=verbose, summary=False):
        the_index = _open(index)
        try:
            text = open_page(the_index, page_id, page=page, page_words=page_words)
        finally:
            the_index.close()
        with records_out() as out:
            if jsonl:
                write_records([{"id": page_id, "page": page, "text": text}], out)
            else:
                out.write(text.encode() + b"\n")
