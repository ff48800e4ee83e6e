"""Everything a person reads goes to stderr through here; stdout carries records only.

Progress (`progress`) is a bar when stderr is a terminal, and otherwise one heartbeat
line every --progress-every seconds (default 30), so a batch job's log shows the run
is alive; --quiet silences both. Summaries are one line (`ltrl_cli.stats.Stats`):
`walk: 1,000 out, 0 skipped (0.4s)`.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from contextlib import contextmanager
from typing import Callable, Iterable, Iterator, TypeVar

from rich.console import Console

from ltrl_cli.errors import bound

T = TypeVar("T")

console = Console(stderr=True, highlight=False, soft_wrap=True)
PROGRESS_EVERY = 30.0  # seconds between heartbeat lines when stderr is not a terminal
_state = {"quiet": False, "verbose": False, "every": PROGRESS_EVERY}


def configure(*, quiet: bool = False, verbose: bool = False, progress_every: float | None = None) -> None:
    _state["quiet"] = quiet
    _state["verbose"] = verbose
    _state["every"] = PROGRESS_EVERY if progress_every is None else progress_every


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


def progress(items: Iterable[T], description: str, total: int | None = None,
             failed: Callable[[], int] | None = None) -> Iterator[T]:
    """Yield from `items`, showing how far the run is: on a terminal a bar (done/total when
    the total is known, rate, ETA, failures so far), elsewhere a heartbeat line on stderr
    every --progress-every seconds (0: none); nothing with --quiet.

    Args:
        items: what the stage yields, one per record done.
        description: the stage's name, which starts each line (`synth: 120 of 3,000 ...`).
        total: how many records there will be, when known (see io.stdin_total).
        failed: how many have failed so far (a run's count), shown when not 0.
    """
    if _state["quiet"]:
        yield from items
    elif sys.stderr.isatty():
        yield from _bar(items, description, total, failed)
    elif _state["every"] > 0:
        yield from _heartbeat(items, description, total, failed)
    else:
        yield from items


def _bar(items: Iterable[T], description: str, total: int | None, failed: Callable[[], int] | None) -> Iterator[T]:
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                               TimeRemainingColumn)

    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TimeRemainingColumn(),
               TextColumn("{task.fields[failed]}", style="yellow")]
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task(description, total=total, rate="", failed="")
        meter = _Meter(total, failed)
        for item in items:
            yield item
            meter.done += 1
            bar.update(task, advance=1, rate=meter.rate(), failed=meter.failures())


def _heartbeat(items: Iterable[T], description: str, total: int | None,
               failed: Callable[[], int] | None) -> Iterator[T]:
    """A line every few seconds from a helper thread: a stage waiting on a slow model yields
    nothing for minutes, and the log must still show it is alive."""
    meter, stop = _Meter(total, failed), threading.Event()

    def beat() -> None:
        while not stop.wait(_state["every"]):
            info(f"{description}: {meter.line()}")

    beater = threading.Thread(target=beat, name="ltrl-progress", daemon=True)
    beater.start()
    try:
        for item in items:
            yield item
            meter.done += 1
    finally:
        stop.set()
        beater.join(timeout=5)


class _Meter:
    """Done, total, rate, ETA and failures of a run, as the bar and the heartbeat show them."""

    def __init__(self, total: int | None, failed: Callable[[], int] | None):
        self.total, self.failed, self.done, self.started = total, failed, 0, time.monotonic()

    @property
    def known(self) -> int | None:
        """The total, while it is still believable (an estimate can be passed)."""
        return self.total if self.total and self.total >= self.done else None

    def rate(self) -> str:
        elapsed = time.monotonic() - self.started
        return f"{self.done / elapsed:,.2f}/s" if elapsed > 0 and self.done else ""

    def failures(self) -> str:
        count = self.failed() if self.failed is not None else 0
        return f"{count:,} failed" if count else ""

    def line(self) -> str:
        """`120 of 3,000 done (4%), 2.10/s, 23m07s left, 3 failed, 57s so far`."""
        elapsed = time.monotonic() - self.started
        total = self.known
        parts = [f"{self.done:,} of {total:,} done ({self.done / total:.0%})" if total else f"{self.done:,} done"]
        if self.done and elapsed > 0:
            parts.append(self.rate())
            if total and total > self.done:
                parts.append(f"{_duration((total - self.done) * elapsed / self.done)} left")
        parts += [self.failures()] if self.failures() else []
        return ", ".join(parts + [f"{_duration(elapsed)} so far"])


def _duration(seconds: float) -> str:
    """`57s`, `23m07s`, `5h02m`.

    >>> _duration(57.2), _duration(1387), _duration(18130)
    ('57s', '23m07s', '5h02m')
    """
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


@contextmanager
def status(message: str) -> Iterator[None]:
    """A spinner on a terminal; silent elsewhere."""
    if not interactive():
        yield
        return
    with console.status(message):
        yield
