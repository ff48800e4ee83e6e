"""`ltrl check`: check a run's settings before hours of work."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ltrl_cli.app import Verbose, app, command
from ltrl_cli.commands import options as o

EXIT_CHECK_FAILED = 2  # a setting the run would fail on: like a bad option value


@app.command("check")
def check_command(
    tokenizer: Annotated[
        Optional[str],
        typer.Option("--tokenizer", help="Load this tokenizer as `ltrl assemble --tokenizer` would."),
    ] = None,
    allow_download: Annotated[
        bool, typer.Option("--allow-download", help="Let a Hugging Face tokenizer be downloaded by name (once).")
    ] = False,
    index: Annotated[
        Optional[Path], typer.Option("--index", help="Open this index as every stage's `--index` would.")
    ] = None,
    base_url: o.BaseUrl = None,
    model: o.Model = None,
    api_key_env: o.ApiKeyEnv = None,
    verbose: Verbose = False,
) -> None:
    """Check a run's settings now, before the slow stages: load each one named, say what was found.

    Reads nothing; writes nothing on stdout. One line on stderr per check: what it
    loaded, or what is wrong. Every check runs, so one call names every bad setting.
    Exit 0 when all pass, 2 when one fails (the setting a run would fail on), 1 on an
    unexpected error.

    \b
    Example:
      ltrl check --tokenizer tiktoken:o200k_base --index idx
      ltrl check --tokenizer Qwen/Qwen3-4B-Thinking-2507 --allow-download
      ltrl check --base-url http://localhost:8000/v1 --model Qwen/Qwen3-8B
    """
    from ltrl_cli import console
    from ltrl_cli.errors import UsageError, bound
    from ltrl_cli.stages.check import endpoint_check, index_check, run_checks, tokenizer_check

    with command("check", verbose=verbose, summary=False):
        checks = []
        if tokenizer is not None:
            checks.append(tokenizer_check(tokenizer, allow_download=allow_download))
        if index is not None:
            checks.append(index_check(index))
        if base_url is not None or model is not None:  # the endpoint check every model stage makes
            checks.append(endpoint_check(base_url, model, api_key_env))
        if not checks:
            raise UsageError("nothing to check: name at least one of --tokenizer, --index, --base-url/--model")
        failed = 0
        for outcome in run_checks(checks):
            if outcome.ok:
                console.console.print(f"check: {outcome.name}: ok: {outcome.message}", markup=False)
            else:
                failed += 1
                console.console.print(bound(f"ltrl check: {outcome.name}: {outcome.message}"), markup=False)
        if failed:
            raise typer.Exit(EXIT_CHECK_FAILED)
