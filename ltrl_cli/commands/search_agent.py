"""`ltrl search-agent`: K search-agent rollouts per question, over an index, judged."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ltrl_cli.app import ProgressEvery, Quiet, Shard, SkipBad, Verbose, app, command
from ltrl_cli.commands.options import (
    DEFAULT_JUDGE, ApiKeyEnv, Backend, BaseUrl, CachePath, Concurrency, EndpointCheck, JudgeApiKeyEnv, JudgeBaseUrl,
    JudgeMaxTokens, JudgeModel, JudgeName, JudgeNoThink, JudgeParse, JudgePromptFile, KeepOrder, KeepThink,
    MaxConsecutiveFailures, MaxRetries, MaxTokens, Model, NoCache, OutageTimeout, Temperature, Timeout, judge_options,
)
from ltrl_cli.commands.options import (Estimate, MaxCost, MaxRequests, MaxTotalTokens, PricePerMtok, Total,
                                       UsageFile)

AGENT = "Agent"  # the --help section of the agent's own options
# Turn and token budgets a rollout gets unless the user sets them: a model's, and the
# offline lexical policy's, which spends more turns (several searches a hop, every candidate
# it cannot rule out opened) and writes its notes as text.
MAX_STEPS, MAX_ROLLOUT_TOKENS = 16, 32768
LEXICAL_MAX_STEPS, LEXICAL_MAX_ROLLOUT_TOKENS = 60, 131072


@app.command("search-agent")
def search_agent_command(
    index: Annotated[Path, typer.Option("--index", metavar="DIR", help="Index built by `ltrl index`.")],
    rollouts: Annotated[int, typer.Option("--rollouts", "-k", min=1, rich_help_panel=AGENT,
                                          help="Independent rollouts per question (K).")] = 5,
    protocol: Annotated[Optional[str], typer.Option(
        "--protocol", metavar="tools|tags", rich_help_panel=AGENT,
        help="How actions travel: tools (OpenAI tool calling) or tags (<search>...</search> text tags, for "
             "models without tool calling). Default: tools for --backend openai, tags otherwise.")] = None,
    judge: JudgeName = DEFAULT_JUDGE, judge_base_url: JudgeBaseUrl = None, judge_model: JudgeModel = None,
    judge_api_key_env: JudgeApiKeyEnv = None, judge_max_tokens: JudgeMaxTokens = None,
    judge_parse: JudgeParse = "strict", judge_no_think: JudgeNoThink = "chat-template",
    judge_prompt_file: JudgePromptFile = None,
    max_steps: Annotated[Optional[int], typer.Option(
        "--max-steps", min=2, rich_help_panel=AGENT,
        help=f"Model turns per rollout. Default: {MAX_STEPS}; {LEXICAL_MAX_STEPS} for --backend lexical, which "
             "searches two or three times a hop and opens every candidate it cannot rule out.")] = None,
    max_context_tokens: Annotated[int, typer.Option(
        "--max-context-tokens", min=256, rich_help_panel=AGENT,
        help="Prompt size (estimated) above which the oldest tool outputs are trimmed.")] = 32768,
    max_rollout_tokens: Annotated[Optional[int], typer.Option(
        "--max-rollout-tokens", min=16, rich_help_panel=AGENT,
        help=f"Generated tokens per rollout, all turns. Default: {MAX_ROLLOUT_TOKENS}; "
             f"{LEXICAL_MAX_ROLLOUT_TOKENS} for --backend lexical (its notes count as tokens).")] = None,
    search_k: Annotated[int, typer.Option("--search-k", min=1, max=50, rich_help_panel=AGENT,
                                          help="Results per search unless the model asks for another k.")] = 5,
    page_words: Annotated[int, typer.Option("--page-words", min=50, rich_help_panel=AGENT,
                                            help="Words per page of an opened document.")] = 2000,
    allow_open_any: Annotated[bool, typer.Option(
        "--allow-open-any", rich_help_panel=AGENT,
        help="Let the agent open ids no search returned (then `opened` may leave `seen`).")] = False,
    seed: Annotated[int, typer.Option("--seed", rich_help_panel=AGENT,
                                      help="Run seed; each rollout's seed derives from it, the id and K.")] = 0,
    allow_failures: Annotated[bool, typer.Option(
        "--allow-failures", help="Exit 0 even if some rollouts failed after retries (they are marked).")] = False,
    backend: Backend = "lexical",
    base_url: BaseUrl = None,
    model: Model = None,
    api_key_env: ApiKeyEnv = None,
    concurrency: Concurrency = 16,
    timeout: Timeout = 120.0,
    max_retries: MaxRetries = 6,
    temperature: Temperature = None,
    max_tokens: MaxTokens = None,
    cache: CachePath = None,
    no_cache: NoCache = False,
    keep_order: KeepOrder = True,
    keep_think: KeepThink = False,
    endpoint_check: EndpointCheck = True,
    max_consecutive_failures: MaxConsecutiveFailures = 20,
    outage_timeout: OutageTimeout = 60.0,
    max_requests: MaxRequests = None,
    max_total_tokens: MaxTotalTokens = None,
    max_cost: MaxCost = None,
    price_per_mtok: PricePerMtok = None,
    usage: UsageFile = None,
    estimate: Estimate = None,
    total: Total = None,
    shard: Shard = None,
    skip_bad: SkipBad = False,
    progress_every: ProgressEvery = 30.0,
    quiet: Quiet = False,
    verbose: Verbose = False,
) -> None:
    """Run K search-agent rollouts per question and judge their answers.

    The agent searches the index, opens pages, cites the ones that support its answer and
    answers; `seen`, `opened` and `cited` of each rollout feed `ltrl tier`. The model is
    any OpenAI-compatible endpoint (--backend openai), vLLM or transformers in-process,
    or `lexical`: an offline search policy, not an LLM, labelled as such in every record.
    Only the question reaches the agent, never the answer or the chain.

    Reads: `id`, `question`, `answer` (ltrl synth).  Adds: `rollouts` (steps, seen, opened,
    cited, answer, correct, judge, tokens, time), `agent` (backend, model, protocol).

    A rollout whose endpoint fails after retries is marked (`stop: error`), reported on
    stderr and counted; the command then exits 1 unless --allow-failures. Responses are
    cached: a rerun after a kill resumes where it stopped.

    \b
    Example:
      ltrl synth --index idx --backend template < walks.jsonl \\
        | ltrl search-agent --index idx --backend lexical -k 5 > traj.jsonl
      ltrl search-agent --index idx --backend openai --base-url http://localhost:8000/v1 \\
        --model Qwen/Qwen3-8B --protocol tools --concurrency 64 < q.jsonl > traj.jsonl
    """
    from ltrl_cli.commands.options import check_endpoints
    from ltrl_cli.commands._usage import accounted, spending
    from ltrl_cli import console
    from ltrl_cli.io import parse_shard, records_out, shard_records, stdin_records, stdin_total, write_records
    from ltrl_cli.records import READS

    with command("search-agent", quiet=quiet, verbose=verbose, progress_every=progress_every) as run, \
            accounted(run, spend := spending(locals())):
        llm_options = _llm_options(locals())
        llm_options.meter = spend.usage
        agent_options = _agent_options(locals(), llm_options.temperature)
        shard_spec = parse_shard(shard)
        judging = judge_options(locals())
        llm, scorer = _backends(llm_options, judging)
        check_endpoints(llm, scorer, judging)
        the_index = _open_index(index)
        try:
            with records_out() as out:
                records = spend.sample(shard_records(
                    stdin_records(skip_bad=skip_bad, stats=run, schema=READS["search-agent"]), shard_spec))
                stage = _run_stage(records, llm, the_index, scorer, agent_options, run)
                shown = console.progress(stage, "search-agent", total=stdin_total(shard_spec),
                                         failed=lambda: run["failed questions"])
                run.update("out", write_records(shown, out))
        finally:
            the_index.close()
        _check_failures(run, allow_failures)


def _llm_options(params: dict):
    from ltrl_cli.llm.factory import LLMOptions

    options = LLMOptions.pick(params)
    options.temperature = 1.0 if options.temperature is None else options.temperature
    return options


def _agent_options(params: dict, temperature: float):
    from ltrl_cli.agent.protocols import PROTOCOLS
    from ltrl_cli.agent.rollout import Budgets, Sampling
    from ltrl_cli.agent.tools import ToolConfig
    from ltrl_cli.errors import UsageError
    from ltrl_cli.stages.search_agent import AgentOptions

    protocol = params["protocol"] or ("tools" if params["backend"] == "openai" else "tags")
    if protocol not in PROTOCOLS:
        raise UsageError(f"--protocol {protocol!r}: choose tools or tags")
    lexical = params["backend"] == "lexical"  # the offline policy walks an 8-hop chain in ~40 turns
    max_steps = params["max_steps"] or (LEXICAL_MAX_STEPS if lexical else MAX_STEPS)
    max_rollout_tokens = params["max_rollout_tokens"] or (LEXICAL_MAX_ROLLOUT_TOKENS if lexical else MAX_ROLLOUT_TOKENS)
    budgets = Budgets(max_steps=max_steps, max_context_tokens=params["max_context_tokens"],
                      max_rollout_tokens=max_rollout_tokens,
                      max_tokens_per_turn=params["max_tokens"] or Budgets.max_tokens_per_turn)
    tools = ToolConfig(search_k=params["search_k"], max_search_k=max(20, params["search_k"]),
                       page_words=params["page_words"], allow_open_any=params["allow_open_any"])
    return AgentOptions(rollouts=params["rollouts"], protocol=protocol, budgets=budgets, tools=tools,
                        sampling=Sampling(temperature=temperature), seed=params["seed"],
                        concurrency=params["concurrency"], keep_order=params["keep_order"],
                        keep_think=params["keep_think"])


def _backends(options, judging):
    """The agent's model (or the lexical policy) and the outcome judge (the agent's model
    judges unless the judge has an endpoint of its own)."""
    from ltrl_cli.agent.lexical import LexicalAgent
    from ltrl_cli.llm.factory import make_llm
    from ltrl_cli.reward.builder import build_judge

    llm = make_llm(options, offline={"lexical": LexicalAgent})
    return llm, build_judge(judging, options, llm=llm)


def _open_index(path: Path):
    from ltrl_cli.backends.index import open_index

    the_index = open_index(path)
    the_index.start()  # on the main thread; searches then run on the agent's worker thread
    return the_index


def _run_stage(records, llm, index, scorer, options, stats):
    """The stage, with a warning on stderr for each question whose rollouts failed."""
    from ltrl_cli import console
    from ltrl_cli.stages.search_agent import search_agent

    for record in search_agent(records, llm=llm, index=index, judge=scorer, options=options, stats=stats):
        failed = [r for r in record["rollouts"] if r["stop"] == "error"]
        if failed:
            console.warn(f"search-agent: question {record['id']}: {len(failed)} of {len(record['rollouts'])} "
                         f"rollouts failed: {failed[0].get('error')}")
        yield record


def _check_failures(run, allow_failures: bool) -> None:
    from ltrl_cli.errors import BackendError

    if run["failed rollouts"] and not allow_failures:
        raise BackendError(
            f"{run['failed rollouts']} rollouts of {run['failed questions']} questions failed after retries "
            "(marked `stop: error` in their records); rerun to resume from the cache, or pass --allow-failures")
