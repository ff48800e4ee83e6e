"""The model options shared by every command that talks to an LLM (synth, search-agent,
the score judge, eval), and the judge options of the commands that judge, as typer option
types.

A command declares the options it takes with these Annotated types, so every command
spells them, documents them and defaults them the same way; `ltrl_cli.llm.factory` turns
the parsed values into a backend:

    from ltrl_cli.commands import options as o
    from ltrl_cli.llm.factory import LLMOptions, make_llm

    def synth_command(backend: o.Backend = "template", base_url: o.BaseUrl = None, ...):
        options = LLMOptions.pick(locals())
        llm = make_llm(options, offline={"template": lambda opts: TemplateWriter(...)})

Only command modules import this one: it imports typer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from ltrl_cli import keyenv
from ltrl_cli.reward.judge import DEFAULT_JUDGE  # noqa: F401  (score's and search-agent's --judge default)

PANEL = "Model"  # the --help section these options are listed under


def key_env_callback(value: str | None) -> str | None:
    """The callback of every key-variable option: checked as the command line is parsed
    (`ltrl_cli.keyenv`), and a refused value is not repeated."""
    reason = None if value is None else keyenv.problem(value)
    if reason:
        raise typer.BadParameter(reason)
    return value


Backend = Annotated[str, typer.Option(
    "--backend", metavar="NAME", rich_help_panel=PANEL,
    help="openai (any OpenAI-compatible endpoint: vllm serve, SGLang, hosted APIs), vllm (in-process, "
         "GPU), hf (transformers in-process, small models on CPU), or this command's offline stand-in.")]
BaseUrl = Annotated[Optional[str], typer.Option(
    "--base-url", metavar="URL", rich_help_panel=PANEL,
    help="Endpoint root for --backend openai, e.g. http://localhost:8000/v1 [default: $OPENAI_BASE_URL].")]
Model = Annotated[Optional[str], typer.Option(
    "--model", metavar="NAME", rich_help_panel=PANEL,
    help="Model name the endpoint serves (openai), or a model directory or hub id (vllm, hf).")]
ApiKeyEnv = Annotated[Optional[str], typer.Option(
    "--api-key-env", metavar="VAR", rich_help_panel=PANEL, callback=key_env_callback,
    help="Name of the environment variable holding the API key (the key itself is never printed) "
         "[default: OPENAI_API_KEY when it is set].")]
Concurrency = Annotated[int, typer.Option(
    "--concurrency", min=1, metavar="N", rich_help_panel=PANEL, help="Requests in flight at once.")]
Timeout = Annotated[float, typer.Option(
    "--timeout", min=0.1, metavar="SECONDS", rich_help_panel=PANEL, help="Seconds allowed for one request.")]
MaxRetries = Annotated[int, typer.Option(
    "--max-retries", min=0, metavar="N", rich_help_panel=PANEL,
    help="Retries after a 429, 5xx, timeout or dropped connection, with exponential backoff.")]
Temperature = Annotated[Optional[float], typer.Option(
    "--temperature", min=0.0, metavar="T", rich_help_panel=PANEL,
    help="Sampling temperature (default: the command's own).")]
MaxTokens = Annotated[Optional[int], typer.Option(
    "--max-tokens", min=1, metavar="N", rich_help_panel=PANEL, help="Most tokens to generate per call.")]
CachePath = Annotated[Optional[Path], typer.Option(
    "--cache", metavar="PATH", rich_help_panel=PANEL,
    help="Response cache (sqlite) [default: $LTRL_CACHE_DIR/llm.sqlite or ~/.cache/ltrl/llm.sqlite].")]
NoCache = Annotated[bool, typer.Option(
    "--no-cache", rich_help_panel=PANEL, help="Neither read nor write the response cache.")]
KeepOrder = Annotated[bool, typer.Option(
    "--keep-order/--no-keep-order", rich_help_panel=PANEL,
    help="Write records in input order, or as they finish (slightly faster with uneven latency).")]
KeepThink = Annotated[bool, typer.Option(
    "--keep-think", rich_help_panel=PANEL, help="Keep reasoning models' <think> text in the records.")]
EndpointCheck = Annotated[bool, typer.Option(
    "--endpoint-check/--no-endpoint-check", rich_help_panel=PANEL,
    help="Before the first record, ask GET <base-url>/models whether the endpoint answers and serves --model "
         "(and the judge's, --judge-model); if not, exit 2 naming host:port and what it serves. Turn off for a "
         "server without /models.")]
MaxConsecutiveFailures = Annotated[int, typer.Option(
    "--max-consecutive-failures", min=0, metavar="N", rich_help_panel=PANEL,
    help="Outage rule: stop the run (exit 1, every record written whole, a rerun resumes from the cache) once N "
         "tries in a row got no answer (refused or dropped connections, timeouts, HTTP 502/503/504) and the first "
         "of them is --outage-timeout seconds old or a request has used up its retries. 0: never stop; a "
         "request that used up its retries then fails alone.")]
OutageTimeout = Annotated[float, typer.Option(
    "--outage-timeout", min=0.0, metavar="SECONDS", rich_help_panel=PANEL,
    help="Outage rule: how long N failed tries in a row may last before the run stops (see "
         "--max-consecutive-failures).")]


# ---------------------------------------------------------------- the judge's options
# Taken by every command that judges (score, search-agent, eval); `judge_options(locals())`
# turns them into the JudgeOptions that `ltrl_cli.reward.builder.build_judge` builds from.

JUDGE_PANEL = "Judge"

JudgeName = Annotated[str, typer.Option(
    "--judge", rich_help_panel=JUDGE_PANEL, metavar="JUDGE",
    help="Outcome judge: exact (normalised exact match), contains (label as whole words), llm (the method's "
         "LLM judge).")]
JudgeBaseUrl = Annotated[Optional[str], typer.Option(
    "--judge-base-url", rich_help_panel=JUDGE_PANEL, metavar="URL",
    help="The LLM judge's own OpenAI-compatible endpoint [default: $LTRL_JUDGE_BASE_URL, else the command's "
         "model].")]
JudgeModel = Annotated[Optional[str], typer.Option(
    "--judge-model", rich_help_panel=JUDGE_PANEL, metavar="NAME",
    help="The LLM judge's model [default: $LTRL_JUDGE_MODEL, else --model].")]
JudgeApiKeyEnv = Annotated[Optional[str], typer.Option(
    "--judge-api-key-env", rich_help_panel=JUDGE_PANEL, metavar="VAR", callback=key_env_callback,
    help="Variable holding the judge endpoint's API key [default: LTRL_JUDGE_API_KEY when it is set, else "
         "--api-key-env].")]
JudgeMaxTokens = Annotated[Optional[int], typer.Option(
    "--judge-max-tokens", min=1, rich_help_panel=JUDGE_PANEL,
    help="Most tokens a judge reply may use (not sent unless given).")]
JudgeParse = Annotated[str, typer.Option(
    "--judge-parse", rich_help_panel=JUDGE_PANEL, metavar="HOW",
    help="Reading the LLM judge's reply: strict (the authors' rule: the first `correct: yes|no` and an "
         "`extracted_final_answer:` are both needed) or tolerant (the last `correct:` line, markdown allowed).")]
JudgeNoThink = Annotated[str, typer.Option(
    "--judge-no-think", rich_help_panel=JUDGE_PANEL, metavar="HOW",
    help="How the LLM judge is told not to think: chat-template (chat_template_kwargs enable_thinking false: "
         "vLLM, SGLang, llama.cpp), thinking-disabled (thinking type disabled: some hosted APIs), none.")]
JudgePromptFile = Annotated[Optional[Path], typer.Option(
    "--judge-prompt-file", rich_help_panel=JUDGE_PANEL, metavar="FILE",
    help="The LLM judge's prompt, used word for word, with {question}, {correct_answer} and {response} "
         "placeholders.")]


def judge_options(params: dict[str, Any], *, name: str | None = None, **given: Any) -> Any:
    """JudgeOptions from a command's keyword arguments (e.g. `locals()`)."""
    from ltrl_cli.reward.builder import JudgeOptions

    values = dict(name=name or params.get("judge", DEFAULT_JUDGE), base_url=params.get("judge_base_url"),
                  model=params.get("judge_model"), api_key_env=params.get("judge_api_key_env"),
                  max_tokens=params.get("judge_max_tokens"), parser=params.get("judge_parse", "strict"),
                  no_think=params.get("judge_no_think", "chat-template"),
                  prompt_file=params.get("judge_prompt_file"))
    values.update(given)
    return JudgeOptions(**values)


def check_endpoints(llm: Any = None, judge: Any = None, judging: Any = None) -> None:
    """Check the command's model endpoint and its LLM judge's before the first record
    (`ltrl_cli.llm.openai.check_endpoint`: each endpoint and model once; offline stand-ins
    and rule judges not at all). `judge` is a judge or the judge's model; `judging`, the
    JudgeOptions, says whether the judge has an endpoint of its own (--judge-base-url...)."""
    from ltrl_cli.llm.openai import check_endpoint

    if llm is not None:
        check_endpoint(llm)
    if judge is not None:
        from ltrl_cli.llm import env

        own = judging is not None and env.judge_options(judging).own_endpoint  # LTRL_JUDGE_* count as given
        check_endpoint(getattr(judge, "llm", judge), judge=own)


# ---------------------------------------------------------------- usage, estimate, budget
# Taken by every command that calls a model (synth, search-agent, score, eval);
# `ltrl_cli.commands._usage` turns them into the run's one Usage.

COST_PANEL = "Usage and budget"

MaxRequests = Annotated[Optional[int], typer.Option(
    "--max-requests", min=1, metavar="N", rich_help_panel=COST_PANEL,
    help="Stop after N requests reach the endpoint (cached replies are free); exit 75, records written whole.")]
MaxTotalTokens = Annotated[Optional[int], typer.Option(
    "--max-total-tokens", min=1, metavar="N", rich_help_panel=COST_PANEL,
    help="Stop once N prompt + completion tokens were sent (every role; --max-tokens is per call); exit 75.")]
MaxCost = Annotated[Optional[float], typer.Option(
    "--max-cost", min=0.0, metavar="AMOUNT", rich_help_panel=COST_PANEL,
    help="Stop once the spend reaches AMOUNT, priced by --price-per-mtok; exit 75.")]
PricePerMtok = Annotated[Optional[list[str]], typer.Option(
    "--price-per-mtok", metavar="[ROLE=]IN,OUT", rich_help_panel=COST_PANEL,
    help="Price per million input and output tokens, for every role or for one (writer, agent, judge); "
         "repeat it for several.")]
UsageFile = Annotated[Optional[Path], typer.Option(
    "--usage", metavar="FILE", rich_help_panel=COST_PANEL,
    help="Write the run's usage as JSON here: totals and per-record means by role, cost, budget, estimate.")]
Estimate = Annotated[Optional[int], typer.Option(
    "--estimate", min=1, metavar="N", rich_help_panel=COST_PANEL,
    help="Run on the first N records only, then project requests, tokens, time (and cost) for the whole "
         "input, with a 95% interval from the sample's spread.")]
Total = Annotated[Optional[int], typer.Option(
    "--total", min=1, metavar="N", rich_help_panel=COST_PANEL,
    help="The whole input's size for --estimate [default: counted when stdin is a file].")]
