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
    output: Annotated[str, typer.Option(
        "--output", "-o", metavar="DIR|FILE.html",
        help="A folder to write the report in (any size; open DIR/index.html), or FILE.html for one "
             "self-contained page (small sets), or - for that page on stdout.")] = ...,
    index: Annotated[Optional[Path], typer.Option(
        "--index", metavar="DIR",
        help="An `ltrl index`: the text of each chain, opened, cited, gold and Tier-1 page that no context "
             "holds (a failed question has none) is taken from it, a click away in the report.")] = None,
    title: Annotated[str, typer.Option("--title", metavar="TEXT", help="The page's title.")] = "ltrl report",
    skip_bad: SkipBad = False,
    quiet: Quiet = False,
    verbose: Verbose = False,
) -> None:
    """Write a report to browse what the pipeline built, question by question.

    Reads any mix of walks, questions, trajectories, tiered records, training records and
    `ltrl stats` objects, matched by `id`, in any order, streamed (a 128K-token training
    record is cut down to its documents' metadata and texts as it is read; memory does
    not grow with the number of questions). For each question: the chain with each hop's
    anchor evidence, every rollout step by step with the chain's pages marked and a failed
    rollout's first step off the chain flagged, the tiers (or why there are none), and
    each context as a strip of documents coloured by tier, gold documents marked, a click
    opening a document's text (with --index, the pages no context holds too: a failed
    question's chain and opened pages). For the dataset: hops, k of K correct, turns, opened pages,
    stop reasons, context make-up and gold-document depth per strategy as charts (mention
    rates from an `ltrl stats` object in the input). A list on the left filters and sorts
    on those figures (`hops>=6 k=0 tier1<3` and words).

    -o DIR writes DIR/index.html and DIR/data/ (the page loads each question's data when
    it is opened; it works from disk, no server); -o FILE.html writes one page with
    everything inside, for small sets. Either is put in place whole when done.

    Reads: JSONL records of any stage.  Writes: the report to DIR or FILE, nothing on
    stdout (with `-o -`, the page itself); one summary line on stderr.

    \b
    Example:
      ltrl report traj.jsonl tiered.jsonl train.jsonl -o report
      ltrl search-agent --index idx --backend lexical < q.jsonl | ltrl report - -o traj.html
    """
    import tempfile

    from ltrl_cli.backends.index import open_index
    from ltrl_cli.io import open_input, read_records, stdin_stream
    from ltrl_cli.report.build import build_report
    from ltrl_cli.report.output import SINGLE_FILE_QUESTIONS, is_single_file, open_output
    from ltrl_cli.stats import Stats

    with command("report", quiet=quiet, verbose=verbose, summary=False):
        names = inputs or ["-"]
        streams = [stdin_stream() if name == "-" else open_input(Path(name)) for name in names]
        sources = []
        for name, stream in zip(names, streams):
            reader = Stats()  # one per input, for the line number of a refused record
            label = "stdin" if name == "-" else name
            sources.append((label, read_records(stream, skip_bad=skip_bad, source=label, stats=reader), reader))
        # the store and the single file's parts go beside the output: they can be GBs, /tmp may be small
        where = Path(output).resolve().parent if output != "-" else Path.cwd()
        with tempfile.TemporaryDirectory(prefix=".ltrl-report-", dir=where) as workdir:
            out = open_output(output, Path(workdir))
            try:
                summary = build_report(sources, out, Path(workdir), title=title,
                                       pages=open_index(index) if index else None)
            except BaseException:
                out.discard()
                raise
        from ltrl_cli import console

        shown = "stdout" if output == "-" else output
        if is_single_file(output) and summary.questions > SINGLE_FILE_QUESTIONS:
            console.warn(f"report: one page of {summary.questions:,} questions is parsed whole when opened; "
                         "-o DIR (a folder) loads each question's data when it is opened")
        console.info(f"report: {summary.questions:,} questions, {summary.contexts:,} contexts, "
                     f"{summary.docs:,} document texts -> {shown} ({out.size / 1e6:.1f} MB)")
