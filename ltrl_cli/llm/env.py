"""Endpoint defaults from the environment, read as the OpenAI SDK reads them.

A flag always wins; a variable fills only what no flag (or grpo setting) gave:

| variable | default for |
|---|---|
| `OPENAI_BASE_URL` | `--base-url` of every model stage (synth, search-agent, eval; score's judge) |
| `OPENAI_API_KEY` | the key sent to that endpoint when no `--api-key-env` names another variable |
| `LTRL_JUDGE_BASE_URL` | `--judge-base-url` (grpo: `judge_base_url`) |
| `LTRL_JUDGE_MODEL` | `--judge-model` (grpo: `judge_model`) |
| `LTRL_JUDGE_API_KEY` | the judge endpoint's key when no `--judge-api-key-env` names another variable |

Keys are handled by name only (as `--api-key-env VAR` is): the value is read where the
request is made and never printed, logged or written to a record. This module is the one
place these names are read; `llm.factory.make_llm` and `reward.builder.judge_llm` call it.
"""

from __future__ import annotations

import os
from dataclasses import replace
from typing import Any

BASE_URL = "OPENAI_BASE_URL"
API_KEY = "OPENAI_API_KEY"
JUDGE_BASE_URL = "LTRL_JUDGE_BASE_URL"
JUDGE_MODEL = "LTRL_JUDGE_MODEL"
JUDGE_API_KEY = "LTRL_JUDGE_API_KEY"


def _set(name: str) -> str | None:
    """The variable's value when it is set and not empty (an empty one counts as unset, as the SDK does)."""
    return os.environ.get(name) or None


def key_var(given: str | None, fallback: str) -> str | None:
    """The name of the variable holding the key: the one given, else `fallback` when it is set."""
    return given or (fallback if _set(fallback) else None)


def model_options(options: Any) -> Any:
    """LLMOptions with --base-url and the key variable filled from the environment (openai backend only)."""
    if options.backend != "openai":
        return options
    return replace(options, base_url=options.base_url or _set(BASE_URL),
                   api_key_env=key_var(options.api_key_env, API_KEY))


def judge_default(field: str) -> str | None:
    """The environment's judge `base_url` or `model` (for checks made before a judge is built)."""
    return _set({"base_url": JUDGE_BASE_URL, "model": JUDGE_MODEL}[field])


def judge_options(options: Any) -> Any:
    """JudgeOptions with the judge's own endpoint filled from LTRL_JUDGE_* where nothing was given."""
    return replace(options, base_url=options.base_url or judge_default("base_url"),
                   model=options.model or judge_default("model"), api_key_env=key_var(options.api_key_env, JUDGE_API_KEY))
