"""Entry point: `ltrl` and `python -m ltrl_cli`.

Each module in `ltrl_cli/commands/` registers its commands on the shared app when it is
imported here. Command bodies import their heavy back ends themselves.
"""

from __future__ import annotations

from ltrl_cli import signals

signals.install()  # first: a Ctrl-C while typer, rich and the commands load is exit 130 too
try:
    import os
    import sys
    import threading

    from ltrl_cli.app import app
    from ltrl_cli.commands import load_all

    load_all()
except BaseException:
    signals.stop_now_if_signalled()
    raise


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; return the exit code instead of exiting (for tests and __main__).

    Without `argv` (the process's own command line), the process ends here with the code
    (`leave`): 130/143 whenever a SIGINT/SIGTERM arrived, however it surfaced.
    """
    try:
        app(args=argv, prog_name="ltrl")
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:  # outside a command's body: KeyboardInterrupt, Terminated, or what they broke
        if signals.received() is None:
            raise
        code = 1  # said and turned into 130/143 below
    if argv is None:
        if signals.received() is not None and not signals.said():  # it surfaced outside a command's body
            signals.say()
        leave(signals.exit_code(code))
    return code


def leave(code: int) -> int:
    """End the process with `code`: normally, or at once with os._exit once the atexit
    functions have run and stdout and stderr are flushed, after a signal, with helper
    threads still running (a stage's stdin reader blocked on a pipe), or with a JVM in the
    process. A normal shutdown would wait on those threads or die on the lock of the stdin
    buffer they hold ("Fatal Python error: _enter_buffered_busy", exit 134), or tear the C
    runtime down under the JVM's running threads (seen as SIGSEGV)."""
    if signals.received() is None and threading.active_count() == 1 and "jnius" not in sys.modules:
        signals.exit_at_once()  # a signal during the interpreter's shutdown: 130/143, not death by signal
        return code
    if signals.received() is None:  # after a signal, modules may be half imported: run nothing of theirs
        import atexit

        try:
            atexit._run_exitfuncs()  # what the normal shutdown would have run first
        except BaseException:
            pass
    for stream in (sys.stdout, sys.stderr):
        try:
            with signals.writing():
                stream.flush()
        except BaseException:  # a closed pipe, or a second signal: nothing more can be said
            pass
    os._exit(code)


__all__ = ["app", "main"]

if __name__ == "__main__":
    sys.exit(main())
