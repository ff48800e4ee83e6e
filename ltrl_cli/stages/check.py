"""`ltrl check`: load what a long run will need, now, and say what was found.

A script that runs for hours checks its settings first (the tokenizer, the index, and
later the model endpoint) with exactly these checks, instead of relying on how some
stage treats empty input. Each check is a function that returns one line saying what it
loaded, or raises an `LtrlError` saying what is wrong; `run_checks` runs every one, so a
single call reports every bad setting at once.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator

from ltrl_cli.errors import LtrlError

# A sentence every tokenizer can count: the check shows the count, so a person sees the
# tokenizer works on text, not only that a file opened.
SAMPLE = "Which river flows through the city where the author of The Trial was born?"


@dataclass(frozen=True)
class Check:
    """One named check: `run()` returns what it found, or raises LtrlError."""

    name: str
    run: Callable[[], str]


@dataclass(frozen=True)
class Outcome:
    name: str
    ok: bool
    message: str


def run_checks(checks: Iterable[Check]) -> Iterator[Outcome]:
    """Run every check (a failure does not stop the others) and yield each outcome."""
    for check in checks:
        try:
            yield Outcome(check.name, True, check.run())
        except LtrlError as exc:
            yield Outcome(check.name, False, exc.message)


def tokenizer_check(spec: str, *, allow_download: bool = False) -> Check:
    """The tokenizer `ltrl assemble --tokenizer SPEC` would load."""

    def run() -> str:
        from ltrl_cli.backends.tokenize import load_tokenizer

        tokenizer = load_tokenizer(spec, allow_download=allow_download)
        template = ", with a chat template" if tokenizer.has_chat_template else ""
        return (f"{tokenizer.name} loaded{_tiktoken_source(spec)}{template}; "
                f"it counts {tokenizer.count(SAMPLE)} tokens in a {len(SAMPLE)}-character question")

    return Check("tokenizer", run)


def _tiktoken_source(spec: str) -> str:
    if not spec.startswith("tiktoken:"):
        return ""
    cache = os.environ.get("TIKTOKEN_CACHE_DIR")
    return f" (TIKTOKEN_CACHE_DIR={cache})" if cache else " (tiktoken's default cache)"


def endpoint_check(base_url: str | None, model: str | None, api_key_env: str | None = None) -> Check:
    """The model endpoint every model stage checks before its first record (GET /models)."""

    def run() -> str:
        from ltrl_cli.llm import env
        from ltrl_cli.llm.factory import LLMOptions, make_llm
        from ltrl_cli.llm.openai import check_endpoint, host_port

        options = env.model_options(LLMOptions(base_url=base_url, model=model, api_key_env=api_key_env,
                                               no_cache=True))
        check_endpoint(make_llm(options))
        return f"{host_port(options.base_url)} serves {options.model!r}"

    return Check("endpoint", run)


def index_check(path: Path) -> Check:
    """The index every stage opens with `--index PATH`."""

    def run() -> str:
        from ltrl_cli.backends.index import open_index

        index = open_index(path)
        return f"{path}: {len(index):,} pages"

    return Check("index", run)
