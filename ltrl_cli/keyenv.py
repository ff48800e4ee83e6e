"""`--api-key-env VAR`: the name of the environment variable that holds an API key.

Typing the key itself as the value is a common slip. Every way a key variable reaches ltrl
(`--api-key-env`, `--judge-api-key-env`, grpo's `judge_api_key_env` setting) is checked
before anything runs (on the command line by the options' callback in
`ltrl_cli.commands.options`, elsewhere by `check_key_env`), and a refused value is never
printed: not in the message, not in a record, not in a run's saved settings.
"""

from __future__ import annotations

import re

from ltrl_cli.errors import UsageError

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
# How the keys of common hosted APIs begin; a variable is named in capitals (HF_TOKEN).
KEY_PREFIXES = ("sk-", "sk_", "hf_", "gsk_", "xai-", "pplx-", "nvapi-", "ghp_", "github_pat_", "AIza", "r8_",
                "key-", "fw_")
EXAMPLE = "Give the name, e.g. OPENAI_API_KEY after `export OPENAI_API_KEY=...`."


def looks_like_key(value: str) -> bool:
    """A key rather than a variable's name: a known key prefix, or a long run of letters
    and digits without the underscores that names of that length have.

    >>> [looks_like_key(v) for v in ("OPENAI_API_KEY", "HF_TOKEN", "my_key_2", "hf_AbCdEf123456")]
    [False, False, False, True]
    >>> looks_like_key("3f9a0c2e7b1d4a5f8e6c0b9a7d2e1f3c"), looks_like_key("A1b2C3d4E5f6G7h8I9j0_K1l2M3n4")
    (True, True)
    """
    if value.startswith(KEY_PREFIXES):
        return True
    digits, lower, upper = (any(test(c) for c in value) for test in (str.isdigit, str.islower, str.isupper))
    if len(value) >= 16 and digits and "_" not in value:
        return True
    return len(value) >= 24 and digits and lower and upper


def problem(value: str) -> str | None:
    """What is wrong with `value` as a key variable's name (without repeating it), or None."""
    if not _NAME.match(value):
        return ("expected the name of an environment variable (letters, digits and _, not starting with "
                f"a digit); the value given is not one and is not shown. {EXAMPLE}")
    if looks_like_key(value):
        return ("expected the name of the environment variable that holds the key; the value given looks "
                f"like a key itself and is not shown. {EXAMPLE}")
    return None


def check_key_env(value: str | None, flag: str = "--api-key-env") -> str | None:
    """`value` if it can name the variable holding a key; otherwise a UsageError (exit 2)
    that does not repeat it (it may be the key)."""
    reason = None if value is None else problem(value)
    if reason:
        raise UsageError(f"{flag}: {reason}")
    return value
