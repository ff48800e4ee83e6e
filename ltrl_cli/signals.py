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
  interpreter shutdown would die on it ("Fatal Python error: _enter_buffered_busy");
- a signal whose exception Python swallowed is raised again (`_unraisable`): raised
  where exceptions cannot propagate (an at-fork hook such as logging's lock release, a
  `__del__`, a weakref callback), it would only be printed as "Exception ignored in"
  and the command would run on to the end.

No import here may be heavy: this module loads before everything else.
"""

from __future__ import annotations

import json  # noqa: F401  (see below)
import signal  # and nothing else: a signal before `install` has run is handled Python's way
import sys

# `json` is imported before the handlers exist because orjson's module init imports it
# without checking the result: a KeyboardInterrupt raised inside that import (our handler,
# a signal in the first second of a command) left it a NULL module and the process died
# with SIGSEGV (seen in tests/test_signals.py under load; the core's stack ends in
# orjson_init_exec -> PyObject_GetAttrString(NULL, "JSONDecodeError")). Already in
# sys.modules, the import cannot be interrupted. It costs about a millisecond.

EXIT_BY_SIGNAL = {signal.SIGINT: 130, signal.SIGTERM: 143}

_state: dict = {"received": None, "holding": 0, "pending": None, "said": False}


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
    if sys.unraisablehook is not _unraisable:
        _unraisable.previous = sys.unraisablehook
        sys.unraisablehook = _unraisable


def _unraisable(info) -> None:
    """Raise a swallowed KeyboardInterrupt/Terminated of ours again, in the next frame that can raise it.

    Python calls this hook instead of propagating an exception raised in an at-fork hook,
    a `__del__` or a weakref callback; our handler's exception can land there when the
    signal arrives at that moment (seen: logging's `_releaseLock`, run after a fork). A
    one-shot profile function raises it again at the next event of another frame (the
    call that forked returning, the next call); one landing in another such place comes
    back here and goes on to the next.
    """
    signum = _state["received"]
    if signum is None or not isinstance(info.exc_value, (KeyboardInterrupt, Terminated)):
        _unraisable.previous(info)
        return
    hook, profiler = sys._getframe().f_code, sys.getprofile()  # a profiler's (cProfile) is put back

    def again(frame, event, arg):
        if frame.f_code is hook:
            return
        sys.setprofile(profiler)
        if _state["holding"]:  # a line is being written: `release` raises it
            _state["pending"] = signum
            return
        raise _exception(signum)

    sys.setprofile(again)


_unraisable.previous = sys.__unraisablehook__


def exit_at_once() -> None:
    """From now on a signal ends the process at once with 130/143: the command's work is
    done and flushed, and what is left (the interpreter's shutdown) has nothing to save."""
    import os

    for signum, code in EXIT_BY_SIGNAL.items():
        try:
            if signal.getsignal(signum) is not signal.SIG_IGN:
                signal.signal(signum, lambda *_, code=code: os._exit(code))
        except ValueError:
            pass


def _handler(signum: int, frame: object) -> None:
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


class writing:
    """`hold` and `release` around a `with` block."""

    def __enter__(self) -> None:
        hold()

    def __exit__(self, *exc: object) -> None:
        release()


def received() -> int | None:
    """The first SIGINT or SIGTERM this process got, if any."""
    return _state["received"]


def said(value: bool | None = None) -> bool:
    """Whether a command's last line told the user (set by the command's error handler)."""
    if value is not None:
        _state["said"] = value
    return _state["said"]


def say() -> None:
    """`ltrl: interrupted` (or terminated) on stderr, for a signal no command reported."""
    import sys

    print(f"ltrl: {'interrupted' if exit_code(1) == 130 else 'terminated'}", file=sys.stderr, flush=True)


def stop_now_if_signalled() -> None:
    """After a signal, say so and end the process at once with 130/143; else return.

    For a signal while the command loads: the exception it raised may have reached us
    wrapped in another (an import that fails on it says RuntimeError), so whatever came
    up is taken for the signal once one has arrived.
    """
    import os

    if _state["received"] is not None:
        say()
        os._exit(exit_code(1))


def exit_code(code: int) -> int:
    """`code`, or 130/143 when the run was interrupted, however the interruption surfaced."""
    signum = _state["received"]
    return EXIT_BY_SIGNAL[signum] if signum is not None else code
