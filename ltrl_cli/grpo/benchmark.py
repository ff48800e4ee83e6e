"""Evaluation during training on one of `ltrl eval`'s benchmarks, graded as `ltrl eval`
grades it (`--eval-benchmark NAME --eval-data PATH`).

The benchmark's own loader turns PATH into items (the owners' prompt, the gold answer and
what grading needs); each becomes an evaluation row whose `benchmark_item` column carries
the gradable part of the item. In evaluation the trainer hands this module the decoded
completions instead of asking the run's judge: each is graded by the benchmark's grader
(a letter, a similarity, or the owners' LLM judge at the run's judge endpoint), and that
grade is the completion's outcome. A grader without a verdict leaves the completion out of
the scores and counts it in `excluded`, as a judge failure in training does.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

from ltrl_cli.errors import UsageError
from ltrl_cli.eval.common import Graders, Item, benchmark_module
from ltrl_cli.grpo.shaping import Scored
from ltrl_cli.reward import rules as R


def benchmark_rows(name: str, path: str) -> list[dict[str, Any]]:
    """The evaluation rows of a benchmark's files (the columns of data.to_row, plus the item)."""
    bench = benchmark_module(name)
    return [{"prompt": item.messages, "label": item.gold, "rubrics": [], "question": item.question,
             "prompt_id": item.id, "benchmark_item": json.dumps(item.to_record())}
            for item in bench.load(Path(path))]


def check_grader(s: Any) -> None:
    """A known benchmark, its files, and for one graded by an LLM the run's judge endpoint
    (exit 2 before anything starts)."""
    from ltrl_cli.eval.common import BENCHMARKS
    from ltrl_cli.llm import env

    if s.eval_benchmark not in BENCHMARKS:
        raise UsageError(f"--eval-benchmark {s.eval_benchmark!r}: expected one of {', '.join(BENCHMARKS)}")
    if not s.eval_data:
        raise UsageError(f"--eval-benchmark {s.eval_benchmark} needs --eval-data (the benchmark's files)")
    bench = benchmark_module(s.eval_benchmark)
    endpoint = (s.judge_base_url or env.judge_default("base_url"), s.judge_model or env.judge_default("model"))
    if bench.NEEDS_JUDGE and not all(endpoint):
        raise UsageError(f"--eval-benchmark {s.eval_benchmark} is graded by an LLM judge: give --judge-base-url "
                         "and --judge-model (or LTRL_JUDGE_BASE_URL and LTRL_JUDGE_MODEL)")


class BenchmarkGrader:
    """Grades one rank's evaluation completions with the benchmark's own grader."""

    def __init__(self, s: Any):
        self.settings = s
        self.bench = benchmark_module(s.eval_benchmark)
        self.graders = Graders(judge_llm=self._judge_llm() if self.bench.NEEDS_JUDGE else None, judging=self._judging())

    def _judging(self):
        from ltrl_cli.reward.builder import JudgeOptions

        s = self.settings
        return JudgeOptions(name="llm", base_url=s.judge_base_url, model=s.judge_model,
                            api_key_env=s.judge_api_key_env, parser=s.judge_parse, no_think=s.judge_no_think)

    def _judge_llm(self):
        from ltrl_cli.llm.factory import LLMOptions
        from ltrl_cli.reward.builder import judge_llm

        # No response cache, as the training judge: sampled completions rarely repeat.
        return judge_llm(self._judging(), LLMOptions(backend="openai", concurrency=self.settings.judge_concurrency,
                                                      no_cache=True))

    def local_scores(self, inputs: Sequence[dict], texts: Sequence[str], truncated: Sequence[bool]) -> list[Scored]:
        """Each completion's grade as its outcome (None: no verdict, excluded)."""
        from ltrl_cli.concurrency import bounded_map

        thinking = self.settings.thinking
        items = [Item.from_record(json.loads(x["benchmark_item"])) for x in inputs]

        async def one(i: int):
            content = R.split_response(texts[i], thinking=thinking).content
            return await self.bench.grade(items[i], content, self.graders)

        grades = list(bounded_map(one, range(len(texts)), concurrency=self.settings.judge_concurrency))
        return [Scored(text, grade.score, trunc, [], grade.error, x.get("prompt_id"))
                for text, grade, trunc, x in zip(texts, grades, truncated, inputs)]
