"""Judging and scoring responses: what `ltrl score` (stages/score.py) and the reward
server's `/evaluate_group` share.

- `ScoreOptions`: how rewards are computed (mode, alpha, where the rubric is searched);
- `check_label`, `check_rubrics`, `check_truncated`: value checks (a BadInput names the
  field; the stage adds the line, the server answers 400);
- `judge_responses`: every response with final content judged, concurrently and bounded;
- `reward_objects`: the per-response reward dicts written to records.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Sequence

from ltrl_cli.errors import BadInput
from ltrl_cli.reward import evaluate as E
from ltrl_cli.reward import rules as R
from ltrl_cli.reward.judge import Judge, Verdict


@dataclass(frozen=True)
class ScoreOptions:
    """How rewards are computed (see ltrl_cli.reward.rules)."""

    mode: str = R.DEFAULT_MODE
    alpha: float = R.DEFAULT_ALPHA
    rubric_on: str = "content"
    thinking: bool = True  # responses come from a reasoning model (`... </think> answer`)
    as_server: bool = False  # each response scored as the reward server's /evaluate (evaluate.py)

    @property
    def uses_rubric(self) -> bool:
        """False in eval mode (alpha 0), where the reward is the outcome alone."""
        return self.alpha > 0 or self.mode == "longrlvr"

    def describe(self, judge: Judge) -> dict[str, Any]:
        """The `score` provenance block written into each record."""
        info = {"mode": self.mode, "alpha": self.alpha, "rubric_on": self.rubric_on, "judge": judge.name}
        if self.as_server:
            info["as_server"] = True
        model = getattr(judge, "model", None)
        if model:
            info["judge_model"] = model
        return info


def check_label(label: Any, name: str) -> str:
    """A gold answer: a string (numbers are taken as their text)."""
    if isinstance(label, bool) or not isinstance(label, (str, int, float)):
        raise BadInput(f"field '{name}' must be a string, got {type(label).__name__}")
    return str(label)


def check_rubrics(rubrics: Any, name: str, *, chunk_ids: bool = False) -> list:
    """Gold entities: a list of strings (or, for longrlvr chunk rewards, of chunk ids)."""
    kinds = (str, int) if chunk_ids else (str,)
    if not isinstance(rubrics, list) or not all(isinstance(r, kinds) and not isinstance(r, bool) for r in rubrics):
        raise BadInput(f"field '{name}' must be a list of " + ("chunk ids" if chunk_ids else "strings"))
    return rubrics


def check_truncated(value: Any, count: int, name: str) -> list[bool]:
    """Truncation flags: none (all False), one boolean for every response, or one per response."""
    if value is None:
        return [False] * count
    if isinstance(value, bool):
        return [value] * count
    if not isinstance(value, list) or len(value) != count or not all(isinstance(v, bool) for v in value):
        raise BadInput(f"field '{name}' must be a boolean, or one per response ({count})")
    return value


async def judge_responses(judge: Judge, question: str | None, label: str, responses: Sequence[str],
                          *, limit: asyncio.Semaphore, thinking: bool = True) -> list[Verdict | None]:
    """Judge every response with content, concurrently; empty content is not judged (None)."""
    parts = [R.split_response(r, thinking=thinking) for r in responses]

    async def one(p: R.ResponseParts) -> Verdict | None:
        if p.empty_content:
            return None
        async with limit:
            return await judge.judge(question, p.content, label)

    return list(await asyncio.gather(*(one(p) for p in parts)))


def reward_objects(judge: Judge, responses: Sequence[str], verdicts: Sequence[Verdict | None],
                   rubrics: Sequence[str], options: ScoreOptions, truncated: Sequence[bool],
                   *, group: bool = True) -> list[dict]:
    """The per-response reward dicts written to records (or answered by the server)."""
    outcomes = [0.0 if v is None else v.outcome for v in verdicts]
    kwargs = dict(mode=options.mode, alpha=options.alpha, rubric_on=options.rubric_on, thinking=options.thinking)
    if group:
        scored = R.score_group(responses, outcomes, rubrics, truncated=truncated, **kwargs)
    else:
        scored = [R.score_response(r, o, rubrics, truncated=t, **kwargs)
                  for r, o, t in zip(responses, outcomes, truncated)]
    return [with_judge(s.to_dict(), judge, v) for s, v in zip(scored, verdicts)]


def with_judge(reward: dict, judge: Judge, verdict: Verdict | None) -> dict:
    if verdict is None:
        reward["judge"] = {"name": judge.name, "correct": None, "skipped": "no final content"}
        return reward
    details = {"name": judge.name, "correct": verdict.correct, "answer": verdict.answer,
               "attempts": verdict.attempts}
    if verdict.raw is not None:
        details["raw"] = verdict.raw
    if verdict.usage:
        details["usage"] = verdict.usage
    reward["judge"] = details
    if verdict.error:
        reward["judge_error"] = verdict.error
    return reward


# ---------------------------------------------------------------- as the reward server does

def server_info(options: ScoreOptions, question: str | None, rubrics: Sequence[Any]) -> dict:
    """The `extra_reward_info` the reward server would get for these options."""
    info = {"rubrics": list(rubrics), "rubric_reward_ratio": options.alpha,
            "rubric_use_content": options.rubric_on in ("content", "both"),
            "rubric_use_reasoning_content": options.rubric_on in ("reasoning", "both"),
            "dataset_name": E.LONGRLVR if options.mode == E.LONGRLVR else "longqa"}
    if question is not None:
        info["question"] = question
    return info


async def score_as_server(judge: Judge, question: str | None, label: str, response: str, rubrics: Sequence[Any],
                          options: ScoreOptions, *, limit: asyncio.Semaphore) -> dict:
    """One response scored as `POST /evaluate` in response mode scores it; a verdict that
    could not be obtained leaves reward and outcome None with `judge_error`."""
    try:
        plan = E.plan(E.from_response(response, label, server_info(options, question, rubrics)))
    except E.BadRequest as exc:
        raise BadInput(str(exc).replace("extra_reward_info.", "")) from None
    if plan.judged is None:
        skipped = "no final content" if plan.eta < 1 else "alpha 1: outcome not used"
        return {**E.answer(plan, 0.0), "judge": {"name": judge.name, "correct": None, "skipped": skipped}}
    async with limit:
        verdict = await judge.judge(plan.question, plan.judged, label)
    if verdict.correct is None:
        return {"reward": None, "outcome_reward": None, "rubric_reward": plan.rubric,
                **with_judge({}, judge, verdict)}
    return {**E.answer(plan, float(verdict.correct)), **with_judge({}, judge, verdict)}

