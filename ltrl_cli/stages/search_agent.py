"""`ltrl search-agent`: K independent rollouts of a search agent per question, judged.

Reads question records (`id`, `question`, `answer`, ... from `ltrl synth`) and adds

    rollouts: [{"index", "seed", "steps": [{"turn", "action", "arguments", "result_ids", "error"?}],
                "seen", "opened", "cited", "answer", "stop", "turns", "tokens", "time_s",
                "correct", "judge", "error"?}, ...]
    agent:    {"backend", "model", "protocol", "rollouts", "judge", "temperature", "budgets", "tools",
               "correct_rollouts", "failed_rollouts"}

Only the question reaches the agent: the answer is used by the judge alone and the gold
chain (`path`, `gold_entities`) not at all. Questions run concurrently (a window of them)
and every model call shares one bound (`concurrency`), so the K rollouts of a question
and the rollouts of different questions keep the endpoint busy together. Each rollout has
its own seed, and its requests carry (record id, rollout index, turn) as the cache key:
K rollouts are independent, and a rerun after a kill is answered from the cache.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import asdict, dataclass, field
from typing import Any, Iterable, Iterator

from ltrl_cli.agent.protocols import make_protocol
from ltrl_cli.agent.rollout import Budgets, Sampling, run_rollout
from ltrl_cli.agent.tools import AgentTools, IndexService, ToolConfig
from ltrl_cli.backends.base import PageIndex
from ltrl_cli.concurrency import bounded_map
from ltrl_cli.io import derived_seed
from ltrl_cli.llm.base import LLM
from ltrl_cli.llm.usage import record_scope
from ltrl_cli.reward.judge import Judge
from ltrl_cli.stats import Stats

REQUIRED = ("id", "question", "answer")


@dataclass(frozen=True)
class AgentOptions:
    rollouts: int = 5  # K
    protocol: str = "tags"  # tags | tools
    budgets: Budgets = field(default_factory=Budgets)
    tools: ToolConfig = field(default_factory=ToolConfig)
    sampling: Sampling = field(default_factory=Sampling)
    seed: int = 0
    concurrency: int = 16  # model calls in flight
    keep_order: bool = True
    keep_think: bool = False  # keep each turn's reasoning on its first step


def count(stats: Stats, record: dict) -> None:
    """Count a finished question: `solved`, `correct rollouts`, `rollouts`, and, when there
    are any, `judge errors`, `failed rollouts` and `failed questions`."""
    agent, rollouts = record["agent"], record["rollouts"]
    stats.update("solved", agent["correct_rollouts"] > 0)
    stats.update("correct rollouts", agent["correct_rollouts"])
    stats.update("rollouts", len(rollouts))
    judge_errors = sum(1 for r in rollouts if (r.get("judge") or {}).get("error"))
    if judge_errors:
        stats.update("judge errors", judge_errors)
    if agent["failed_rollouts"]:
        stats.update("failed rollouts", agent["failed_rollouts"])
        stats.update("failed questions")


def search_agent(records: Iterable[dict], *, llm: LLM, index: PageIndex, judge: Judge, options: AgentOptions = AgentOptions(),
                 stats: Stats | None = None) -> Iterator[dict]:
    """Add `rollouts` and `agent` to each question record.

    Args:
        records: question records with `id`, `question` and `answer` (checked against
            READS["search-agent"] by the command's reader).
        llm: the agent's model (or the offline policy): `async chat(ChatRequest)`.
        index: a PageStore + Searcher (`open_index(DIR)`, or a MemoryIndex in tests).
        judge: an outcome judge from `ltrl_cli.reward.judge.make_judge`.
        options: K, protocol, budgets, tool settings, sampling, seed, concurrency.
        stats: filled as records are yielded.
    """
    service = IndexService(index)
    runner = _Runner(llm, service, judge, options)
    window = max(1, 2 * math.ceil(options.concurrency / max(1, options.rollouts)))
    try:
        for record in bounded_map(runner.solve, records, concurrency=window,
                                  keep_order=options.keep_order):
            if stats is not None:
                count(stats, record)
            yield record
    finally:
        service.close()


class _Runner:
    """The per-run state the async solve() needs: backends, options, the call bound."""

    def __init__(self, llm: LLM, service: IndexService, judge: Judge, options: AgentOptions):
        self.llm, self.service, self.judge, self.options = llm, service, judge, options
        self.protocol = make_protocol(options.protocol)
        self.semaphore: asyncio.Semaphore | None = None
        self.describe = {"backend": getattr(llm, "name", "?"), "model": getattr(llm, "model", "?")}

    async def solve(self, record: dict) -> dict:
        if self.semaphore is None:  # made on the loop that runs the calls
            self.semaphore = asyncio.Semaphore(self.options.concurrency)
        question, label = record["question"], str(record["answer"])
        with record_scope() as used:
            rollouts = await asyncio.gather(*(self._rollout(record["id"], question, label, i)
                                              for i in range(self.options.rollouts)))
        agent = self._agent(rollouts)
        if used.roles:
            agent["usage"] = used.as_dict()
        return {**record, "rollouts": list(rollouts), "agent": agent}

    async def _rollout(self, record_id: str, question: str, label: str, index: int) -> dict:
        seed = derived_seed(self.options.seed, record_id, index)
        tools = AgentTools(self.service, self.options.tools)
        with record_scope() as used:  # inside the question's: counts into both
            # The policy gets the question and nothing else of the record.
            result = await run_rollout(self.llm, self.protocol, tools, question, budgets=self.options.budgets,
                                       sampling=self.options.sampling, seed=seed,
                                       cache_key=[str(record_id), index], semaphore=self.semaphore,
                                       keep_think=self.options.keep_think)
            result = {"index": index, **result}
            await self._judge(result, question, label)
        if used.roles:
            result["usage"] = used.as_dict()
        return result

    async def _judge(self, rollout: dict, question: str, label: str) -> None:
        if rollout["stop"] == "error":
            rollout["correct"], rollout["judge"] = None, {"name": self.judge.name, "skipped": "rollout failed"}
            return
        if rollout["answer"] is None:
            rollout["correct"], rollout["judge"] = False, {"name": self.judge.name, "skipped": "no answer"}
            return
        async with self.semaphore:  # an LLM judge shares the bound on model calls
            verdict = await self.judge.judge(question, rollout["answer"], label)
        details = {k: v for k, v in asdict(verdict).items() if v is not None and k != "correct"}
        rollout["correct"], rollout["judge"] = verdict.correct, {"name": self.judge.name, **details}

    def _agent(self, rollouts: Iterable[dict]) -> dict[str, Any]:
        rollouts = list(rollouts)
        o = self.options
        return {
            **self.describe, "protocol": self.protocol.name, "rollouts": o.rollouts, "judge": self.judge.name,
            "temperature": o.sampling.temperature, "budgets": asdict(o.budgets), "tools": asdict(o.tools),
            "correct_rollouts": sum(1 for r in rollouts if r["correct"] is True),
            "failed_rollouts": sum(1 for r in rollouts if r["stop"] == "error"),
        }
