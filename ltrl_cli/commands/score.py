"""`ltrl score`: the method's rewards for existing responses, or as a reward server."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from ltrl_cli.app import ProgressEvery, Quiet, SkipBad, Verbose, app, command
from ltrl_cli.commands import options as o
from ltrl_cli.commands.options import (
    DEFAULT_JUDGE, ApiKeyEnv, Backend, BaseUrl, CachePath, Concurrency, EndpointCheck, JudgeApiKeyEnv, JudgeBaseUrl,
    JudgeModel, JudgeName, JudgeNoThink, JudgeParse, JudgePromptFile, MaxConsecutiveFailures, MaxRetries, MaxTokens,
    Model, NoCache, OutageTimeout, Temperature, Timeout,
)

REWARD = "Reward"
KEYS = "Input keys"
SERVER = "Reward server"

Mode = Annotated[str, typer.Option(
    "--mode", rich_help_panel=REWARD, metavar="MODE",
    help="How outcome and rubric combine: positive-only (the method), pos-neg, neg-only, longrlvr.")]
Alpha = Annotated[float, typer.Option(
    "--alpha", min=0.0, max=1.0, rich_help_panel=REWARD, help="Weight of the rubric reward (the paper: 0.3).")]
EvalMode = Annotated[bool, typer.Option(
    "--eval", rich_help_panel=REWARD,
    help="Evaluation: the outcome alone (alpha 0, positive-only); rubrics become optional.")]
RubricOn = Annotated[str, typer.Option(
    "--rubric-on", rich_help_panel=REWARD, metavar="PART",
    help="Where gold entities are searched: content (after </think>, the paper), reasoning, or both.")]
Thinking = Annotated[bool, typer.Option(
    "--thinking/--no-thinking", rich_help_panel=REWARD,
    help="Responses come from a reasoning model (`...</think> answer`). With --no-thinking a response "
         "without </think> is all content.")]
AsServer = Annotated[bool, typer.Option(
    "--as-server", rich_help_panel=REWARD,
    help="Score each response exactly as the reward server's POST /evaluate does (the authors' rules): split at "
         "the first </think> (none: all content), judge after the last, reward (1-alpha)*outcome + alpha*rubric "
         "(--mode longrlvr: chunk-id F-beta), no group shaping.")]
AllowJudgeErrors = Annotated[bool, typer.Option(
    "--allow-judge-errors", rich_help_panel=REWARD,
    help="Exit 0 even when some verdicts could not be obtained (they stay marked `judge_error`).")]


def _key(flag: str, default: str | None, what: str):
    return Annotated[Optional[str] if default is None else str, typer.Option(flag, metavar="KEY", rich_help_panel=KEYS, help=what)]


LabelKey = _key("--label-key", "label", "Dotted path of the gold answer.")
RubricsKey = _key("--rubrics-key", "rubrics", "Dotted path of the gold entities, e.g. metadata.rubrics.")
QuestionKey = _key("--question-key", "question", "Dotted path of the question (shown to the LLM judge).")
ResponseKey = _key("--response-key", None,
                   "Dotted path of the response(s): a list (a group per line) or a string (one per line). "
                   "Default: `responses`, else `response`.")
GroupKey = _key("--group-key", "id", "With one response per line: consecutive lines sharing this key form a group.")
TruncatedKey = _key("--truncated-key", "truncated", "Dotted path of truncation flags (a boolean per response).")

Serve = Annotated[bool, typer.Option("--serve", rich_help_panel=SERVER,
                                     help="Run the HTTP reward server instead of reading stdin.")]
Port = Annotated[int, typer.Option("--port", min=0, max=65535, rich_help_panel=SERVER,
                                   help="Port to listen on (0: any free port, printed on stderr).")]
Host = Annotated[str, typer.Option("--host", rich_help_panel=SERVER,
                                   help="Address to bind (loopback unless you say otherwise).")]
OnJudgeError = Annotated[str, typer.Option(
    "--on-judge-error", rich_help_panel=SERVER, metavar="WHAT",
    help="When the judge gives no verdict: error (answer 502 with the cause) or zero (outcome 0, as the "
         "authors' server does; counted, logged, and shown by GET /health).")]
MaxBodyMb = Annotated[float, typer.Option(
    "--max-body-mb", min=0.001, rich_help_panel=SERVER, metavar="MB",
    help="Largest request body, in MiB; a larger one is answered 413.")]
HeaderTimeout = Annotated[float, typer.Option(
    "--header-timeout", min=0.1, rich_help_panel=SERVER, metavar="SECONDS",
    help="A connection that sends no whole request head for this long (from its start or its last answer) is "
         "closed.")]
Profile = Annotated[Optional[str], typer.Option(
    "--profile", metavar="NAME", help=(
        "A set of settings in one switch; flags you give win. longtracerl: be the authors' reward server "
        "(--judge llm --judge-no-think thinking-disabled --as-server, and with --serve --on-judge-error zero; "
        "their judge prompt only from --judge-prompt-file). Said on stderr at start; --host/--port stay yours."))]
BodyTimeout = Annotated[float, typer.Option(
    "--body-timeout", min=0.1, rich_help_panel=SERVER, metavar="SECONDS",
    help="A request body not received within this time is answered 408 and its connection closed.")]


@app.command("score")
def score_command(
    ctx: typer.Context, profile: Profile = None, mode: Mode = "positive-only", alpha: Alpha = 0.3, eval_mode: EvalMode = False, rubric_on: RubricOn = "content",
    thinking: Thinking = True, as_server: AsServer = False, judge: JudgeName = DEFAULT_JUDGE,
    judge_base_url: JudgeBaseUrl = None, judge_model: JudgeModel = None, judge_api_key_env: JudgeApiKeyEnv = None,
    judge_parse: JudgeParse = "strict", judge_no_think: JudgeNoThink = "chat-template",
    judge_prompt_file: JudgePromptFile = None, allow_judge_errors: AllowJudgeErrors = False,
    label_key: LabelKey = "label", rubrics_key: RubricsKey = "rubrics", question_key: QuestionKey = "question",
    response_key: ResponseKey = None, group_key: GroupKey = "id", truncated_key: TruncatedKey = "truncated",
    serve: Serve = False, port: Port = 8000, host: Host = "127.0.0.1", on_judge_error: OnJudgeError = "error",
    max_body_mb: MaxBodyMb = 64.0, header_timeout: HeaderTimeout = 30.0, body_timeout: BodyTimeout = 60.0,
    backend: Backend = "openai", base_url: BaseUrl = None, model: Model = None, api_key_env: ApiKeyEnv = None,
    concurrency: Concurrency = 32, timeout: Timeout = 120.0, max_retries: MaxRetries = 6,
    temperature: Temperature = None, max_tokens: MaxTokens = None, cache: CachePath = None, no_cache: NoCache = False,
    endpoint_check: EndpointCheck = True, max_consecutive_failures: MaxConsecutiveFailures = 20,
    outage_timeout: OutageTimeout = 60.0,
    max_requests: o.MaxRequests = None, max_total_tokens: o.MaxTotalTokens = None, max_cost: o.MaxCost = None,
    price_per_mtok: o.PricePerMtok = None, usage: o.UsageFile = None, estimate: o.Estimate = None,
    total: o.Total = None,
    skip_bad: SkipBad = False, progress_every: ProgressEvery = 30.0, quiet: Quiet = False, verbose: Verbose = False,
) -> None:
    """Judge responses and compute the method's rewards (outcome, rubric, group-normalised).

    Reads: a group per line `{"id", "label", "rubrics", "question"?, "responses": [...]}`,
    or one `response` per line (consecutive lines sharing --group-key form a group).
    Adds: `rewards` (one object per response; `reward` on one-response lines) with
    reward, outcome_reward, rubric_reward, rubric_reward_normalized, malformed, truncated,
    judge, and judge_error when no verdict could be obtained; `score` (mode, alpha, judge).
    Exits 1 at the end if any verdict is missing, unless --allow-judge-errors. The summary
    line gives the mean reward, the outcome accuracy and the mean rubric recall.

    \b
    Example:
      ltrl score --judge contains < groups.jsonl > scored.jsonl
      ltrl score --judge llm --base-url http://localhost:8000/v1 --model Qwen/Qwen3-8B \\
        --rubrics-key metadata.rubrics --eval < outputs.jsonl
      ltrl score --serve --port 8080 --judge llm --base-url http://localhost:8000/v1 --model judge
      ltrl score --serve --host 0.0.0.0 --port 8080 --profile longtracerl \\
        --base-url http://judge:8000/v1 --model qwen3-235b-a22b-instruct-2507
    """
    from ltrl_cli.commands.options import check_endpoints, judge_options
    from ltrl_cli.errors import LtrlError, UsageError
    from ltrl_cli.llm.factory import LLMOptions
    from ltrl_cli.reward.builder import build_judge
    from ltrl_cli.stages.score import Keys

    from ltrl_cli.commands._usage import accounted, spending

    with command("score", quiet=quiet, verbose=verbose, summary=not serve, progress_every=progress_every) as run, \
            accounted(run, spend := spending(locals())):
        params = _with_profile(ctx, profile, locals())
        judge, on_judge_error, as_server = params["judge"], params["on_judge_error"], params["as_server"]
        options = _score_options(mode, alpha, eval_mode, rubric_on, thinking, as_server)
        llm_options = LLMOptions.pick(params)
        llm_options.meter = spend.usage
        if serve:  # a server outlives an outage of its judge: it answers 502 meanwhile, and goes on
            llm_options.max_consecutive_failures = 0
        # score's own --base-url/--model, --temperature and --max-tokens are the judge's.
        judging = judge_options(params, temperature=llm_options.temperature, max_tokens=llm_options.max_tokens)
        the_judge = build_judge(judging, llm_options)
        check_endpoints(judge=the_judge, judging=judging)
        if serve:
            from ltrl_cli.reward.server import Limits, serve_forever

            if spend.usage.budget or spend.estimate is not None:
                raise UsageError("--serve takes no budget or --estimate: a server has no end to stop at "
                                 "(bound the trainer instead); --usage FILE still records what it judged")
            if on_judge_error not in ("error", "zero"):
                raise UsageError(f"--on-judge-error {on_judge_error!r}: choose error or zero")
            limits = Limits(max_body=int(max_body_mb * 1024 * 1024), header_timeout=header_timeout,
                            body_timeout=body_timeout)
            code = serve_forever(the_judge, options, host=host, port=port, concurrency=concurrency,
                                 on_judge_error=on_judge_error, limits=limits)
            raise typer.Exit(code)
        keys = Keys(label=label_key, rubrics=rubrics_key, question=question_key, response=response_key or None,
                    group=group_key, truncated=truncated_key)
        errors = _score_stdin(run, the_judge, options, keys, concurrency, skip_bad, spend)
        if errors and not allow_judge_errors:
            raise LtrlError(f"{errors:,} response(s) got no verdict (see `judge_error` in the records); "
                            f"fix the judge endpoint and rerun{'' if no_cache else ' (cached verdicts are reused)'}, or pass "
                            f"--allow-judge-errors")


def _with_profile(ctx: typer.Context, profile: str | None, params: dict) -> dict:
    """The command's parameters with --profile's settings where no flag was given; the
    profile's note goes to stderr before anything starts."""
    from ltrl_cli import console
    from ltrl_cli.reward.profiles import apply_profile

    params = {k: v for k, v in params.items() if k != "ctx"}
    given = {name for name in params if (source := ctx.get_parameter_source(name)) and source.name != "DEFAULT"}
    params, note = apply_profile(profile, params, given, serve=params["serve"])
    if note:
        console.warn(f"ltrl score: {note}")  # shown even with -q: it changes what every reward means
    return params


def _score_options(mode: str, alpha: float, eval_mode: bool, rubric_on: str, thinking: bool, as_server: bool):
    from ltrl_cli.errors import UsageError
    from ltrl_cli.reward.rules import MODES, RUBRIC_ON
    from ltrl_cli.reward.scoring import ScoreOptions

    if mode not in MODES:
        raise UsageError(f"--mode {mode!r}: choose one of {', '.join(MODES)}")
    if rubric_on not in RUBRIC_ON:
        raise UsageError(f"--rubric-on {rubric_on!r}: choose one of {', '.join(RUBRIC_ON)}")
    if eval_mode:
        mode, alpha = "positive-only", 0.0
    return ScoreOptions(mode=mode, alpha=alpha, rubric_on=rubric_on, thinking=thinking, as_server=as_server)


def _schema(keys, options):
    """READS["score"] at the paths the --*-key options name."""
    from ltrl_cli.records import READS

    rename = {"label": keys.label, "rubrics": keys.rubrics, "question": keys.question, "truncated": keys.truncated}
    return READS["score"].adjusted(
        rename=rename, required=("rubrics",) if options.uses_rubric else (),
        # --response-key names one path that holds either; the stage checks which it is
        without=("responses", "response") if keys.response else ())


def _score_stdin(run, judge, options, keys, concurrency: int, skip_bad: bool, spend) -> int:
    """Score stdin to stdout; returns how many responses got no verdict."""
    from ltrl_cli import console
    from ltrl_cli.io import records_out, stdin_records, stdin_total, write_records
    from ltrl_cli.stages.score import Tally, judge_errors, score

    tally = Tally()

    def counted(records):
        for record in records:
            tally.add(record)
            found = judge_errors(record)
            if found:
                run.update("judge errors", found)
            yield record

    with records_out() as out:
        records = spend.sample(stdin_records(skip_bad=skip_bad, stats=run, schema=_schema(keys, options)))
        scored = score(records, judge=judge, options=options, keys=keys, concurrency=concurrency,
                       stats=run, skip_bad=skip_bad)
        shown = console.progress(counted(scored), "score", total=stdin_total(), failed=lambda: run["judge errors"])
        run.update("out", write_records(shown, out))
    for name, text in tally.measures().items():
        run.measure(name, text)
    return run["judge errors"]
