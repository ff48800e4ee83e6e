"""One way to count: the named counts of a run, kept by every stage and printed once.

A command makes one `Stats` (`command()` does, as `run.stats`); the reader, each stage
and the command add to it with `update(name, n)` (datatrove's stat_update), and the
command prints it as one line on stderr when it ends:

    tier: 120 in, 97 out, 23 unsolved dropped, 412 gold docs, 1 skipped (0.4s)

Names are what a person reads (`"unsolved dropped"`, `"gold docs"`). `in` comes first,
`out` second, `skipped` last, the rest in the order they were first counted. Tests read
the counts with `stats["name"]` (0 when never counted) or `stats.as_dict()`.
"""

from __future__ import annotations

import time

from ltrl_cli import console
from ltrl_cli.errors import BadInput, LtrlError, clip

FIRST = ("in", "out")
LAST = ("skipped",)


class Stats:
    """Named counts, plus the input line the reader is on.

    >>> s = Stats(); s.update("skipped"); s.update("out", 2); s.update("gold docs", 0)
    >>> s["out"], s["missing"], s.as_dict()
    (2, 0, {'out': 2, 'gold docs': 0, 'skipped': 1})
    >>> s.summary("tier", elapsed=0.4)
    'tier: 2 out, 0 gold docs, 1 skipped (0.4s)'
    """

    def __init__(self) -> None:
        self._counts: dict[str, int] = {}
        self._measures: dict[str, str] = {}  # figures that are not counts (a mean), shown after the counts
        self.line = 0  # the input line the reader is on (a position, not a count; 0: none read)
        self.started = time.perf_counter()
        self.usage = None  # the run's model usage (ltrl_cli.llm.usage.Usage), when it calls models

    def update(self, name: str, n: int = 1) -> None:
        """Add `n` to the count `name` (n=0 makes it show, as 0, in the summary)."""
        self._counts[name] = self._counts.get(name, 0) + int(n)

    def measure(self, name: str, text: str) -> None:
        """Show `name text` in the summary after the counts (`mean reward 0.412`); set again to replace."""
        self._measures[name] = text

    def __getitem__(self, name: str) -> int:
        return self._counts.get(name, 0)

    def __contains__(self, name: str) -> bool:
        return name in self._counts

    def as_dict(self) -> dict[str, int]:
        """The counts in summary order."""
        counts = dict(self._counts)
        if self.line:  # a reader ran: say how many came in and how many were skipped, even 0
            counts.setdefault("in", 0)
            counts.setdefault("skipped", 0)
        first = {k: counts.pop(k) for k in FIRST if k in counts}
        last = {k: counts.pop(k) for k in LAST if k in counts}
        return {**first, **counts, **last}

    def summary(self, command: str, elapsed: float | None = None) -> str:
        """`walk: 1,000 out, 0 skipped (0.4s)`."""
        parts = [f"{value:,} {name}" for name, value in self.as_dict().items()]
        parts += [f"{name} {text}" for name, text in self._measures.items()]
        elapsed = time.perf_counter() - self.started if elapsed is None else elapsed
        line = f"{command}: {', '.join(parts) or 'nothing done'} ({elapsed:.1f}s)"
        return f"{line}; {self.usage.line()}" if self.usage else line

    def reject(self, exc: BadInput, *, skip_bad: bool) -> None:
        """Raise `exc`, or with `skip_bad` warn about it on stderr and count it as skipped."""
        if not skip_bad:
            raise exc
        self.update("skipped")
        console.warn(f"skipping {exc.message}")


class Rejections:
    """What a stage refused, by reason, with the first refusal as an example: so that a stage
    that refused every record fails where the cause is (`synth: all 3 walks rejected (3
    unparseable)...`), not one stage later with "stdin was empty".

    >>> r = Rejections("walks"); r.add("unparseable", "record 'w1': the reply was 'Sure!'")
    >>> r.error(kept=0).message
    "all 1 walks rejected (1 unparseable), nothing written; for example record 'w1': the reply was 'Sure!'"
    >>> r.error(kept=1) is None
    True
    """

    def __init__(self, what: str):
        self.what = what  # the records' plural name: walks, questions, records
        self.reasons: dict[str, int] = {}
        self.example: str | None = None

    def add(self, reason: str, example: str | None = None) -> None:
        self.reasons[reason] = self.reasons.get(reason, 0) + 1
        if self.example is None and example:
            self.example = clip(example, 400)

    def error(self, kept: int, hint: str = "") -> LtrlError | None:
        """The error to raise when nothing was kept and something was refused, else None."""
        if kept or not self.reasons:
            return None
        total = sum(self.reasons.values())
        counts = ", ".join(f"{n:,} {reason}" for reason, n in self.reasons.items())
        message = f"all {total:,} {self.what} rejected ({counts}), nothing written"
        if self.example:
            message += f"; for example {self.example}"
        return LtrlError(f"{message}. {hint}" if hint else message)
