"""Everything a person reads goes to stderr through here; stdout carries records only.

Progress bars are drawn only when stderr is a terminal and --quiet is off. Summaries are
one line (`ltrl_cli.stats.Stats`): `walk: 1,000 out, 0 skipped (0.4s)`.
"""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from typing import Iterable, Iterator, TypeVar

from rich.console import Console

from ltrl_cli.errors import bound

T = TypeVar("T")

console = Console(stderr=True, highlight=False, soft_wrap=True)
_state = {"quiet": False, "verbose": False}


def configure(*, quiet: bool = False, verbose: bool = False) -> None:
    _state["quiet"] = quiet
    _state["verbose"] = verbose


def is_verbose() -> bool:
    return _state["verbose"] or os.environ.get("LTRL_DEBUG") == "1"


def interactive() -> bool:
    """True when a person is watching stderr (and did not ask for quiet)."""
    return not _state["quiet"] and sys.stderr.isatty()


def info(message: str) -> None:
    """A line for the person running the command, unless --quiet."""
    if not _state["quiet"]:
        console.print(message, markup=False)


def warn(message: str) -> None:
    """A warning is always shown, even with --quiet; a value quoted in it is bounded."""
    console.print(bound(message), markup=False, style="yellow" if sys.stderr.isatty() else None)


def progress(items: Iterable[T], description: str, total: int | None = None) -> Iterator[T]:
    """Yield from `items`, drawing a progress bar on a terminal and nothing elsewhere."""
    if not interactive():
        yield from items
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()]
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task(description, total=total)
        for item in items:
            yield item
            bar.advance(task)


@contextmanager
def status(message: str) -> Iterator[None]:
    """A spinner on a terminal; silent elsewhere."""
    if not interactive():
        yield
        return
    with console.status(message):
        yield
