"""Choosing a model client from parsed options: `LLMOptions` and `make_llm`.

The options are plain values (the commands declare them as typer options in
`ltrl_cli.commands.options`; the GRPO recipe fills them from its settings), so nothing
here imports typer.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Callable

from ltrl_cli.errors import UsageError

MODEL_BACKENDS = ("openai", "vllm", "hf")


@dataclass
class LLMOptions:
    """The parsed model options (see the Annotated types above for their meaning)."""

    backend: str = "openai"
    base_url: str | None = None
    model: str | None = None
    api_key_env: str | None = None
    concurrency: int = 16
    timeout: float = 120.0
    max_retries: int = 6
    temperature: float | None = None
    max_tokens: int | None = None
    cache: Path | None = None
    no_cache: bool = False
    keep_order: bool = True
    keep_think: bool = False
    endpoint_check: bool = True
    max_consecutive_failures: int = 20
    outage_timeout: float = 60.0
    meter: Any = None  # the run's Usage (ltrl_cli.llm.usage): every call is counted, the budget checked
    role: str = "agent"  # what the calls are counted as: writer, agent or judge

    @classmethod
    def pick(cls, params: dict[str, Any]) -> "LLMOptions":
        """Build from a command's keyword arguments (e.g. `locals()`), ignoring the others."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in params.items() if k in names})

    def describe(self) -> dict[str, Any]:
        """What a record says about the model: backend and model, never the endpoint's key."""
        return {"backend": self.backend, "model": self.model}


def make_llm(options: LLMOptions, *, offline: dict[str, Callable[..., Any]] | None = None) -> Any:
    """The LLM the options ask for, wrapped in the response cache unless --no-cache.

    Args:
        options: parsed model options.
        offline: the command's offline stand-ins by backend name; each factory is called
            with the options (or with nothing, if it takes no argument). They are not cached:
            they are deterministic and cheap.

    Raises:
        UsageError: an unknown backend, or --backend openai without --base-url/--model
            (OPENAI_BASE_URL and OPENAI_API_KEY fill what no flag gives: ltrl_cli.llm.env).
        MissingDependency: vllm or transformers is not installed.
    """
    from ltrl_cli.llm import env

    offline = offline or {}
    options = env.model_options(options)  # OPENAI_BASE_URL / OPENAI_API_KEY where no flag gave one
    if options.backend in offline:
        factory = offline[options.backend]
        return metered(factory(options) if _takes_argument(factory) else factory(), options)
    llm = _model_backend(options, offline)
    if not options.no_cache:
        from ltrl_cli.llm.cache import CachedLLM, ResponseCache, default_cache_path

        llm = CachedLLM(llm, ResponseCache(options.cache or default_cache_path()))
    return metered(llm, options)


def metered(llm: Any, options: LLMOptions, tokenizer: Callable[[str], int] | None = None) -> Any:
    """`llm` counted into the run's usage under `options.role` (as it is without a usage,
    or when it is not a chat model: the template writer)."""
    if options.meter is None or not hasattr(llm, "chat"):
        return llm
    from ltrl_cli.llm.usage import MeteredLLM

    return MeteredLLM(llm, options.meter, options.role, tokenizer=tokenizer)


def _model_backend(options: LLMOptions, offline: dict[str, Any]) -> Any:
    if options.backend == "openai":
        if not options.base_url or not options.model:
            given = (("--base-url (or OPENAI_BASE_URL)", options.base_url), ("--model", options.model))
            missing = " and ".join(flag for flag, value in given if not value)
            raise UsageError(f"--backend openai needs {missing} (for example --base-url http://localhost:8000/v1 "
                             f"--model Qwen/Qwen3-4B)")
        from ltrl_cli.llm.openai import OpenAIChat

        return OpenAIChat(options.base_url, options.model, api_key_env=options.api_key_env, timeout=options.timeout,
                          max_retries=options.max_retries, connections=max(100, options.concurrency),
                          endpoint_check=options.endpoint_check,
                          max_consecutive_failures=options.max_consecutive_failures,
                          outage_timeout=options.outage_timeout)
    if options.backend in ("vllm", "hf"):
        if not options.model:
            raise UsageError(f"--backend {options.backend} needs --model (a model directory or hub id)")
        if options.backend == "vllm":
            from ltrl_cli.llm.vllm import VLLMChat

            return VLLMChat(options.model, **vllm_engine_args())
        from ltrl_cli.llm.hf import HFChat

        return HFChat(options.model)
    choices = ", ".join([*MODEL_BACKENDS, *offline])
    raise UsageError(f"--backend {options.backend!r}: choose one of {choices}")


def vllm_engine_args() -> dict[str, Any]:
    """Extra `vllm.LLM` arguments from $LTRL_VLLM_ARGS, a JSON object.

    For example LTRL_VLLM_ARGS='{"tensor_parallel_size": 4, "max_model_len": 32768}'.
    """
    import os

    import orjson

    raw = os.environ.get("LTRL_VLLM_ARGS")
    if not raw:
        return {}
    try:
        args = orjson.loads(raw)
    except orjson.JSONDecodeError:
        args = None
    if not isinstance(args, dict):
        raise UsageError(f"LTRL_VLLM_ARGS must be a JSON object, got {raw[:60]!r}")
    return args


def _takes_argument(factory: Callable[..., Any]) -> bool:
    try:
        params = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL) for p in params)
