"""`ltrl assemble`: long training contexts from tiered question records."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ltrl_cli.app import ProgressEvery, Quiet, Shard, SkipBad, Verbose, app, command

_DEFAULT_TOKENIZER = "tiktoken:o200k_base"  # ltrl_cli.backends.tokenize.DEFAULT_TOKENIZER (kept light here)


@app.command("assemble")
def assemble_command(
    index: Annotated[Path, typer.Option("--index", help="Index directory built by `ltrl index`.")],
    tokenizer: Annotated[
        str,
        typer.Option("--tokenizer", help="`tiktoken:<encoding>`, a tokenizer.json file, or a Hugging Face "
                     "tokenizer (local directory or name). Use the model you will train."),
    ] = _DEFAULT_TOKENIZER,
    target_tokens: Annotated[
        int, typer.Option("--target-tokens", help="Prompt length in tokens (never exceeded; filled to >= 97%).")
    ] = 131072,
    strategy: Annotated[
        str, typer.Option("--strategy", help="Distractors: traj-tiered (the method), traj-random, search, random.")
    ] = "traj-tiered",
    seed: Annotated[int, typer.Option("--seed", help="Seed for document order and random pages.")] = 0,
    template: Annotated[
        Optional[str],
        typer.Option("--template", help="Prompt template: a file, or text with {documents} and {question}."),
    ] = None,
    doc_format: Annotated[
        Optional[str],
        typer.Option("--doc-format", help="How one document is written, with {index}, {title} and {text} "
                     "(default 'Document {index}: {title}\\n{text}'; \\n means a newline)."),
    ] = None,
    search_k: Annotated[int, typer.Option("--search-k", help="Hits retrieved per question (--strategy search).")] = 100,
    token_cache: Annotated[
        Optional[Path],
        typer.Option("--token-cache", help="sqlite file that keeps per-document token counts across runs."),
    ] = None,
    allow_download: Annotated[
        bool, typer.Option("--allow-download", help="Let a Hugging Face tokenizer be downloaded by name.")
    ] = False,
    shard: Shard = None,
    skip_bad: SkipBad = False,
    progress_every: ProgressEvery = 30.0,
    quiet: Quiet = False,
    verbose: Verbose = False,
) -> None:
    """Build long training contexts: gold pages, then Tier-1, Tier-2 and random pages.

    Reads: records with `id`, `question`, `answer`, `gold_entities` and `tiers` (ltrl tier;
    `--strategy random|search` need only `tiers.gold` or `path`).
    Writes: training records in the released dataset's layout: `id`, `source`,
    `input_messages` (one user turn), `label`, `metadata` (`rubrics`, `question`, `docs`
    with each document's tier and character span, `tokens`, `strategy`).

    \b
    Example:
      ltrl tier < traj.jsonl | ltrl assemble --index idx > train.jsonl
      ltrl assemble --index idx --tokenizer Qwen/Qwen3-4B-Thinking-2507 \\
        --target-tokens 32768 --strategy random < tiered.jsonl > train-random.jsonl
    """
    from ltrl_cli import console
    from ltrl_cli.backends.index import open_index
    from ltrl_cli.backends.tokenize import TokenCache, load_tokenizer
    from ltrl_cli.context.layout import AssembleOptions
    from ltrl_cli.io import parse_shard, records_out, shard_records, stdin_records, stdin_total, write_records
    from ltrl_cli.records import READS
    from ltrl_cli.stages.assemble import assemble, check_options, read_template, unescape
    from ltrl_cli.stats import Rejections

    with command("assemble", quiet=quiet, verbose=verbose, progress_every=progress_every) as run, records_out() as out:
        options = AssembleOptions(target_tokens=target_tokens, strategy=strategy, seed=seed,
                                  template=read_template(template), search_k=search_k,
                                  **({"doc_format": unescape(doc_format)} if doc_format else {}))
        check_options(options, searcher=object())  # usage errors before the slow loading
        shard_spec = parse_shard(shard)
        counter = TokenCache(load_tokenizer(tokenizer, allow_download=allow_download), token_cache)
        idx = open_index(index)
        schema = READS["assemble"].adjusted(required=("tiers",) if strategy.startswith("traj") else ())
        records = shard_records(stdin_records(skip_bad=skip_bad, stats=run, schema=schema), shard_spec)
        refused = Rejections("records")
        try:
            produced = assemble(records, store=idx, searcher=idx, counter=counter, options=options, stats=run,
                                refused=refused)
            shown = console.progress(produced, "assemble", total=stdin_total(shard_spec),
                                     failed=lambda: run["too long"])
            run.update("out", write_records(shown, out, flush_every=16))
        finally:
            counter.close()
        failure = refused.error(run["out"], "Raise --target-tokens")
        if failure is not None:
            raise failure
