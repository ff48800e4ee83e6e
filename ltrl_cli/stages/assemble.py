"""`ltrl assemble`'s stage: tiered question records in, training records out.

The contexts are built by `ltrl_cli.context.builder.ContextBuilder` (packing, cutting,
the exact token count) in the layout of `ltrl_cli.context.layout`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Iterator

from ltrl_cli import console
from ltrl_cli.backends.base import PageStore, Searcher
from ltrl_cli.backends.tokenize import TokenCache
from ltrl_cli.context.builder import ContextBuilder, TooLong
from ltrl_cli.context.layout import DEFAULT_TEMPLATE, STRATEGIES, AssembleOptions
from ltrl_cli.errors import UsageError
from ltrl_cli.stats import Rejections, Stats


def assemble(
    records: Iterable[dict],
    *,
    store: PageStore,
    counter: TokenCache,
    searcher: Searcher | None = None,
    options: AssembleOptions = AssembleOptions(),
    stats: Stats | None = None,
    refused: Rejections | None = None,
) -> Iterator[dict]:
    """Turn tiered question records into training records (see the module docstring).

    The records are checked against READS["assemble"] (the command's reader does it).
    Records whose gold pages alone exceed the target are skipped and counted as `too long`;
    every other record yields exactly one training record (its documents counted per tier).
    """
    check_options(options, searcher)
    builder = ContextBuilder(store, counter, searcher, options)
    stats = stats if stats is not None else Stats()
    for record in records:
        try:
            out = builder.build(record)
        except TooLong as exc:
            console.warn(f"assemble: skipping {record.get('id')!r}: {exc}")
            stats.update("too long")
            if refused is not None:
                refused.add("too long", f"{record.get('id')!r}: {exc}")
            continue
        for doc in out["metadata"]["docs"]:
            stats.update(f"{doc['tier']} docs")
        yield out


def check_options(options: AssembleOptions, searcher: Searcher | None) -> None:
    """Raise UsageError for a bad strategy, target, template or document format."""
    if options.strategy not in STRATEGIES:
        raise UsageError(f"--strategy {options.strategy!r}: choose one of {', '.join(STRATEGIES)}")
    if options.strategy == "search" and searcher is None:
        raise UsageError("--strategy search needs a searcher (an index built by ltrl index)")
    if options.target_tokens < 1:
        raise UsageError("--target-tokens must be positive")
    if options.template.count("{documents}") != 1 or "{question}" not in options.template:
        raise UsageError("--template must contain {documents} once and {question} at least once")
    try:
        options.doc_format.format(index=1, title="t", text="x")
    except (KeyError, IndexError, ValueError) as exc:
        raise UsageError(f"--doc-format: only {{index}}, {{title}} and {{text}} may be used ({exc})") from None
    if options.doc_format.count("{text}") != 1:
        raise UsageError("--doc-format must contain {text} once")


def read_template(value: str | None) -> str:
    """A template given on the command line: a file's path, or the template text itself."""
    if not value:
        return DEFAULT_TEMPLATE
    path = Path(value).expanduser()
    if "{documents}" not in value and path.is_file():
        return path.read_text(encoding="utf-8")
    return unescape(value)


def unescape(text: str) -> str:
    r"""Let a shell argument spell a newline as `\n`: `'Q: {question}\n{documents}'`.

    >>> unescape(r"a\nb")
    'a\nb'
    """
    return text.replace("\\n", "\n")
