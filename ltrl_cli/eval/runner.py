"""Run a benchmark: sample K responses per item through the LLM layer, grade each the
way the benchmark's owners do, and summarise as avg@K with per-bucket breakdowns.

One unit of work is one (item, sample index): its request carries a seed derived from
(seed, item id, sample index) and the cache key (item id, sample index), so a killed run
resumes from the response cache and a rerun reproduces the same samples. Work runs
through `bounded_map` in input order, so the K samples of an item come back together and
the item's record is written as soon as its last sample is graded.

Output record per item (stdout, JSONL):
    {"id", "benchmark", "question", "gold", "grading", "buckets", "prompt": {tokens,
     truncated, tokenizer...}, "model", "samples": [{"index", "seed", "response",
     "content", "extracted", "score", "judge", "metrics", "finish_reason", "truncated",
     "completion_tokens", "cached"}], "score" (mean over graded samples), "metrics",
     "graded" (samples with a score)}
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Iterable, Iterator

from ltrl_cli.eval.common import Grade, Graders, Item
from ltrl_cli.io import derived_seed
from ltrl_cli.llm.base import LLM
from ltrl_cli.llm.usage import RecordUsage, observe_parts, record_scope


@dataclass(frozen=True)
class Sampling:
    """The paper's evaluation sampling (METHOD.md "Evaluation")."""

    temperature: float = 0.6
    top_p: float = 0.95
    top_k: int | None = 20  # None: not sent (endpoints without top-k)
    max_tokens: int = 32768
    seed: int = 0

    def describe(self) -> dict[str, Any]:
        return {"temperature": self.temperature, "top_p": self.top_p, "top_k": self.top_k,
                "max_tokens": self.max_tokens, "seed": self.seed}


@dataclass
class Job:
    item: Item
    index: int
    messages: list[dict[str, Any]]
    prompt_info: dict[str, Any]


def jobs(items: Iterable[Item], samples: int, *, tokenizer: Any = None, max_context: int | None = None
         ) -> Iterator[Job]:
    """K jobs per item, the prompt fitted into `max_context` tokens once per item."""
    from ltrl_cli.eval.truncate import fit_messages

    for item in items:
        messages, info = item.messages, {"truncated": False}
        if tokenizer is not None and max_context:
            messages, info = fit_messages(item.messages, tokenizer, max_context)
        for index in range(samples):
            yield Job(item, index, messages, info)


class Evaluator:
    """Generates and grades samples for one benchmark module."""

    def __init__(self, bench: Any, *, llm: LLM | None, graders: Graders, sampling: Sampling = Sampling(),
                 keep_reasoning: bool = True, thinking: bool = True):
        self.bench = bench
        self.llm = llm
        self.graders = graders
        self.sampling = sampling
        self.keep_reasoning = keep_reasoning
        self.thinking = thinking

    async def run_job(self, job: Job) -> dict[str, Any]:
        """Generate one sample and grade it."""
        from ltrl_cli.llm.base import ChatRequest

        seed = derived_seed(self.sampling.seed, job.item.id, job.index)
        request = ChatRequest(messages=job.messages, temperature=self.sampling.temperature, top_p=self.sampling.top_p,
                              top_k=self.sampling.top_k, max_tokens=self.sampling.max_tokens, seed=seed,
                              cache_key=(self.bench.NAME, job.item.id, job.index))
        response = await self.llm.chat(request)
        content = response.content
        if self.thinking and response.reasoning is None and response.truncated:
            # A reasoning model cut off before `</think>`: all it wrote is reasoning, and a
            # response with no final content scores 0 (METHOD.md), not its half-thoughts.
            content = ""
        sample = {"index": job.index, "seed": seed,
                  "response": _full_text(response.reasoning if self.keep_reasoning else None, response.content),
                  "content": content, "finish_reason": response.finish_reason,
                  "truncated": response.truncated, "completion_tokens": response.completion_tokens,
                  "prompt_tokens": response.prompt_tokens, "cached": response.cached}
        return await self.grade_sample(job.item, sample)

    async def grade_sample(self, item: Item, sample: dict[str, Any]) -> dict[str, Any]:
        """Grade a sample's final content (`content`, else the text after `</think>`)."""
        content = sample.get("content")
        if content is None:
            from ltrl_cli.reward.rules import split_response

            content = split_response(str(sample.get("response") or ""), thinking=False).content
            sample["content"] = content
        grade: Grade = await self.bench.grade(item, content, self.graders)
        sample.update(score=grade.score, extracted=grade.extracted, judge=grade.judge, metrics=grade.metrics,
                      **({"grade_error": grade.error} if grade.error else {}), **grade.detail)
        return sample


def _full_text(reasoning: str | None, content: str) -> str:
    """The response as the model wrote it: `<think>reasoning</think>content`."""
    return f"<think>{reasoning}</think>{content}" if reasoning else content


def item_record(item: Item, samples: list[dict[str, Any]], *, benchmark: str, prompt_info: dict[str, Any],
                model: dict[str, Any] | None) -> dict[str, Any]:
    """One output record: the item, its K graded samples, the mean score."""
    record = {**item.to_record(), "benchmark": benchmark, "prompt": prompt_info}
    if model is not None:
        record["model"] = model
    record["samples"] = samples
    return {**record, **item_score(samples)}


def item_score(samples: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean score (and secondary metrics) over the graded samples; None when none was graded.

    >>> item_score([{"score": 1.0, "metrics": {}}, {"score": 0.0, "metrics": {}}, {"score": None}])["score"]
    0.5
    """
    graded = [s for s in samples if s.get("score") is not None]
    metrics: dict[str, list[float]] = defaultdict(list)
    for sample in graded:
        for key, value in (sample.get("metrics") or {}).items():
            metrics[key].append(value)
    return {"score": sum(s["score"] for s in graded) / len(graded) if graded else None,
            "metrics": {k: sum(v) / len(v) for k, v in metrics.items()}, "graded": len(graded)}


def evaluate(items: Iterable[Item], evaluator: Evaluator, *, samples: int, concurrency: int, tokenizer: Any = None,
             max_context: int | None = None, model: dict[str, Any] | None = None) -> Iterator[dict[str, Any]]:
    """Yield one graded record per item, in input order, as soon as its K samples are done."""
    from ltrl_cli.concurrency import bounded_map

    work = jobs(items, samples, tokenizer=tokenizer, max_context=max_context)
    done: list[dict[str, Any]] = []
    parts: list[RecordUsage] = []

    async def run(job: Job) -> tuple[Job, dict[str, Any], RecordUsage]:
        with record_scope(observe=False) as used:  # the question's K samples are one record
            sample = await evaluator.run_job(job)
        if used.roles:
            sample["usage"] = used.as_dict()
        return job, sample, used

    for job, sample, used in bounded_map(run, work, concurrency=concurrency, keep_order=True):
        done.append(sample)
        parts.append(used)
        if len(done) == samples:
            record = item_record(job.item, done, benchmark=evaluator.bench.NAME, prompt_info=job.prompt_info,
                                 model=model)
            usage = observe_parts(parts)
            yield {**record, "usage": usage} if usage else record
            done, parts = [], []


def _gradable(record: dict[str, Any], number: int) -> tuple[Item, list[dict[str, Any]]]:
    """The item and samples of a previous output record (checked against READS["eval"] by
    the reader: every sample has a text to grade)."""
    return Item.from_record(record), record["samples"]


def regrade(records: Iterable[dict[str, Any]], evaluator: Evaluator, *, concurrency: int
            ) -> Iterator[dict[str, Any]]:
    """Grade the samples of previous output records again, without calling the model."""
    from ltrl_cli.concurrency import bounded_map

    def pairs() -> Iterator[tuple[dict, Item, dict, int]]:
        for number, record in enumerate(records, start=1):
            item, samples = _gradable(record, number)
            for position, sample in enumerate(samples):
                yield record, item, dict(sample), len(samples) - position - 1

    async def run(pair: tuple[dict, Item, dict, int]) -> tuple[dict, dict, int]:
        record, item, sample, left = pair
        return record, await evaluator.grade_sample(item, sample), left

    done: list[dict[str, Any]] = []
    for record, sample, left in bounded_map(run, pairs(), concurrency=concurrency, keep_order=True):
        done.append(sample)
        if left == 0:
            yield {**record, "samples": done, **item_score(done)}
            done = []
