"""Ctrl-C and SIGTERM: every command exits 130 or 143, with every line it wrote whole.

Three rules, each for a way a pipeline (`ltrl walk | ltrl synth | ltrl search-agent`)
used to end badly when a terminal's Ctrl-C or a batch system's SIGTERM hit all of it:

- the handlers are installed before the heavy imports (`install`, from `ltrl_cli.cli`),
  so a signal while typer, rich or a back end load ends the command as one that came
  later does, not with a traceback;
- a signal that arrives while a record is being written waits until the line is out
  (`hold`/`release`, `writing`): an interrupted write() would leave half a line in the pipe. A second
  signal does not wait (a reader that no longer reads must not keep us alive);
- the exit code is 130 (SIGINT) or 143 (SIGTERM) whenever one arrived (`exit_code`),
  whatever else the signal caused on its way (click's "Aborted!", a closed pipe when
  the next stage went first), and the process then leaves with os._exit (see
  `ltrl_cli.cli.main`): helper threads blocked on stdin hold its lock, and a normal
  interpreter shutdown would die on it ("Fatal Python error: _enter_buffered_busy").

No import here may be heavy: this module loads before everything else.
"""

from __future__ import annotations

import signal
from contextlib import contextmanager
from typing import Any, Iterator

EXIT_BY_SIGNAL = {signal.SIGINT: 130, signal.SIGTERM: 143}

_state: dict[str, Any] = {"received": None, "holding": 0, "pending": None}


class Terminated(BaseException):
    """SIGTERM arrived; the command flushes whole lines and exits 143."""


def install() -> None:
    """Handle SIGINT and SIGTERM as this module says (main thread only; elsewhere a no-op).

    A SIGINT that the shell set to ignored (`cmd &` in a script, `nohup`) stays ignored.
    """
    for signum in EXIT_BY_SIGNAL:
        try:
            if signum == signal.SIGINT and signal.getsignal(signum) is signal.SIG_IGN:
                continue
            signal.signal(signum, _handler)
        except ValueError:  # not the main thread (in-process tests)
            pass


def _handler(signum: int, frame: Any) -> None:
    first = _state["received"] is None
    _state["received"] = _state["received"] or signum
    if _state["holding"] and first:
        _state["pending"] = signum  # raised by `writing` when the line is out
        return
    raise _exception(signum)


def _exception(signum: int) -> BaseException:
    return KeyboardInterrupt() if signum == signal.SIGINT else Terminated()


def hold() -> None:
    """Start a stretch a signal does not cut (a line being written); end it with `release`."""
    _state["holding"] += 1


def release() -> None:
    """End a `hold`; a signal that arrived meanwhile is raised now."""
    _state["holding"] -= 1
    pending = _state["pending"]
    if pending is not None and not _state["holding"]:
        _state["pending"] = None
        raise _exception(pending)


@contextmanager
def writing() -> Iterator[None]:
    """`hold` and `release` around a block."""
    hold()
    try:
        yield
    finally:
        release()


def received() -> int | None:
    """The first SIGINT or SIGTERM this process got, if any."""
    return _state["received"]


def exit_code(code: int) -> int:
    """`code`, or 130/143 when the run was interrupted, however the interruption surfaced."""
    signum = _state["received"]
    return EXIT_BY_SIGNAL[signum] if signum is not None else code
