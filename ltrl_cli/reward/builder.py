"""The one place a judge is built from options: `ltrl score` (and its server), `ltrl
search-agent`, `ltrl eval` and `ltrl grpo` all call `build_judge`, so the same flags mean
the same judge everywhere.

The rule for the LLM judge's endpoint:
- any of `--judge-base-url`, `--judge-model`, `--judge-api-key-env` given: the judge gets
  its own OpenAI-compatible endpoint; what is not given comes from the command's own model
  options (`--base-url`, `--model`, `--api-key-env`);
- the variables LTRL_JUDGE_BASE_URL, LTRL_JUDGE_MODEL and LTRL_JUDGE_API_KEY count as
  given when the flags are not (`ltrl_cli.llm.env`);
- none given: the command's own model judges (search-agent's and eval's generation model;
  score's `--base-url`/`--model`, which are the judge's there).
Timeouts, retries and the response cache always follow the command's model options.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable

from ltrl_cli.errors import UsageError
from ltrl_cli.reward.judge import DEFAULT_JUDGE, JUDGE_PROMPT, JUDGES, LLMJudge, RuleJudge, check_prompt


@dataclass(frozen=True)
class JudgeOptions:
    """The judge options every command takes (commands/options.py has their flags)."""

    name: str = DEFAULT_JUDGE  # exact | contains | llm
    base_url: str | None = None
    model: str | None = None
    api_key_env: str | None = None
    max_tokens: int | None = None
    temperature: float | None = None  # None: not sent (the endpoint's own default)
    parser: str = "strict"  # strict (the authors' rule) | tolerant
    no_think: str = "chat-template"
    prompt_file: Path | None = None

    @property
    def own_endpoint(self) -> bool:
        return bool(self.base_url or self.model or self.api_key_env)

    def settings(self) -> dict[str, Any]:
        """The LLMJudge keyword arguments these options give (prompt file read and checked)."""
        return dict(temperature=self.temperature, max_tokens=self.max_tokens, parser=self.parser,
                    no_think=self.no_think, prompt=self.prompt())

    def prompt(self) -> str:
        if self.prompt_file is None:
            return JUDGE_PROMPT
        try:
            text = Path(self.prompt_file).read_text(encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"--judge-prompt-file {self.prompt_file}: {exc.strerror or exc}") from None
        return check_prompt(text, f"--judge-prompt-file {self.prompt_file}")


def judge_llm(options: JudgeOptions, llm_options: Any = None, llm: Any = None,
              make_llm: Callable[..., Any] | None = None) -> Any:
    """The model the LLM judge asks, by the rule in this module's docstring."""
    from ltrl_cli.llm import env
    from ltrl_cli.llm.factory import MODEL_BACKENDS, LLMOptions
    from ltrl_cli.llm.factory import make_llm as default_make_llm

    make_llm = make_llm or default_make_llm
    options = env.judge_options(options)  # LTRL_JUDGE_BASE_URL / _MODEL / _API_KEY where no flag gave one
    base = llm_options if llm_options is not None else LLMOptions()
    if options.own_endpoint:
        own = replace(base, backend="openai", base_url=options.base_url or base.base_url,
                      model=options.model or base.model, api_key_env=options.api_key_env or base.api_key_env,
                      temperature=None, role="judge")
        if not own.base_url or not own.model:
            raise UsageError("--judge llm needs an endpoint: give --judge-base-url and --judge-model (or "
                             "LTRL_JUDGE_BASE_URL and LTRL_JUDGE_MODEL)")
        return make_llm(own)
    if llm is not None:
        if getattr(llm, "name", None) not in MODEL_BACKENDS:
            raise UsageError(f"--judge llm needs a model: give --judge-base-url and --judge-model "
                             f"(the {getattr(llm, 'name', 'offline')} stand-in cannot judge)")
        return llm.as_role("judge") if hasattr(llm, "as_role") else llm  # its calls count as the judge's
    if base.backend not in MODEL_BACKENDS:
        raise UsageError(f"--judge llm needs a model: give --judge-base-url and --judge-model "
                         f"(--backend {base.backend} is not a model)")
    return make_llm(replace(base, role="judge"))  # its own message when --base-url or --model is missing


def build_judge(options: JudgeOptions, llm_options: Any = None, *, llm: Any = None,
                make_llm: Callable[..., Any] | None = None, **overrides: Any) -> Any:
    """A judge from options: `exact`, `contains`, or the method's LLM judge.

    Args:
        options: the judge options.
        llm_options: the command's model options (endpoint defaults, timeouts, cache).
        llm: the command's own model, reused when the judge has no endpoint of its own.
        make_llm: how to build a model from options (default: ltrl_cli.llm.factory.make_llm).
        overrides: passed to LLMJudge (a benchmark's own `prompt` and `parse`).
    """
    if options.name in ("exact", "contains"):
        return RuleJudge(options.name)
    if options.name != "llm":
        raise UsageError(f"--judge {options.name!r}: choose one of {', '.join(JUDGES)}")
    model = judge_llm(options, llm_options, llm, make_llm)
    return LLMJudge(model, **{**options.settings(), **overrides})
