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
                     "the name ends in .parquet, JSONL otherwise. A folder (DIR/ or an existing folder): a Hugging "
                     "Face dataset folder, the data under data/ and its card as README.md."),
    ] = "-",
    corpus: Annotated[
        Optional[str],
        typer.Option("--corpus", metavar="NAME", help="Dataset folder: the source corpus, as the card names it "
                     "(e.g. 'KILT Wikipedia, 2019-08-01 dump')."),
    ] = None,
    name: Annotated[
        Optional[str],
        typer.Option("--name", metavar="TITLE", help="Dataset folder: the card's title [default: the folder's name]."),
    ] = None,
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
    With -o DIR/ the output is a dataset folder that `datasets.load_dataset("DIR")` loads:
    the data in data/ and a dataset card (README.md: the YAML header the hub reads, with
    features, split and size; the corpus, the method's settings and the `ltrl stats`
    figures).

    \b
    Example:
      ltrl export --format verl -o train.parquet < train.jsonl
      ltrl export --format trl -o train-trl.parquet < train.jsonl
      ltrl export --format trl -o train-trl/ --corpus "demo corpus" < train.jsonl
      ltrl export --format slime -o slime.jsonl --source-config source.json \\
        --reward-url http://rm-host:8080 < train.jsonl
    """
    from ltrl_cli.errors import UsageError
    from ltrl_cli.io import stdin_records
    from ltrl_cli.records import READS
    from ltrl_cli.stages import export as E
    from ltrl_cli.stages.card import is_folder
    from ltrl_cli.stages.export import FORMATS

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
        if is_folder(output):
            run.update("out", _export_folder(records, fmt, Path(output), seen if source_config else None,
                                             corpus=corpus, name=name))
        else:
            _export_file(run, records, fmt, output, seen if source_config else None)
        if source_config:
            if not seen.sources:
                raise UsageError("no records: the source config would name no source; nothing written")
            E.write_source_config(Path(source_config), E.slime_source_config(seen.sources, reward_url, processor))


def _export_file(run, records, fmt: str, output: str, seen) -> None:
    """The data alone, to a file or stdout (the layout -o FILE has always had)."""
    from ltrl_cli.errors import UsageError
    from ltrl_cli.io import records_out
    from ltrl_cli.stages.export import rows, write_jsonl, write_parquet, writes_parquet

    produced = seen(rows(records, fmt)) if seen else rows(records, fmt)
    if writes_parquet(fmt, output):
        if output == "-":
            raise UsageError(f"--format {fmt} writes parquet: give a file with -o FILE.parquet")
        run.update("out", write_parquet(produced, Path(output), fmt))
    elif output == "-":
        with records_out() as out:
            run.update("out", write_jsonl(produced, out))
    else:
        run.update("out", _write_jsonl_file(produced, Path(output)))


def _export_folder(records, fmt: str, folder: Path, seen, *, corpus: str | None, name: str | None) -> int:
    """A dataset folder: the data under data/, then its card; returns the row count."""
    from ltrl_cli import __version__
    from ltrl_cli.provenance import command_line, git_hash
    from ltrl_cli.io import replacing
    from ltrl_cli.stages import card as C
    from ltrl_cli.stages.export import rows, schema, write_parquet
    from ltrl_cli.stages.stats import Collector

    C.check_folder(folder)
    observed = C.Observed(Collector())
    produced = rows(observed.watch(records), fmt)
    path = folder / C.data_file(fmt)
    path.parent.mkdir(parents=True, exist_ok=True)
    produced = seen(produced) if seen else produced
    count = _write_jsonl_file(produced, path) if fmt == "slime" else write_parquet(produced, path, fmt)
    for stale in path.parent.glob("train-*"):  # an earlier export in another format would load as well
        if stale != path and not stale.name.startswith("."):
            stale.unlink()
    text = C.card(name=name or folder.resolve().name, fmt=fmt, rows=count, path=path, corpus=corpus,
                  observed=observed, command=command_line(),
                  version=__version__ + (f" (commit {commit})" if (commit := git_hash()) else ""),
                  arrow_schema=None if fmt == "slime" else schema(fmt))
    with replacing(folder / C.CARD) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return count


def _write_jsonl_file(rows, path: Path) -> int:
    from ltrl_cli.io import replacing
    from ltrl_cli.stages.export import write_jsonl

    with replacing(path) as tmp, open(tmp, "wb") as stream:
        return write_jsonl(rows, stream)
