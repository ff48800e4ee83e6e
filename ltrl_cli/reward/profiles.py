"""`ltrl score --profile NAME`: one switch for a set of scoring settings.

`longtracerl` is every setting that made `ltrl score --serve` give the authors' reward
server's numbers body for body (docs/fidelity.md): their LLM judge, thinking switched off
the way their server asks, a judge failure scored 0 instead of refused, and, on JSONL,
each response scored as their server scores it (`--as-server`). Their judge prompt is not
ltrl's to ship: it is used when the user gives its file (`--judge-prompt-file`), ltrl's
own wording of the same format otherwise, and the start-up note says which.

A flag the user gives wins over the profile; the note lists only what the profile set.
The bind address (`--host`, `--port`) is never part of a profile.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from ltrl_cli.errors import UsageError


@dataclass(frozen=True)
class Profile:
    name: str
    settings: dict[str, Any]  # score's parameter name -> value
    about: str  # one line for --help and the start-up note
    serve_only: tuple[str, ...] = ()  # settings that mean something only to the server


PROFILES = {
    "longtracerl": Profile(
        "longtracerl",
        {"judge": "llm", "judge_no_think": "thinking-disabled", "on_judge_error": "zero", "as_server": True},
        "the authors' reward server: LLM judge, thinking disabled, judge errors scored 0, server rules",
        serve_only=("on_judge_error",)),
}

# How each setting is spelt on the command line, for the note.
FLAGS = {"judge": "--judge", "judge_no_think": "--judge-no-think", "on_judge_error": "--on-judge-error",
         "as_server": "--as-server"}


def apply_profile(name: str | None, params: dict[str, Any], given: Iterable[str], *,
                  serve: bool = True) -> tuple[dict[str, Any], str | None]:
    """`params` with the profile's settings where the user gave no flag, and the note to print.
    On JSONL (`serve` False) the server-only settings are left out: a missing verdict is
    then `judge_error` in the record and exit 1, as without a profile.

    >>> p, note = apply_profile("longtracerl", {"judge": "contains", "judge_no_think": "none",
    ...     "on_judge_error": "error", "as_server": False, "judge_prompt_file": None}, given={"judge_no_think"})
    >>> p["judge"], p["judge_no_think"], p["on_judge_error"], p["as_server"]
    ('llm', 'none', 'zero', True)
    >>> print(note)  # doctest: +ELLIPSIS
    profile longtracerl (...): --judge llm --on-judge-error zero --as-server; kept as given: --judge-no-think; ...
    """
    if name is None:
        return params, None
    profile = PROFILES.get(name)
    if profile is None:
        raise UsageError(f"--profile {name!r}: choose one of {', '.join(PROFILES)}")
    given = set(given)
    settings = {k: v for k, v in profile.settings.items() if serve or k not in profile.serve_only}
    set_here = {k: v for k, v in settings.items() if k not in given}
    kept = [FLAGS[k] for k in settings if k in given]
    flags = " ".join(FLAGS[k] if v is True else f"{FLAGS[k]} {v}" for k, v in set_here.items())
    note = f"profile {name} ({profile.about}): {flags or 'nothing'}"
    if kept:
        note += f"; kept as given: {', '.join(kept)}"
    note += "; " + _prompt_note(params.get("judge_prompt_file"))
    return {**params, **set_here}, note


def _prompt_note(prompt_file: Any) -> str:
    if prompt_file:
        return f"judge prompt from {prompt_file}"
    return ("judge prompt: ltrl's own wording of their grader format (give theirs with --judge-prompt-file for "
            "verdicts word for word like their server's)")
