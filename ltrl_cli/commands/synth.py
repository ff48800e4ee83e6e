"""`ltrl synth`: multi-hop questions from walks, written by a model or by the offline template."""

from __future__ import annotations

import contextlib
import itertools
from pathlib import Path
from typing import IO, Annotated, Iterable, Iterator, Optional

import typer

from ltrl_cli.app import ProgressEvery, Quiet, Shard, SkipBad, Verbose, app, command
from ltrl_cli.commands import options as o


@app.command("synth")
def synth_command(
    index: Annotated[Path, typer.Option("--index", metavar="DIR",
                                        help="Index directory (ltrl index): the pages' text.")],
    rejects: Annotated[Optional[Path], typer.Option(
        "--rejects", metavar="FILE", help="Also write the rejected records here, each with `synth.reason`.")] = None,
    shortcut_check: Annotated[bool, typer.Option(
        "--shortcut-check", help="Reject a question whose own search puts the final page first.")] = False,
    chain_check: Annotated[bool, typer.Option(
        "--chain-check/--no-chain-check",
        help="Reject a question that a search can enter past its first clue (needs_chain).")] = True,
    page_chars: Annotated[int, typer.Option(
        "--page-chars", min=200, metavar="N", help="Cut the final page's text to N characters in the prompt.")] = 8000,
    backend: o.Backend = "template",
    base_url: o.BaseUrl = None,
    model: o.Model = None,
    api_key_env: o.ApiKeyEnv = None,
    concurrency: o.Concurrency = 16,
    timeout: o.Timeout = 120.0,
    max_retries: o.MaxRetries = 6,
    temperature: o.Temperature = None,
    max_tokens: o.MaxTokens = None,
    cache: o.CachePath = None,
    no_cache: o.NoCache = False,
    keep_order: o.KeepOrder = True,
    keep_think: o.KeepThink = False,
    endpoint_check: o.EndpointCheck = True,
    max_consecutive_failures: o.MaxConsecutiveFailures = 20,
    outage_timeout: o.OutageTimeout = 60.0,
    max_requests: o.MaxRequests = None,
    max_total_tokens: o.MaxTotalTokens = None,
    max_cost: o.MaxCost = None,
    price_per_mtok: o.PricePerMtok = None,
    usage: o.UsageFile = None,
    estimate: o.Estimate = None,
    total: o.Total = None,
    shard: Shard = None,
    skip_bad: SkipBad = False,
    progress_every: ProgressEvery = 30.0,
    quiet: Quiet = False,
    verbose: Verbose = False,
) -> None:
    """Turn each walk into a multi-hop question about its last page.

    The model sees the chain (each hop with the sentence that links it) and the final
    page's text, and writes a question that needs the whole chain and whose answer is an
    attribute stated in the final page; the chain's entities become the rubric. Each
    question is checked (answer in the final page, answer not in the question, final
    entity not named, no page of the chain past the first found by searching a sentence of
    the question or the question without its first sentence, and with --shortcut-check not
    found by searching the question);
    rejected walks are counted by reason on stderr, and written to --rejects FILE.
    --backend template writes questions offline from the pages' lead sentences and
    attribute lines, and every record it writes says so. Answers are cached, so a killed
    run resumes where it stopped.

    Reads: walk records (`id`, `path`).  Adds: `question`, `answer`, `gold_entities`,
    `synth` (`backend`, `model`, `accepted`, `checks`, `final_entity`, `attempts`, `cached`).

    \b
    Example:
      ltrl walk --index idx -n 50 | ltrl synth --index idx --backend template > q.jsonl
      ltrl synth --index idx --backend openai --base-url http://localhost:8000/v1 \\
        --model Qwen/Qwen3-4B --concurrency 64 --rejects rejected.jsonl < walks.jsonl > q.jsonl
    """
    from ltrl_cli.backends.index import open_index
    from ltrl_cli import console
    from ltrl_cli.io import parse_shard, records_out, shard_records, stdin_records, stdin_total, write_records
    from ltrl_cli.llm.factory import LLMOptions, make_llm
    from ltrl_cli.records import READS
    from ltrl_cli.stages.synth import synth
    from ltrl_cli.stats import Rejections
    from ltrl_cli.synth.prompt import LLMWriter
    from ltrl_cli.synth.questions import SynthOptions
    from ltrl_cli.synth.template import TemplateWriter

    from ltrl_cli.commands._usage import accounted, spending

    llm_options = LLMOptions.pick(locals())
    with command("synth", quiet=quiet, verbose=verbose, progress_every=progress_every) as run, \
            accounted(run, spend := spending(locals())), \
            records_out() as out:
        llm_options.meter, llm_options.role = spend.usage, "writer"
        shard_spec = parse_shard(shard)
        idx = open_index(index)
        settings = SynthOptions(
            temperature=SynthOptions.temperature if temperature is None else temperature, max_tokens=max_tokens,
            page_chars=page_chars, shortcut_check=shortcut_check, chain_check=chain_check, keep_think=keep_think,
            concurrency=concurrency, keep_order=keep_order)
        made = make_llm(llm_options, offline={"template": TemplateWriter})
        o.check_endpoints(made)
        writer = made if isinstance(made, TemplateWriter) else LLMWriter(made, settings)
        records = spend.sample(shard_records(stdin_records(skip_bad=skip_bad, stats=run, schema=READS["synth"]),
                                             shard_spec))
        with _rejects_file(rejects) as rejected:
            first = next(records, None)
            if first is None:  # nothing to do: do not pay for starting the JVM
                return
            idx.start()  # on the main thread; pages are then looked up from the reader thread
            results = synth(itertools.chain([first], records), pages=idx, writer=writer,
                            searcher=idx if shortcut_check or chain_check else None, options=settings)
            refused = Rejections("walks")
            try:
                shown = console.progress(results, "synth", total=stdin_total(shard_spec),
                                         failed=lambda: sum(refused.reasons.values()))
                write_records(route(shown, rejected, run, refused), out)
            finally:
                idx.close()
            failure = refused.error(run["accepted"], "" if rejects else "--rejects FILE keeps every rejected record")
            if failure is not None:
                raise failure


def route(results: Iterable[dict], rejected: IO[bytes] | None, run, refused=None) -> Iterator[dict]:
    """Pass accepted records on; count rejected ones by reason (in `run`, and in `refused`, a
    Rejections, with an example) and write them to --rejects."""
    from ltrl_cli.io import dumps

    for record in results:
        info = record["synth"]
        if info.get("cached"):
            run.update("cached")
        if info["accepted"]:
            run.update("accepted")
            yield record
            continue
        run.update(f"rejected ({info['reason']})")
        if refused is not None:
            refused.add(info["reason"], rejection_example(record))
        if rejected is not None:
            rejected.write(dumps(record))
            rejected.flush()


def rejection_example(record: dict) -> str:
    """One line on why `record` was rejected: the model's reply, the endpoint's refusal, or the draft."""
    info = record["synth"]
    where = f"walk {record.get('id')!r} ({info['reason']})"
    if "reply" in info:
        return f"{where}: the model replied {info['reply']!r}"
    if "error" in info:
        return f"{where}: {info['error']}"
    if "question" in record:
        return f"{where}: question {record['question']!r}, answer {record.get('answer')!r}"
    return where


@contextlib.contextmanager
def _rejects_file(path: Path | None) -> Iterator[IO[bytes] | None]:
    """--rejects FILE opened for writing, or None without the option."""
    if path is None:
        yield None
        return
    from ltrl_cli.errors import UsageError

    try:
        stream = open(path, "wb")
    except OSError as exc:
        raise UsageError(f"--rejects {path}: {exc.strerror}") from None
    with stream:
        yield stream
