"""`ltrl walk`: controlled random walks over an index's link graph."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ltrl_cli.app import Quiet, SkipBad, Verbose, app, command


@app.command("walk")
def walk_command(
    index: Annotated[Path, typer.Option("--index", metavar="DIR", help="Index directory (ltrl index).")],
    n: Annotated[int, typer.Option("-n", "--count", min=1, metavar="N", help="How many walks (random starts).")] = 100,
    hops: Annotated[int, typer.Option("--hops", min=1, max=64, metavar="H",
                                      help="Links to follow: a path has H+1 pages.")] = 8,
    seed: Annotated[int, typer.Option("--seed", metavar="S", help="Same seed and index, same walks.")] = 0,
    starts: Annotated[Optional[str], typer.Option(
        "--starts", metavar="FILE|-", help="Start pages: JSONL records with `title` or `id` (- for stdin).")] = None,
    per_start: Annotated[int, typer.Option("--per-start", min=1, metavar="K",
                                           help="With --starts: up to K distinct walks per start.")] = 1,
    max_in_degree: Annotated[Optional[int], typer.Option(
        "--max-in-degree", min=0, metavar="N",
        help="Skip hub pages linked from more than N pages [default: the 99th-percentile in-degree].")] = None,
    min_out_degree: Annotated[int, typer.Option("--min-out-degree", min=0, metavar="N",
                                                help="Skip pages with fewer than N links.")] = 3,
    allow_lists: Annotated[bool, typer.Option("--allow-lists", help="Allow 'List of ...' pages.")] = False,
    allow_disambiguation: Annotated[bool, typer.Option("--allow-disambiguation",
                                                       help="Allow disambiguation pages.")] = False,
    allow_dates: Annotated[bool, typer.Option("--allow-dates", help="Allow date pages ('1879', '14 March').")] = False,
    anchors: Annotated[bool, typer.Option("--anchors/--no-anchors",
                                          help="Add each hop's anchor text and paragraph.")] = True,
    skip_bad: SkipBad = False,
    quiet: Quiet = False,
    verbose: Verbose = False,
) -> None:
    """Take controlled random walks along the hyperlinks of an index.

    A walk never revisits a page, skips hubs, lists, disambiguation and date pages and
    pages with few links (see the options), and only follows real links of the graph;
    identical paths are dropped. The same --seed over the same index gives the same walks,
    and the first N of a run are the first N of any longer run. Without --starts, walk
    reads nothing from stdin. When no walk is found at all, walk exits 1 and says why (no
    links in the index, filters that leave no page, a hop count no path reaches) and which
    nearby settings would find walks.

    Reads: nothing, or start records (`title` or `id`) with --starts.  Adds: `id`, `path`
    (H+1 pages: `id`, `title`, and `anchor` {`text`, `paragraph_id`, `paragraph`} of the
    link followed into it), `walk` (`seed`, `hops`, `start`).

    \b
    Example:
      ltrl walk --index idx -n 100 --hops 8 --seed 1 > walks.jsonl
      echo '{"title": "Ada Lovelace"}' | ltrl walk --index idx --starts - --per-start 3
    """
    from ltrl_cli import console
    from ltrl_cli.backends.index import open_index
    from ltrl_cli.errors import BadInput
    from ltrl_cli.io import read_records, records_out, stdin_records, write_records
    from ltrl_cli.records import READS
    from ltrl_cli.stages.walk import WalkFilters, walk

    with command("walk", quiet=quiet, verbose=verbose) as run, records_out() as out:
        idx = open_index(index)
        filters = WalkFilters(max_in_degree, min_out_degree, not allow_lists, not allow_disambiguation,
                              not allow_dates)
        records = None
        if starts == "-":
            records = stdin_records(required=False, skip_bad=skip_bad, stats=run, schema=READS["walk"])
        elif starts is not None:
            records = read_records(open(starts, "rb"), skip_bad=skip_bad, source=starts, stats=run,
                                   schema=READS["walk"])

        def on_bad(exc: BadInput) -> None:
            where = BadInput(exc.detail, line=run.line, source=None if starts == "-" else starts)
            run.reject(where, skip_bad=skip_bad)

        walks = walk(records, index=idx, n=n, hops=hops, seed=seed, filters=filters, per_start=per_start,
                     evidence=anchors, stats=run, on_bad=on_bad)
        found = write_records(walks, out, flush_every=256)
        run.update("walks", found)
        if found == 0:
            from ltrl_cli.errors import LtrlError
            from ltrl_cli.stages.walk import why_no_walk

            if records is not None and not run["in"]:
                skipped = f" ({run['skipped']:,} bad line(s) skipped)" if run["skipped"] else ""
                raise LtrlError(f"no start records read{skipped}")
            whence = "" if records is None else f" from any of the {run['in']:,} start record(s)"
            raise LtrlError(f"no walk found{whence}: {why_no_walk(idx.graph, filters, hops, seed)}")
        if records is None and found < n:
            console.warn(f"only {found:,} distinct walks found (asked for {n:,})")
