"""Error types whose messages are written for the user.

Every command turns these into one line on stderr, `ltrl <command>: <message>`, and an
exit code (see EXIT_CODES). Tracebacks are shown only with `-v` or LTRL_DEBUG=1.
"""

from __future__ import annotations

import re

EXIT_OK = 0
EXIT_FAILURE = 1  # runtime failure: bad record, missing index, endpoint down during the run, all rejected
EXIT_USAGE = 2  # unknown option, bad option value; an endpoint that fails the check before the first record
EXIT_BUDGET = 75  # a --max-requests/--max-total-tokens/--max-cost budget stopped the run (sysexits' TEMPFAIL: rerun)
EXIT_INTERRUPTED = 130  # Ctrl-C
EXIT_TERMINATED = 143  # SIGTERM

EXIT_CODES = {
    EXIT_OK: "success (also when the reader closed the pipe early, as in `ltrl walk | head`)",
    EXIT_FAILURE: "runtime or data error (bad record, missing index, endpoint down during the run, every record "
                  "rejected); every line written is complete, and a rerun resumes from the response cache",
    EXIT_USAGE: "usage error (unknown option, bad option value), or the model endpoint failed its check before "
                "the first record (nothing answers, the model is not served, the key is refused)",
    EXIT_BUDGET: "a budget (--max-requests, --max-total-tokens, --max-cost) stopped the run; every line "
                 "written is complete; rerun with a larger budget to resume from the cache",
    EXIT_INTERRUPTED: "interrupted (Ctrl-C); every line written is complete",
    EXIT_TERMINATED: "terminated (SIGTERM); every line written is complete",
}


QUOTE_LIMIT = 200  # characters of one quoted value a message shows
MESSAGE_LIMIT = 1000  # characters of a whole message: our words plus the values in them
# A string as `!r` writes it; unrolled so that a 50 MB value is scanned in C, not char by char.
_QUOTED = re.compile(r"'[^'\\\n]*(?:\\.[^'\\\n]*)*'" + r'|"[^"\\\n]*(?:\\.[^"\\\n]*)*"')
_CUT = re.compile(r"\[\.\.\. ([\d,]+) characters \.\.\.\]")


def clip(text: str, limit: int = QUOTE_LIMIT) -> str:
    """`text` in at most `limit` characters: its start and end, and how much was cut between.

    Clipping twice changes nothing, and a cut inside `text` counts toward the new one.

    >>> clip("abc")
    'abc'
    >>> clip("x" * 1000, 60)
    'xxxxxxxxxxxxxxxxxxxxxxxxx[... 966 characters ...]xxxxxxxxx'
    >>> clip(clip("x" * 1000, 60), 60) == clip("x" * 1000, 60)
    True
    """
    if len(text) <= limit:
        return text
    stands_for = len(text) + sum(int(m.group(1).replace(",", "")) - len(m.group()) for m in _CUT.finditer(text))
    mark = f"[... {stands_for:,} characters ...]"  # a little more than the cut: sized before the cut
    room = max(limit - len(mark), 2)
    head, tail = room * 3 // 4, room - room * 3 // 4
    mark = f"[... {stands_for - head - tail:,} characters ...]"
    return f"{text[:head]}{mark}{text[len(text) - tail:]}"


def bound(message: str) -> str:
    """A message with each quoted value ('...' or "...", as `!r` writes them) cut to
    QUOTE_LIMIT characters, and the whole cut to MESSAGE_LIMIT (a value quoted without
    quote marks, an exception's own text). Every message a person reads passes through
    here (LtrlError, console.warn, the commands' last line), so a 50 MB title in a record
    costs a line, not 50 MB of stderr.

    >>> m = bound("no page titled '" + "a" * 300 + "' in the index")
    >>> m.startswith("no page titled 'aaa"), "[... 126 characters ...]" in m, m.endswith("aaa' in the index")
    (True, True, True)
    >>> bound(m) == m
    True
    """
    if len(message) <= QUOTE_LIMIT:
        return message
    message = clip(message, 100 * MESSAGE_LIMIT)  # the scan below stays short on a 50 MB value
    message = _QUOTED.sub(lambda m: clip(m.group()), message)
    return clip(message, MESSAGE_LIMIT)


class LtrlError(Exception):
    """An error with a message fit for the user and an exit code.

    The message is bounded (see `bound`): it quotes at most about QUOTE_LIMIT characters of
    any value in it.
    """

    exit_code = EXIT_FAILURE

    def __init__(self, message: str, *, exit_code: int | None = None):
        message = bound(message)
        super().__init__(message)
        self.message = message
        if exit_code is not None:
            self.exit_code = exit_code


class BadInput(LtrlError):
    """A record on stdin (or in an input file) that cannot be used."""

    def __init__(self, message: str, *, line: int | None = None, source: str | None = None):
        where = []
        if source:
            where.append(source)
        if line is not None:
            where.append(f"line {line}")
        super().__init__(": ".join(where + [message]))
        self.line = line
        self.detail = bound(message)


class UsageError(LtrlError):
    """A bad option value or combination (exit 2)."""

    exit_code = EXIT_USAGE


class BackendError(LtrlError):
    """A backend (index, endpoint, model, JVM) failed in a way the user must act on."""


class MissingDependency(LtrlError):
    """An optional dependency is not installed; the message says which extra to install."""

    def __init__(self, module: str, extra: str, purpose: str):
        super().__init__(
            f"{purpose} needs the Python package '{module}', which is not installed. "
            f"Install it with: pip install 'ltrl[{extra}]'"
        )


def check_installed(module: str, extra: str, purpose: str) -> None:
    """Raise MissingDependency unless `module` can be imported (without importing it)."""
    import importlib.util

    if importlib.util.find_spec(module) is None:
        raise MissingDependency(module, extra, purpose)
