"""`ltrl corpus demo`: write the embedded synthetic encyclopedia as a KILT file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ltrl_cli.app import Quiet, Verbose, app, command

CORPUS_HELP = """Corpora in KILT knowledge-source layout (the input of `ltrl index`).

\b
Example:
  ltrl corpus demo -o demo.jsonl.gz && ltrl index demo.jsonl.gz -o idx
"""

corpus_app = typer.Typer(
    help=CORPUS_HELP,
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(corpus_app, name="corpus")


@corpus_app.command("demo")
def demo_command(
    output: Annotated[str, typer.Option("--output", "-o", metavar="FILE",
                                        help="Where to write: FILE.jsonl, FILE.jsonl.gz, or - for stdout.")],
    pages: Annotated[int, typer.Option("--pages", min=20, metavar="N", help="How many pages to generate.")] = 3000,
    seed: Annotated[int, typer.Option("--seed", metavar="S",
                                      help="Seed of the fictional world; same seed, same pages.")] = 0,
    force: Annotated[bool, typer.Option("--force", help="Overwrite FILE if it exists.")] = False,
    quiet: Quiet = False,
    verbose: Verbose = False,
) -> None:
    """Write the embedded demo corpus: a seeded, fictional encyclopedia in KILT format.

    The pages (people, places, organisations, works of an invented world, with infobox
    lines, lead sentences and hyperlinks) are synthetic, and each says so in its
    categories. Same --pages and --seed, same file, on any machine.

    Reads: nothing.  Writes: KILT pages (`_id`, `wikipedia_id`, `wikipedia_title`, `text`,
    `anchors`, `categories`), one per line.

    \b
    Example:
      ltrl corpus demo -o demo.jsonl.gz
      ltrl corpus demo --pages 200 --seed 7 -o - | head -1
    """
    from ltrl_cli.corpus import generate_demo
    from ltrl_cli.io import records_out, write_records

    with command("corpus demo", quiet=quiet, verbose=verbose) as run:
        records = generate_demo(pages, seed)
        if output == "-":
            with records_out() as out:
                run.update("pages", write_records(records, out, flush_every=1000))
            return
        run.update("pages", _write_file(records, Path(output), force))


def _write_file(records, path: Path, force: bool) -> int:
    """Write the pages; an interrupted run leaves no half file under `path`."""
    import gzip

    from ltrl_cli.io import refuse_existing, replacing, write_records

    refuse_existing(path, force)
    opener = gzip.open if path.suffix == ".gz" else open
    with replacing(path) as tmp, opener(tmp, "wb") as out:
        return write_records(records, out, flush_every=1 << 30)


@corpus_app.command("tokenizer")
def tokenizer_command(
    corpus: Annotated[Path, typer.Argument(metavar="KILT.jsonl[.gz]", help="The corpus to train on.")],
    output: Annotated[Path, typer.Option("--output", "-o", metavar="FILE",
                                         help="Where to write the tokenizer (a tokenizer.json file).")],
    vocab_size: Annotated[int, typer.Option("--vocab-size", min=300, metavar="V",
                                            help="Vocabulary size.")] = 32000,
    max_pages: Annotated[int, typer.Option("--max-pages", min=1, metavar="N",
                                           help="Train on the first N pages at most.")] = 100_000,
    force: Annotated[bool, typer.Option("--force", help="Overwrite FILE if it exists.")] = False,
    quiet: Quiet = False,
    verbose: Verbose = False,
) -> None:
    """Train a byte-level BPE tokenizer on a KILT corpus, for counting tokens offline.

    For `ltrl assemble --tokenizer FILE` when no model tokenizer is at hand and
    tiktoken's encodings cannot be fetched: the demo falls back to it. Prefer the
    tokenizer of the model you will train; this one only approximates its counts.

    Reads: the corpus file.  Writes: FILE (tokenizer.json format).

    \b
    Example:
      ltrl corpus tokenizer demo.jsonl.gz -o demo-bpe.json
      ltrl assemble --index idx --tokenizer demo-bpe.json < tiered.jsonl > train.jsonl
    """
    import itertools

    from ltrl_cli.backends.base import page_text
    from ltrl_cli.backends.kilt import read_pages
    from ltrl_cli.backends.tokenize import train_bpe
    from ltrl_cli.io import refuse_existing, replacing

    with command("corpus tokenizer", quiet=quiet, verbose=verbose) as run:
        refuse_existing(output, force)
        def texts():
            for page in itertools.islice(read_pages(corpus), max_pages):
                run.update("pages")
                yield page_text(page)

        tokenizer = train_bpe(texts(), vocab_size)
        with replacing(output) as tmp:
            tokenizer.save(str(tmp))
        run.update("vocabulary", tokenizer.get_vocab_size())
