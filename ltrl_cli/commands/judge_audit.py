"""`ltrl judge-audit`: measure the judge before training on its verdicts."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from ltrl_cli.app import Quiet, SkipBad, Verbose, app, command
from ltrl_cli.commands import options as o

AUDIT = "Audit"


@app.command("judge-audit")
def judge_audit_command(
    source: Annotated[Optional[Path], typer.Argument(
        metavar="[FILE]", help="Judged records (ltrl score, search-agent or eval; gzip too); stdin when absent.",
        show_default=False)] = None,
    labels: Annotated[Optional[Path], typer.Option(
        "--labels", metavar="FILE", rich_help_panel=AUDIT,
        help="Hand labels, JSONL {\"id\", \"index\"?, \"correct\": true|false} (index: the response, rollout or "
             "sample; default 0): accuracy, precision, recall and Cohen's kappa with bootstrap intervals.")] = None,
    sample: Annotated[Optional[int], typer.Option(
        "--sample", min=1, metavar="N", rich_help_panel=AUDIT,
        help="Audit a random sample of N judged responses [default: all].")] = None,
    probes: Annotated[int, typer.Option(
        "--probes", min=0, metavar="N", rich_help_panel=AUDIT,
        help="Cases (one per gold answer) to build the five adversarial probes from; 0: none.")] = 30,
    stability: Annotated[int, typer.Option(
        "--stability", min=0, metavar="N", rich_help_panel=AUDIT,
        help="Cases to ask the judge twice afresh (verdict stability); 0: none.")] = 30,
    examples: Annotated[int, typer.Option(
        "--examples", min=0, metavar="N", rich_help_panel=AUDIT,
        help="Examples kept of each kind of disagreement with the rules.")] = 3,
    seed: Annotated[int, typer.Option("--seed", rich_help_panel=AUDIT, help="Seed of the samples and bootstrap.")] = 0,
    output: Annotated[Optional[Path], typer.Option(
        "--output", "-o", metavar="FILE", help="Write the audit JSON here instead of stdout.")] = None,
    judge: o.JudgeName = "llm", judge_base_url: o.JudgeBaseUrl = None, judge_model: o.JudgeModel = None,
    judge_api_key_env: o.JudgeApiKeyEnv = None, judge_max_tokens: o.JudgeMaxTokens = None,
    judge_parse: o.JudgeParse = "strict", judge_no_think: o.JudgeNoThink = "chat-template",
    judge_prompt_file: o.JudgePromptFile = None,
    base_url: o.BaseUrl = None, model: o.Model = None, api_key_env: o.ApiKeyEnv = None,
    concurrency: o.Concurrency = 16, timeout: o.Timeout = 120.0, max_retries: o.MaxRetries = 6,
    cache: o.CachePath = None, no_cache: o.NoCache = False, usage: o.UsageFile = None,
    skip_bad: SkipBad = False, quiet: Quiet = False, verbose: Verbose = False,
) -> None:
    """Measure the judge whose verdicts a build trains on: agreement, accuracy, probes, stability.

    Reads the verdicts already in the records (each response, rollout or sample with its
    gold answer) and reports: how often they agree with exact and contains matching, with
    examples where they disagree; with --labels, accuracy, precision, recall and Cohen's
    kappa of the judge (and of the two rules) against hand labels, with bootstrap 95%
    intervals; and the share of the recorded judge's replies that held no verdict. Then
    it asks the judge under audit (--judge, built as score, search-agent and eval build
    it: --judge llm asks --judge-base-url/--judge-model, else --base-url/--model):
    adversarial probes made from the data (an empty answer, the question as the answer,
    the gold answer inside a refusal, a hedge listing it among other cases' answers, the
    gold answer followed by a wrong final one), each of which is wrong, with the rate
    judged correct; two fresh asks of the same cases (verdict stability); and the
    invalid-reply rate of those asks. Without a judge endpoint for --judge llm the asks
    are skipped and said so.

    Reads: records of ltrl score, search-agent or eval.  Writes: ONE JSON object (stdout or
    -o FILE); a table on stderr.

    \b
    Example:
      ltrl judge-audit --judge contains --probes 20 < traj.jsonl > audit.json
      ltrl judge-audit scored.jsonl --labels hand.jsonl --judge-base-url http://localhost:8000/v1 \\
        --judge-model Qwen/Qwen3-8B -o audit.json
    """
    from ltrl_cli.commands._usage import accounted, spending

    with command("judge-audit", quiet=quiet, verbose=verbose) as run, accounted(run, spend := spending(locals())):
        from ltrl_cli.stages.judge_audit import AuditOptions, audit

        cases, records = _read_cases(source, run, skip_bad)
        cases = _sampled(cases, sample, seed)
        hand = _read_labels(labels) if labels is not None else None
        the_judge = _judge(locals(), spend.usage)
        options = AuditOptions(probes=probes, stability=stability, examples=examples, seed=seed,
                               concurrency=concurrency)
        result = audit(cases, judge=the_judge, labels=hand, records=records, options=options)
        _write(result, output)
        _table(result, quiet)
        run.update("cases", len(cases))


def _read_cases(source: Path | None, run: Any, skip_bad: bool) -> tuple[list, int]:
    from ltrl_cli.errors import BadInput, LtrlError
    from ltrl_cli.io import open_input, read_records, stdin_records
    from ltrl_cli.stages.judge_audit import cases_of

    if source is None:
        records = stdin_records(skip_bad=skip_bad, stats=run)
    else:
        if not source.is_file():
            raise BadInput("not found", source=str(source))
        records = read_records(open_input(source), skip_bad=skip_bad, source=str(source), stats=run)
    cases, count = [], 0
    for record in records:
        count += 1
        try:
            cases.extend(cases_of(record))
        except BadInput as exc:
            run.reject(BadInput(exc.detail, line=run.line or count, source=str(source) if source else None),
                       skip_bad=skip_bad)
    if not any(c.verdict is not None for c in cases):
        raise LtrlError(f"no judged response in {count:,} record(s): every verdict is missing "
                        "(judge errors, or responses without final content)")
    return cases, count


def _sampled(cases: list, sample: int | None, seed: int) -> list:
    import random

    if sample is None or sample >= len(cases):
        return cases
    return random.Random(seed).sample(cases, sample)


def _read_labels(path: Path) -> dict:
    from ltrl_cli.errors import UsageError
    from ltrl_cli.io import open_input, read_records
    from ltrl_cli.stages.judge_audit import read_labels

    if not path.is_file():
        raise UsageError(f"--labels {path}: not found")
    with open_input(path) as handle:
        return read_labels(read_records(handle, source=str(path)))


def _judge(params: dict, usage: Any) -> Any:
    """The judge under audit, by the one builder; None (and a note) for an LLM judge without an endpoint."""
    from dataclasses import replace

    from ltrl_cli import console
    from ltrl_cli.commands.options import judge_options
    from ltrl_cli.llm.factory import LLMOptions
    from ltrl_cli.reward.builder import build_judge

    from ltrl_cli.commands.options import check_endpoints
    from ltrl_cli.llm import env

    judging = env.judge_options(judge_options(params))  # LTRL_JUDGE_* fill what no flag gave
    llm_options = env.model_options(replace(LLMOptions.pick(params), meter=usage, role="judge"))
    if judging.name == "llm" and not (judging.own_endpoint or (llm_options.base_url and llm_options.model)):
        console.warn("judge-audit: no judge endpoint (--judge-base-url and --judge-model, or --base-url and "
                     "--model): probes, stability and the invalid-reply rate are skipped")
        return None
    the_judge = build_judge(judging, llm_options)
    check_endpoints(judge=the_judge, judging=judging)  # before any probe: a wrong URL is one line, exit 2
    return the_judge


def _write(result: dict, output: Path | None) -> None:
    import orjson

    from ltrl_cli.io import records_out, replacing

    data = orjson.dumps(result, option=orjson.OPT_APPEND_NEWLINE)
    if output is None:
        with records_out() as out:
            out.write(data)
        return
    with replacing(output) as target:
        Path(target).write_bytes(data)


def _table(result: dict, quiet: bool) -> None:
    """A few lines on stderr: the figures a person reads first."""
    from ltrl_cli.console import console

    if quiet:
        return
    lines = [f"judge-audit: {result['judged']:,} of {result['cases']:,} responses judged, "
             f"{_pct(result['judged_correct_rate'])} correct ({_names(result['recorded_judges'])})"]
    for rule, row in result["agreement"].items():
        lines.append(f"  agrees with {rule:<9} {_pct(row['rate'])}  (judge yes / {rule} no: {row['judge_yes_rule_no']:,}; "
                     f"judge no / {rule} yes: {row['judge_no_rule_yes']:,})")
    if "labels" in result:
        for name in ("judge", "exact", "contains"):
            row = result["labels"][name]
            figures = ", ".join(f"{m} {_interval(row[m])}" for m in ("accuracy", "precision", "recall", "kappa"))
            lines.append(f"  vs labels {name:<8} ({row['cases']:,}): {figures}")
    if "probes" in result:
        rates = ", ".join(f"{kind} {_pct(row['rate'])}" for kind, row in result["probes"]["kinds"].items())
        lines.append(f"  probes judged correct (ideal 0%): {rates}")
        s = result["stability"]
        lines.append(f"  stability over two asks: {_pct(s['rate'])} of {s['both_verdicts']:,}; "
                     f"invalid replies {_pct(result['invalid_replies']['rate'])}")
    recorded = result["recorded_invalid"]
    if recorded["replies"]:
        lines.append(f"  recorded judge: {_pct(recorded['rate'])} invalid replies of {recorded['replies']:,}")
    console.print("\n".join(lines), markup=False, highlight=False)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _interval(figure: dict) -> str:
    if figure["value"] is None:
        return "-"
    if figure["low"] is None:
        return f"{figure['value']:.2f}"
    return f"{figure['value']:.2f} [{figure['low']:.2f}, {figure['high']:.2f}]"


def _names(counts: dict) -> str:
    return ", ".join(f"{name}: {n:,}" for name, n in counts.items())
