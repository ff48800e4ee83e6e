"""The typer app, the options every command shares, and the one place errors become
messages and exit codes (like xsv's main.rs).

Command modules in `ltrl_cli/commands/` register themselves on `app`; they import
nothing heavy at module level, so `ltrl --help` stays fast.
"""

from __future__ import annotations

import contextlib
import sys
import traceback
from typing import Annotated, Iterator, Optional

import typer
from typer.core import TyperGroup

from ltrl_cli import __version__, console, signals
from ltrl_cli.errors import EXIT_BUDGET, EXIT_INTERRUPTED, EXIT_TERMINATED, LtrlError, bound
from ltrl_cli.io import ClosedPipe, Terminated, raise_on_sigterm
from ltrl_cli.stats import Stats

PIPELINE_HELP = """\
Build long-context RL data and train reasoning models on it (LongTraceRL).

Every command reads JSONL on stdin and writes JSONL on stdout; logs, progress and
summaries go to stderr.

\b
A whole pipeline on the embedded demo corpus, offline:
  ltrl corpus demo -o demo.jsonl
  ltrl index demo.jsonl -o idx
  ltrl walk --index idx -n 200 | ltrl synth --index idx --backend template \\
    | ltrl search-agent --index idx --backend lexical > traj.jsonl
  ltrl tier < traj.jsonl | ltrl assemble --index idx > train.jsonl
  ltrl stats < train.jsonl

\b
Exit codes: 0 ok (also when the reader closes the pipe early), 1 runtime or data
error (also: every record rejected, the endpoint down mid-run), 2 usage error (also:
the endpoint fails its check before the first record), 75 a budget stopped the run, 130 interrupted,
143 terminated.
"""

# The order of `ltrl --help` (the pipeline's) and of loading the command modules;
# modules it does not name follow alphabetically.
ORDER = ["corpus", "index", "walk", "synth", "search_agent", "tier", "assemble", "stats", "export",
         "score", "grpo", "eval", "judge_audit"]


class _PipelineOrder(TyperGroup):
    """List commands in pipeline order (typer would put sub-groups such as `corpus` last)."""

    def list_commands(self, ctx) -> list[str]:
        rank = {name.replace("_", "-"): i for i, name in enumerate(ORDER)}
        return sorted(super().list_commands(ctx), key=lambda name: rank.get(name, len(rank)))


app = typer.Typer(
    name="ltrl",
    cls=_PipelineOrder,
    help=PIPELINE_HELP,
    no_args_is_help=True,
    add_completion=True,  # --install-completion, --show-completion (bash, zsh, fish, PowerShell)
    pretty_exceptions_enable=False,
    pretty_exceptions_show_locals=False,  # never dump locals: they may hold API keys
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        print(f"ltrl {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: Annotated[
        Optional[bool], typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = None,
) -> None:
    """Build long-context RL data and train reasoning models on it (LongTraceRL)."""


# Options shared by the record-streaming commands.
SkipBad = Annotated[
    bool, typer.Option("--skip-bad", help="Warn about bad input lines, skip them, and report the count.")
]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress or summary on stderr (warnings still show).")]
Verbose = Annotated[bool, typer.Option("--verbose", "-v", help="Show tracebacks on errors (also LTRL_DEBUG=1).")]
ProgressEvery = Annotated[float, typer.Option(
    "--progress-every", min=0.0, metavar="SECONDS",
    help="When stderr is not a terminal (a batch log), a progress line this often: done/total, rate, ETA, "
         "failures (0: none). On a terminal a progress bar instead; -q silences both.")]
Shard = Annotated[
    Optional[str],
    typer.Option("--shard", metavar="I/N", help="Process only shard I of N (by a hash of `id`), for batch jobs."),
]


@contextlib.contextmanager
def command(name: str, *, quiet: bool = False, verbose: bool = False, summary: bool = True,
            progress_every: float | None = None) -> Iterator[Stats]:
    """Run a command body: one-line errors, documented exit codes, a closing summary.

    Yields the run's Stats: the reader, the stages and the command count into it, and
    its summary line closes the run on stderr.
    """
    console.configure(quiet=quiet, verbose=verbose, progress_every=progress_every)
    raise_on_sigterm()
    run = Stats()
    try:
        yield run
    except ClosedPipe:
        if signals.received() is not None:  # the next stage went first on the same Ctrl-C
            _fail(name, "interrupted", EXIT_INTERRUPTED)
        raise typer.Exit(0)
    except LtrlError as exc:
        if exc.exit_code == EXIT_BUDGET and summary:  # what was spent, and on how many records
            console.info(run.summary(name))
        _fail(name, exc.message, exc.exit_code)
    except KeyboardInterrupt:
        _fail(name, "interrupted", EXIT_INTERRUPTED)
    except Terminated:
        _fail(name, "terminated", EXIT_TERMINATED)
    except (typer.Exit, typer.Abort, SystemExit):
        raise
    except OSError as exc:  # a path the user gave cannot be read or written: say which
        _fail(name, f"{exc.filename}: {exc.strerror}" if exc.filename and exc.strerror else str(exc), 1)
    except Exception as exc:  # a bug or an unforeseen backend failure: still one line
        _fail(name, f"unexpected {type(exc).__name__}: {exc} (run with -v for the traceback)", 1)
    if summary:
        console.info(run.summary(name))


def _fail(name: str, message: str, code: int) -> None:
    if signals.received() is not None:  # whatever the signal caused first (an empty pipe...), it is the cause
        code = signals.exit_code(code)
        message = "interrupted" if code == EXIT_INTERRUPTED else "terminated"
    if console.is_verbose():
        traceback.print_exc(file=sys.stderr)
    console.console.print(f"ltrl {name}: {bound(message)}", markup=False, highlight=False)
    signals.said(True)
    raise typer.Exit(code)
