"""`ltrl export`: training records in the layout a trainer reads (slime, verl, TRL)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

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
    source_config: Annotated[
        Optional[str],
        typer.Option("--source-config", help="slime: also write the source config JSON (--source-config-path) here."),
    ] = None,
    reward_url: Annotated[
        Optional[str],
        typer.Option("--reward-url", help="slime: where `ltrl score --serve` listens, as the trainer reaches it "
                     "(http://HOST:PORT; /evaluate is added)."),
    ] = None,
    processor: Annotated[
        str,
        typer.Option("--message-processor", help="slime: the model family's message processor: qwen3, "
                     "deepseek-r1-distill, or a class path."),
    ] = "qwen3",
    skip_bad: SkipBad = False,
    quiet: Quiet = False,
    verbose: Verbose = False,
) -> None:
    """Write assembled records for a trainer: slime (the paper's), verl, or TRL.

    Reads: training records from `ltrl assemble`.  Writes: slime: the released JSONL
    layout with metadata.extra_reward_info {question, rubrics, dataset_name}, and with
    --source-config the source config the authors' slime loads (message processor,
    `remote_rm` at --reward-url in history mode); verl: parquet with data_source, prompt,
    ability, reward_model.ground_truth, extra_info (rubrics included), scored by
    `ltrl_cli.grpo.verl` (docs/grpo.md); trl: a `prompt` column plus the reward
    columns `label` and `rubrics` (parquet or JSONL; `datasets.load_dataset` reads both).

    \b
    Example:
      ltrl export --format verl -o train.parquet < train.jsonl
      ltrl export --format trl -o train-trl.parquet < train.jsonl
      ltrl export --format slime -o slime.jsonl --source-config source.json \\
        --reward-url http://rm-host:8080 < train.jsonl
    """
    from ltrl_cli.errors import UsageError
    from ltrl_cli.io import records_out, stdin_records
    from ltrl_cli.records import READS
    from ltrl_cli.stages import export as E
    from ltrl_cli.stages.export import FORMATS, rows, write_jsonl, write_parquet, writes_parquet

    with command("export", quiet=quiet, verbose=verbose) as run:
        if fmt not in FORMATS:
            raise UsageError(f"--format {fmt!r}: choose one of {', '.join(FORMATS)}")
        if (source_config or reward_url) and fmt != "slime":
            raise UsageError("--source-config and --reward-url are for --format slime")
        if bool(source_config) != bool(reward_url):
            raise UsageError("--source-config and --reward-url go together: the config names the reward server")
        if source_config:  # bad values stop the run before any record is read
            E.slime_source_config([], reward_url, processor)
        schema = READS["export"].adjusted(rules=(E.has_question,) if fmt == "slime" else ())
        records = stdin_records(skip_bad=skip_bad, stats=run, schema=schema)
        seen = E.SourcesSeen()
        produced = seen(rows(records, fmt)) if source_config else rows(records, fmt)
        if writes_parquet(fmt, output):
            if output == "-":
                raise UsageError(f"--format {fmt} writes parquet: give a file with -o FILE.parquet")
            run.update("out", write_parquet(produced, Path(output), fmt))
        elif output == "-":
            with records_out() as out:
                run.update("out", write_jsonl(produced, out))
        else:
            run.update("out", _write_jsonl_file(produced, Path(output)))
        if source_config:
            if not seen.sources:
                raise UsageError("no records: the source config would name no source; nothing written")
            E.write_source_config(Path(source_config), E.slime_source_config(seen.sources, reward_url, processor))


def _write_jsonl_file(rows, path: Path) -> int:
    from ltrl_cli.io import replacing
    from ltrl_cli.stages.export import write_jsonl

    with replacing(path) as tmp, open(tmp, "wb") as stream:
        return write_jsonl(rows, stream)
