"""Error types whose messages are written for the user.

Every command turns these into one line on stderr, `ltrl <command>: <message>`, and an
exit code (see EXIT_CODES). Tracebacks are shown only with `-v` or LTRL_DEBUG=1.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILURE = 1  # runtime failure: bad record, missing index, endpoint down after retries
EXIT_USAGE = 2  # unknown option, bad option value
EXIT_INTERRUPTED = 130  # Ctrl-C
EXIT_TERMINATED = 143  # SIGTERM

EXIT_CODES = {
    EXIT_OK: "success (also when the reader closed the pipe early, as in `ltrl walk | head`)",
    EXIT_FAILURE: "runtime or data error (bad record, missing index, endpoint down after retries)",
    EXIT_USAGE: "usage error (unknown option, bad option value)",
    EXIT_INTERRUPTED: "interrupted (Ctrl-C); every line written is complete",
    EXIT_TERMINATED: "terminated (SIGTERM); every line written is complete",
}


class LtrlError(Exception):
    """An error with a message fit for the user and an exit code."""

    exit_code = EXIT_FAILURE

    def __init__(self, message: str, *, exit_code: int | None = None):
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
        self.detail = message


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
