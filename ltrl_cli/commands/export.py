"""`ltrl export`: training records in the layout a trainer reads (slime, verl, TRL)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ltrl_cli.app import Quiet, SkipBad, Verbose, app, command


@app.command("export")
def export_command(
    fmt: Annotated[str, typer.Option("--format", "-f", help="slime (JSONL), verl (parquet), or trl.")],
    output: Annotated[
        str,
        typer.Option("--output", "-o", help="Output file; `-` is stdout (JSONL only). trl writes parquet when "
                     "the name ends in .parquet, JSONL otherwise."),
    ] = "-",
    skip_bad: SkipBad = False,
    quiet: Quiet = False,
    verbose: Verbose = False,
) -> None:
    """Write assembled records for a trainer: slime (the paper's), verl, or TRL.

    Reads: training records from `ltrl assemble`.  Writes: slime: the released JSONL
    layout; verl: parquet with data_source, prompt, ability, reward_model.ground_truth,
    extra_info (rubrics included); trl: a `prompt` column plus the reward columns `label`
    and `rubrics` (parquet or JSONL; `datasets.load_dataset` reads both).

    \b
    Example:
      ltrl export --format verl -o train.parquet < train.jsonl
      ltrl export --format trl -o train-trl.parquet < train.jsonl
      ltrl export --format slime < train.jsonl > slime.jsonl
    """
    from ltrl_cli.errors import UsageError
    from ltrl_cli.io import records_out, stdin_records
    from ltrl_cli.stages.export import FORMATS, rows, write_jsonl, write_parquet, writes_parquet

    with command("export", quiet=quiet, verbose=verbose) as run:
        if fmt not in FORMATS:
            raise UsageError(f"--format {fmt!r}: choose one of {', '.join(FORMATS)}")
        records = stdin_records(skip_bad=skip_bad, stats=run.reader, required=("id", "input_messages", "label"))
        produced = rows(records, fmt)
        if writes_parquet(fmt, output):
            if output == "-":
                raise UsageError(f"--format {fmt} writes parquet: give a file with -o FILE.parquet")
            run.add("out", write_parquet(produced, Path(output), fmt))
        elif output == "-":
            with records_out() as out:
                run.add("out", write_jsonl(produced, out))
        else:
            run.add("out", _write_jsonl_file(produced, Path(output)))


def _write_jsonl_file(rows, path: Path) -> int:
    from ltrl_cli.io import replacing
    from ltrl_cli.stages.export import write_jsonl

    with replacing(path) as tmp, open(tmp, "wb") as stream:
        return write_jsonl(rows, stream)
