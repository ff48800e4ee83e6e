"""`ltrl report`: a self-contained HTML page about any stage's records."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ltrl_cli.app import Quiet, SkipBad, Verbose, app, command


@app.command("report")
def report_command(
    inputs: Annotated[Optional[list[str]], typer.Argument(
        metavar="[FILE]...", help="JSONL files from any stage (gzip too), or - for stdin; stdin when none.",
        show_default=False)] = None,
    output: Annotated[str, typer.Option("--output", "-o", metavar="FILE",
                                        help="Where to write the page (FILE.html), or - for stdout.")] = ...,
    title: Annotated[str, typer.Option("--title", metavar="TEXT", help="The page's title.")] = "ltrl report",
    skip_bad: SkipBad = False,
    quiet: Quiet = False,
    verbose: Verbose = False,
) -> None:
    """Write one HTML page that shows what the pipeline built, question by question.

    Reads any mix of walks, questions, trajectories, tiered records, training records and
    `ltrl stats` objects, matched by `id`. For each question: the chain with each hop's
    anchor evidence, question and answer, every rollout step by step (queries and hits,
    opened and cited pages, answer, verdict), the tiers, and each context as a strip of
    documents coloured by tier with token counts; for the dataset, the stats as charts
    (from a stats object in the input, else computed from the training records). The
    page holds its own style and script: it opens offline. A list of questions with a
    search box (id or words) is on the left.

    Reads: JSONL records of any stage.  Writes: the HTML page to FILE, nothing on stdout
    (with `-o -`, the page itself); one summary line on stderr.

    \b
    Example:
      ltrl report q.jsonl traj.jsonl -o report.html
      ltrl search-agent --index idx --backend lexical < q.jsonl | ltrl report - -o traj.html
    """
    import sys

    from ltrl_cli.io import open_input, read_records, replacing, stdin_stream
    from ltrl_cli.stats import Stats
    from ltrl_cli.report import build_report
    from ltrl_cli.report.data import gather

    with command("report", quiet=quiet, verbose=verbose, summary=False):
        names = inputs or ["-"]
        streams = [stdin_stream() if name == "-" else open_input(Path(name)) for name in names]
        sources = []
        for name, stream in zip(names, streams):
            reader = Stats()  # one per input, for the line number of a refused record
            label = "stdin" if name == "-" else name
            sources.append((label, read_records(stream, skip_bad=skip_bad, source=label, stats=reader), reader))
        data = gather(sources)
        page = build_report(data, title=title).encode("utf-8")
        if output == "-":
            sys.stdout.buffer.write(page)
            sys.stdout.buffer.flush()
        else:
            with replacing(output) as tmp:
                tmp.write_bytes(page)
        from ltrl_cli import console

        where = "stdout" if output == "-" else output
        console.info(f"report: {len(data.questions):,} questions, "
                     f"{sum(len(q.contexts) for q in data.questions.values()):,} contexts -> {where} "
                     f"({len(page) / 1e6:.1f} MB)")
