"""`ltrl eval`: the paper's five long-context benchmarks, scored the way their owners score them."""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from ltrl_cli.app import ProgressEvery, Quiet, Shard, SkipBad, Verbose, app, command
from ltrl_cli.commands import options as o
from ltrl_cli.commands.options import (
    ApiKeyEnv, Backend, BaseUrl, CachePath, Concurrency, EndpointCheck, JudgeApiKeyEnv, JudgeBaseUrl, JudgeMaxTokens,
    JudgeModel, JudgeNoThink, JudgeParse, JudgePromptFile, MaxConsecutiveFailures, MaxRetries, MaxTokens, Model,
    NoCache, OutageTimeout, Temperature, Timeout,
)

RUN = "Benchmark"
GEN = "Generation"
JUDGE = "Judge"
OUT = "Output"

BenchmarkName = Annotated[Optional[str], typer.Option(
    "--benchmark", "-b", rich_help_panel=RUN, metavar="NAME",
    help="aa-lcr, mrcr, frames, longbench-v2 or longreason (required unless comparing results files).")]
DataPath = Annotated[Optional[Path], typer.Option(
    "--data", rich_help_panel=RUN, metavar="PATH",
    help="The benchmark's official file or downloaded dataset folder (see docs/eval.md). With --score-only: "
         "a previous `ltrl eval` output (default: stdin).")]
Samples = Annotated[int, typer.Option("--samples", "-k", min=1, rich_help_panel=RUN,
                                      help="Samples per question; the score is avg@K.")]
Limit = Annotated[Optional[int], typer.Option("--limit", "-n", min=1, rich_help_panel=RUN,
                                              help="Evaluate only the first N questions (after --shard).")]
SkipMissing = Annotated[bool, typer.Option(
    "--skip-missing", rich_help_panel=RUN,
    help="AA-LCR: leave out questions whose documents are missing (counted on stderr) instead of stopping.")]
ScoreOnly = Annotated[bool, typer.Option(
    "--score-only", rich_help_panel=RUN,
    help="Re-grade the samples of a previous run (stdin or --data) without calling the model.")]

TopP = Annotated[float, typer.Option("--top-p", min=0.0, max=1.0, rich_help_panel=GEN, help="Nucleus sampling.")]
TopK = Annotated[int, typer.Option("--top-k", rich_help_panel=GEN, help="Top-k sampling (0 or -1: not sent).")]
Seed = Annotated[int, typer.Option(
    "--seed", rich_help_panel=GEN, help="Run seed; each sample's seed derives from it, the item id and the index.")]
MaxContext = Annotated[Optional[int], typer.Option(
    "--max-context", min=1, rich_help_panel=GEN, metavar="TOKENS",
    help="Cut longer prompts in the middle to this many tokens (the record says so).")]
TokenizerSpec = Annotated[Optional[str], typer.Option(
    "--tokenizer", rich_help_panel=GEN, metavar="SPEC",
    help="Tokenizer for --max-context: a local Hugging Face tokenizer folder or tokenizer.json, or "
         "tiktoken:<encoding> [default: --model].")]
Thinking = Annotated[bool, typer.Option(
    "--thinking/--no-thinking", rich_help_panel=GEN,
    help="A reasoning model: a response cut by --max-tokens before </think> has no final answer (scores 0). "
         "With --no-thinking its text is graded as it is.")]
DropReasoning = Annotated[bool, typer.Option(
    "--drop-reasoning", rich_help_panel=GEN, help="Leave the <think> text out of the records (smaller output).")]

JudgePrompt = Annotated[str, typer.Option(
    "--judge-prompt", rich_help_panel=JUDGE, metavar="PROMPT",
    help="AA-LCR and FRAMES: official (the benchmark's own judge prompt) or longtracerl (the method's yes/no "
         "judge, as in ltrl score).")]
AllowJudgeErrors = Annotated[bool, typer.Option(
    "--allow-judge-errors", rich_help_panel=JUDGE,
    help="Exit 0 even when some samples got no verdict (they are counted, never scored 0).")]

SummaryFile = Annotated[Optional[Path], typer.Option(
    "--summary", rich_help_panel=OUT, metavar="FILE", help="Write the summary (score, breakdowns) as JSON here.")]
ResultsFile = Annotated[Optional[Path], typer.Option(
    "--results", rich_help_panel=OUT, metavar="PATH",
    help="Write the run's results file (lm-evaluation-harness layout: score with bootstrap standard error, n, "
         "breakdowns, model, endpoint host, sampling, version, git hash, date, command) to this .json file, or "
         "into this folder as results_<benchmark>_<date>.json.")]
Label = Annotated[Optional[str], typer.Option(
    "--label", rich_help_panel=OUT, metavar="NAME",
    help="The run's name in the results file and in --compare tables [default: --model].")]
Compare = Annotated[Optional[str], typer.Option(
    "--compare", rich_help_panel=OUT, metavar="paper|FILE",
    help="paper: put the paper's figures beside the score. A results file or folder, followed by more "
         "(`--compare A.json B.json ...`): compare those runs side by side (no benchmark is run); `paper` among "
         "them adds the paper's before/after rows for --paper-model.")]
CompareFiles = Annotated[Optional[list[Path]], typer.Argument(
    metavar="[FILE]...", show_default=False, help="More results files for --compare.")]
TableFile = Annotated[Optional[Path], typer.Option(
    "--table", rich_help_panel=OUT, metavar="FILE",
    help="With --compare FILE...: also write the table to FILE, as markdown (.md) or JSON (.json).")]
PaperModel = Annotated[str, typer.Option(
    "--paper-model", rich_help_panel=OUT, metavar="MODEL",
    help="Whose paper figures: qwen3-4b-thinking, qwen3-30b-a3b-thinking or deepseek-r1-qwen3-8b.")]


@app.command("eval")
def eval_command(
    files: CompareFiles = None, benchmark: BenchmarkName = None, data: DataPath = None, samples: Samples = 4, limit: Limit = None, shard: Shard = None,
    skip_missing: SkipMissing = False, score_only: ScoreOnly = False,
    backend: Backend = "openai", base_url: BaseUrl = None, model: Model = None, api_key_env: ApiKeyEnv = None,
    concurrency: Concurrency = 16, timeout: Timeout = 3600.0, max_retries: MaxRetries = 6,
    temperature: Temperature = None, max_tokens: MaxTokens = None, top_p: TopP = 0.95, top_k: TopK = 20, seed: Seed = 0,
    max_context: MaxContext = None, tokenizer: TokenizerSpec = None, thinking: Thinking = True,
    drop_reasoning: DropReasoning = False,
    cache: CachePath = None, no_cache: NoCache = False, endpoint_check: EndpointCheck = True,
    max_consecutive_failures: MaxConsecutiveFailures = 20, outage_timeout: OutageTimeout = 60.0,
    judge_prompt: JudgePrompt = "official", judge_base_url: JudgeBaseUrl = None, judge_model: JudgeModel = None,
    judge_api_key_env: JudgeApiKeyEnv = None, judge_max_tokens: JudgeMaxTokens = None,
    judge_parse: JudgeParse = "strict", judge_no_think: JudgeNoThink = "chat-template",
    judge_prompt_file: JudgePromptFile = None, allow_judge_errors: AllowJudgeErrors = False,
    summary: SummaryFile = None, results: ResultsFile = None, label: Label = None, compare: Compare = None,
    table: TableFile = None, paper_model: PaperModel = "qwen3-4b-thinking",
    max_requests: o.MaxRequests = None, max_total_tokens: o.MaxTotalTokens = None, max_cost: o.MaxCost = None,
    price_per_mtok: o.PricePerMtok = None, usage: o.UsageFile = None, estimate: o.Estimate = None,
    total: o.Total = None,
    skip_bad: SkipBad = False, progress_every: ProgressEvery = 30.0, quiet: Quiet = False, verbose: Verbose = False,
) -> None:
    """Run one of the paper's five long-context benchmarks and score it as its owners do.

    Reads: the benchmark's official files (--data); with --score-only, a previous run's
    records (stdin or --data). Writes: one record per question (`id`, `gold`, `samples`
    with response, extracted answer, score and judge verdict, mean `score`); the summary
    (avg@K in percent, per-bucket breakdowns) as a table on stderr and as JSON with
    --summary, and with --results as a results file to compare runs by (`ltrl eval --compare
    base.json trained.json`: the paper's before/after table). Sampling defaults are the paper's: temperature 0.6, top-p 0.95, top-k 20,
    4 samples, 32,768 new tokens. Responses are cached, so a killed run resumes.

    The official files are read strictly: a file of another benchmark is refused by name,
    a question id given twice (in one file or two files of a folder) is refused naming
    both places, a row cut short or an unclosed quote is an error naming the row, and
    .gz files are read wherever a file is. No question to run (an empty file, or
    --skip-missing or --shard leaving none) is exit 1 with the reason.

    \b
    Example:
      ltrl eval -b longbench-v2 --data LongBench-v2/data.json \\
        --base-url http://localhost:8000/v1 --model Qwen/Qwen3-4B-Thinking-2507 \\
        --max-context 131072 --tokenizer ~/models/Qwen3-4B-Thinking-2507 \\
        --summary lb2.json --compare paper > lb2.jsonl
      ltrl eval -b aa-lcr --data AA-LCR/ --judge-base-url http://judge:8000/v1 \\
        --judge-model Qwen/Qwen3-235B-A22B --base-url http://localhost:8000/v1 --model m > aa.jsonl
      ltrl eval -b aa-lcr --score-only --judge-prompt longtracerl \\
        --judge-base-url http://judge:8000/v1 --judge-model j < aa.jsonl > aa-ltr.jsonl
      ltrl eval --compare runs/base/ runs/trained/ --table before-after.md
    """
    from ltrl_cli.commands._usage import accounted, spending
    from ltrl_cli.llm.factory import LLMOptions

    with command("eval", quiet=quiet, verbose=verbose, summary=not _comparing(compare, files),
                 progress_every=progress_every) as run:
        if files and compare is None:
            from ltrl_cli.errors import UsageError

            raise UsageError(f"unexpected argument {str(files[0])!r}: files are compared with --compare FILE FILE...")
        if _comparing(compare, files):
            _compare([Path(compare), *(files or [])], table, paper_model)
            return
        params = dict(locals())
        options = LLMOptions.pick(params)
        spend = spending(params)
        options.meter = spend.usage
        if estimate is not None:  # the first N questions; the whole count is the benchmark's
            params["limit"] = min(estimate, limit or estimate)
        settings = _Settings(**{f.name: params[f.name] for f in fields(_Settings)})
        with accounted(run, spend, input_size=lambda: _question_count(settings)):
            _run(run, settings, options)


@dataclass
class _Settings:
    """The non-model options, gathered so the helpers below take one argument."""

    benchmark: str
    data: Path | None
    samples: int
    limit: int | None
    shard: str | None
    skip_missing: bool
    score_only: bool
    top_p: float
    top_k: int
    seed: int
    max_context: int | None
    tokenizer: str | None
    thinking: bool
    drop_reasoning: bool
    judge_prompt: str
    judge_base_url: str | None
    judge_model: str | None
    judge_api_key_env: str | None
    judge_max_tokens: int | None
    judge_parse: str
    judge_no_think: str
    judge_prompt_file: Path | None
    allow_judge_errors: bool
    summary: Path | None
    results: Path | None
    label: str | None
    compare: str | None
    table: Path | None
    paper_model: str
    skip_bad: bool
    quiet: bool


def _run(run: Any, s: _Settings, options: Any) -> None:
    from ltrl_cli import console
    from ltrl_cli.errors import LtrlError
    from ltrl_cli.eval.common import benchmark_module
    from ltrl_cli.io import records_out, write_records
    from ltrl_cli.stages.evaluate import Selection, nothing_done, remember, summary

    _check(s)
    bench = benchmark_module(s.benchmark)
    paper = _paper(s)  # a bad --paper-model fails before any work
    selection = Selection()
    records = _prepare(run, s, options, bench, selection)
    kept: list[dict[str, Any]] = []
    with records_out() as out:
        shown = console.progress(remember(records, kept), f"eval {bench.NAME}", total=s.limit)
        run.update("questions", write_records(shown, out))
    if not kept:
        raise LtrlError(nothing_done(bench, s.data, selection, skip_missing=s.skip_missing, shard=s.shard,
                                     score_only=s.score_only, skipped=run["skipped"]))
    result = summary(kept, bench, paper, quiet=s.quiet, path=s.summary,
                     usage=run.usage.as_dict() if run.usage else None)
    if s.results is not None:
        _write_results(s, options, result, kept)
    if result["ungraded_samples"] and not s.allow_judge_errors:
        raise LtrlError(f"{result['ungraded_samples']:,} sample(s) got no judge verdict (see `judge.error` in the "
                        f"records); fix the judge and rerun{'' if options.no_cache else ' (cached answers are reused)'}, "
                        "or pass --allow-judge-errors")


def _question_count(s: _Settings) -> int:
    """The questions the whole run would see (for --estimate): --shard and --limit applied."""
    from ltrl_cli.eval.common import benchmark_module
    from ltrl_cli.stages.evaluate import Selection, questions

    selection = Selection()
    bench = benchmark_module(s.benchmark)
    for _ in questions(bench, s.data, skip_missing=s.skip_missing, shard=s.shard, limit=None, selection=selection):
        pass
    return selection.kept


def _check(s: _Settings) -> None:
    from ltrl_cli.errors import UsageError

    if s.judge_prompt not in ("official", "longtracerl"):
        raise UsageError(f"--judge-prompt {s.judge_prompt!r}: choose official or longtracerl")
    if s.benchmark is None:
        raise UsageError("--benchmark is required (or --compare FILE... to compare results files)")
    if s.table is not None:
        raise UsageError("--table writes a comparison: give it with --compare FILE...")
    if not s.score_only and s.data is None:
        raise UsageError("--data is required: the benchmark's file or dataset folder (see docs/eval.md)")


def _paper(s: _Settings) -> dict[str, Any] | None:
    if s.compare != "paper":
        return None
    from ltrl_cli.eval.paper import paper_figures

    return paper_figures(s.paper_model, s.benchmark)


def _prepare(run: Any, s: _Settings, options: Any, bench: Any, selection: Any) -> Any:
    """The stream of graded records: generated and graded, or re-graded (--score-only)."""
    from ltrl_cli.commands.options import check_endpoints
    from ltrl_cli.eval.common import Graders
    from ltrl_cli.eval.runner import Evaluator, Sampling, evaluate, regrade
    from ltrl_cli.stages.evaluate import previous_records, questions

    sampling = _sampling(s, options)
    llm = None if s.score_only else _generator(options)
    graders = Graders(judge_llm=_judge_llm(s, options, llm, bench), judge_prompt=s.judge_prompt,
                      judging=_judging(s))
    check_endpoints(llm, graders.judge_llm, _judging(s))
    evaluator = Evaluator(bench, llm=llm, graders=graders, sampling=sampling, keep_reasoning=not s.drop_reasoning,
                          thinking=s.thinking)
    if s.score_only:
        previous = previous_records(s.data, s.benchmark, skip_bad=s.skip_bad, reader=run, shard=s.shard,
                                    limit=s.limit, selection=selection)
        return regrade(previous, evaluator, concurrency=options.concurrency)
    tokenizer = _tokenizer(s, options)
    if tokenizer is not None and hasattr(llm, "as_role"):  # usage the server does not report: counted with it
        llm.tokenizer = tokenizer.count
    items = questions(bench, s.data, skip_missing=s.skip_missing, shard=s.shard, limit=s.limit, selection=selection)
    model = {**options.describe(), "sampling": sampling.describe()}
    return evaluate(items, evaluator, samples=s.samples, concurrency=options.concurrency, tokenizer=tokenizer,
                    max_context=s.max_context, model=model)


def _sampling(s: _Settings, options: Any) -> Any:
    from ltrl_cli.eval.runner import Sampling

    return Sampling(temperature=0.6 if options.temperature is None else options.temperature, top_p=s.top_p,
                    top_k=s.top_k if s.top_k > 0 else None, max_tokens=options.max_tokens or 32768, seed=s.seed)


def _comparing(compare: str | None, files: list[Path] | None) -> bool:
    """--compare names results files (not `paper`), or more files follow it."""
    return bool(files) or compare not in (None, "paper")


def _compare(paths: list[Path], table: Path | None, paper_model: str) -> None:
    """Print the runs side by side on stderr; write the table as markdown or JSON."""
    import orjson

    from ltrl_cli import console
    from ltrl_cli.errors import UsageError
    from ltrl_cli.eval.results import compare, markdown, rich_table

    if table is not None and table.suffix not in (".md", ".json"):
        raise UsageError(f"--table {table}: name a .md (markdown) or .json file")
    result = compare(paths, paper_model)
    console.console.print(rich_table(result))
    if table is not None:
        table.parent.mkdir(parents=True, exist_ok=True)
        text = markdown(result).encode() if table.suffix == ".md" else orjson.dumps(result, option=orjson.OPT_INDENT_2)
        table.write_bytes(text if text.endswith(b"\n") else text + b"\n")


def _write_results(s: _Settings, options: Any, result: dict[str, Any], kept: list[dict[str, Any]]) -> None:
    """The run's results file (ltrl_cli/eval/results.py), beside --summary's plain summary."""
    import orjson

    from ltrl_cli import console
    from ltrl_cli.eval.results import endpoint_host, results_object, results_path
    from ltrl_cli.llm import env

    resolved = env.model_options(options)  # the endpoint OPENAI_BASE_URL gave, when no flag did
    judging = env.judge_options(_judging(s))
    sampling = _sampling(s, options).describe()
    config = {"label": s.label or options.model, "model": options.model, "backend": options.backend,
              "endpoint": endpoint_host(resolved.base_url) if options.backend == "openai" else None,
              "sampling": {k: v for k, v in sampling.items() if k != "max_tokens"},
              "max_tokens": sampling["max_tokens"], "samples": s.samples, "max_context": s.max_context,
              "thinking": s.thinking, "data": None if s.data is None else str(s.data), "limit": s.limit,
              "shard": s.shard, "score_only": s.score_only,
              "judge": {"prompt": s.judge_prompt, "model": judging.model, "endpoint": endpoint_host(judging.base_url)}}
    scores = [r["score"] for r in kept if r.get("score") is not None]
    results = results_object(result, scores, config)
    path = results_path(s.results, s.benchmark, results["date"])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2) + b"\n")
    console.info(f"eval: results written to {path}")


def _generator(options: Any) -> Any:
    from ltrl_cli.llm.factory import make_llm

    return make_llm(options)


def _judging(s: _Settings) -> Any:
    from ltrl_cli.commands.options import judge_options

    return judge_options(vars(s), name="llm")


def _judge_llm(s: _Settings, options: Any, llm: Any, bench: Any) -> Any:
    """The judge model, by the one rule of reward.builder: its own endpoint when any of the
    --judge-* endpoint options is given, else the generation model."""
    from ltrl_cli.errors import UsageError
    from ltrl_cli.reward.builder import judge_llm

    if not bench.NEEDS_JUDGE:
        return None
    judging = _judging(s)
    if not judging.own_endpoint and llm is None and not options.model:
        raise UsageError(f"{bench.NAME} is graded by an LLM judge: give --judge-base-url and --judge-model "
                         "(without them the generation endpoint judges)")
    return judge_llm(judging, options, llm)


def _tokenizer(s: _Settings, options: Any) -> Any:
    if not s.max_context:
        return None
    from ltrl_cli.backends.tokenize import load_tokenizer
    from ltrl_cli.errors import UsageError

    spec = s.tokenizer or options.model
    if not spec:
        raise UsageError("--max-context needs --tokenizer (a tokenizer folder or tiktoken:o200k_base)")
    return load_tokenizer(spec)
