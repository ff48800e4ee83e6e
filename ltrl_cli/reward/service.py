"""What the reward server computes, without HTTP: `/evaluate` (the authors' server, rule
for rule: evaluate.py) and `/evaluate_group` (ltrl's own: a whole group, shaped as
`ltrl score` shapes it).

A judge that gives no verdict is, by `on_judge_error`:
- "error" (the default): JudgeFailed, answered 502 with the cause (never the endpoint's URL);
- "zero": the authors' behaviour, outcome 0; counted, logged on stderr, reported by /health.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
from concurrent.futures import Executor
from dataclasses import replace
from typing import Any

import orjson

from ltrl_cli import console
from ltrl_cli.errors import BadInput
from ltrl_cli.reward import evaluate as E
from ltrl_cli.reward.evaluate import BadRequest
from ltrl_cli.reward.judge import Judge, RuleJudge, Verdict
from ltrl_cli.reward import rules as R
from ltrl_cli.reward.scoring import ScoreOptions, check_label, check_rubrics, check_truncated, with_judge

ON_JUDGE_ERROR = ("error", "zero")


class JudgeFailed(Exception):
    """No verdict could be obtained (answered with 502)."""


_URL = re.compile(r"\b[a-z][a-z0-9+.-]*://\S+", re.IGNORECASE)
_HOST_PORT = re.compile(r"\[?[\w.:-]*[\w\]]:\d{2,5}\b")


def redact(message: str) -> str:
    """A judge error without the endpoint's address (clients must not learn it).

    >>> redact("endpoint http://10.0.0.7:8000/v1/chat/completions unreachable: Cannot connect to host judge:8000")
    'endpoint <judge endpoint> unreachable: Cannot connect to host <judge endpoint>'
    """
    return _HOST_PORT.sub("<judge endpoint>", _URL.sub("<judge endpoint>", message))


class Spooled:
    """A request body written to a file (large group bodies), read by the worker process."""

    def __init__(self, path: str):
        self.path = path

    def read(self) -> bytes:
        with open(self.path, "rb") as f:
            return f.read()

    def remove(self) -> None:
        with contextlib.suppress(OSError):
            os.unlink(self.path)


def parse_body(raw: bytes | Spooled) -> Any:
    if isinstance(raw, Spooled):
        raw = raw.read()
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"body is not valid JSON ({exc.args[0].split(':')[0]})") from None


class RewardService:
    """What the handlers share: the judge, the defaults for /evaluate_group, a bound on judge
    calls, the CPU workers, and the counts /health reports."""

    def __init__(self, judge: Judge, options: ScoreOptions, concurrency: int = 64, *,
                 on_judge_error: str = "error", workers: Executor | None = None, processes: Executor | None = None):
        if on_judge_error not in ON_JUDGE_ERROR:
            raise ValueError(f"on_judge_error must be one of {', '.join(ON_JUDGE_ERROR)}")
        self.judge = judge
        self.options = options
        self.on_judge_error = on_judge_error
        self.limit = asyncio.Semaphore(concurrency)  # binds to the serving loop on first use
        self.workers = workers  # threads for /evaluate; None: inline (tests)
        self.processes = processes  # processes for /evaluate_group: a 20 MB body's parse holds the GIL ~0.2 s
        self.counts = {"requests": 0, "bad_requests": 0, "judge_failures": 0, "judge_failures_zeroed": 0,
                       "too_large": 0, "timed_out": 0, "disconnected": 0, "internal_errors": 0}

    async def _cpu(self, fn, *args, pool: Executor | None = None):
        """Run CPU-bound work (parsing, rubric search) off the event loop, in a pool."""
        pool = pool or self.workers
        if pool is None:
            return fn(*args)
        return await asyncio.get_running_loop().run_in_executor(pool, fn, *args)

    def _no_verdict(self, verdict: Verdict) -> float:
        """The outcome of a response the judge gave no verdict on: 0, or JudgeFailed."""
        cause = redact(verdict.error or "no verdict")
        if self.on_judge_error == "error":
            raise JudgeFailed(cause)
        self.counts["judge_failures_zeroed"] += 1
        console.warn(f"score: no verdict ({cause}); outcome 0 (--on-judge-error zero)")
        return 0.0

    async def outcome(self, plan: E.Plan, label: str) -> float:
        """The judge's verdict on a planned request (0 for empty text, as their server does)."""
        if plan.judged is None:
            return 0.0
        async with self.limit:
            verdict = await self.judge.judge(plan.question, plan.judged, label)
        if verdict.correct is None:
            return self._no_verdict(verdict)
        return 1.0 if verdict.correct else 0.0

    async def evaluate(self, raw: bytes) -> dict:
        """`/evaluate`: one response, the authors' rules; raises BadRequest or JudgeFailed."""
        request, plan = await self._cpu(_plan, raw)
        if request.zero:
            return dict(E.ZERO)
        return E.answer(plan, await self.outcome(plan, request.label))

    async def evaluate_group(self, raw: bytes | Spooled) -> dict:
        """`/evaluate_group`: a whole group, shaped as `ltrl score` shapes it. The body is read
        and measured (split, rubric recall) in a worker process; only the final contents and
        the numbers come back to be judged and shaped here."""
        rule = self.judge if isinstance(self.judge, RuleJudge) else None  # judged in the worker too
        prepared = await self._cpu(prepare_group, raw, self.options, rule, pool=self.processes or self.workers)
        label, question, options, truncated, measured, verdicts = prepared

        async def verdict(m: R.Measured) -> Verdict | None:
            if m.empty_content:
                return None
            async with self.limit:
                found = await self.judge.judge(question, m.content, label)
            if found.correct is None:
                self._no_verdict(found)  # raises, or counts and logs
                return replace(found, correct=False, error=None)
            return found

        if rule is None:
            verdicts = await asyncio.gather(*(verdict(m) for m in measured))
        outcomes = [0.0 if v is None else v.outcome for v in verdicts]
        rewards = R.shape_group(measured, outcomes, mode=options.mode, alpha=options.alpha, truncated=truncated)
        return {"rewards": [_group_answer(with_judge(r.to_dict(), self.judge, v)) for r, v in zip(rewards, verdicts)]}


def prepare_group(raw: bytes | Spooled, base: ScoreOptions, rule: RuleJudge | None = None) -> tuple:
    """Parse and measure an /evaluate_group body, and with a rule judge decide the verdicts
    (None for no content), so that nothing is left to do per response on the event loop
    (runs in a worker process)."""
    label, responses, rubrics, options, truncated, question = _group(raw, base)
    measured = R.measure_group(responses, rubrics, options.rubric_on, options.thinking)
    decided = [None if m.empty_content else rule.decide(m.content, label) for m in measured] if rule else None
    return label, question, options, truncated, measured, decided


def _plan(raw: bytes) -> tuple[E.Request, E.Plan | None]:
    request = E.parse_request(parse_body(raw))
    return request, None if request.zero else E.plan(request)


# ---------------------------------------------------------------- /evaluate_group bodies (ltrl's own)

def _object(value: Any, what: str) -> dict:
    if not isinstance(value, dict):
        raise BadRequest(f"{what} must be a JSON object")
    return value


def response_from_history(history: Any) -> str:
    """The assistant's text from the last chat message, reasoning rejoined with `</think>`.

    >>> response_from_history([{"role": "user", "content": "q"},
    ...                        {"role": "assistant", "content": "Paris", "reasoning_content": "hmm"}])
    'hmm</think>Paris'
    """
    if not isinstance(history, list) or not history:
        raise BadRequest("each history must be a non-empty list of chat messages")
    last = _object(history[-1], "each message in a history")
    if last.get("role") != "assistant":
        raise BadRequest("the last message in a history must be the assistant's")
    content = last.get("content")
    if not isinstance(content, str):
        raise BadRequest("the assistant message has no text 'content'")
    reasoning = last.get("reasoning_content")
    if isinstance(reasoning, str) and reasoning and "</think>" not in content:
        return f"{reasoning}</think>{content}"
    return content


def _checked(check, *args):
    """Run one of the score stage's value checks; its BadInput becomes a 400."""
    try:
        return check(*args)
    except BadInput as exc:
        raise BadRequest(exc.detail) from None


def _group_options(info: dict, base: ScoreOptions) -> tuple[ScoreOptions, bool]:
    alpha = info.get("rubric_reward_ratio", base.alpha)
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0 <= alpha <= 1:
        raise BadRequest("'extra_reward_info.rubric_reward_ratio' must be a number in [0, 1]")
    on_content = info.get("rubric_use_content", base.rubric_on in ("content", "both"))
    on_reasoning = info.get("rubric_use_reasoning_content", base.rubric_on in ("reasoning", "both"))
    if not isinstance(on_content, bool) or not isinstance(on_reasoning, bool):
        raise BadRequest("'rubric_use_content' and 'rubric_use_reasoning_content' must be booleans")
    rubric_on = "both" if on_content and on_reasoning else ("reasoning" if on_reasoning else "content")
    return replace(base, alpha=float(alpha), rubric_on=rubric_on), on_content or on_reasoning


def _group_responses(body: dict) -> list[str]:
    if "responses" in body:
        value = body["responses"]
        if not isinstance(value, list) or not value or not all(isinstance(r, str) for r in value):
            raise BadRequest("'responses' must be a non-empty list of strings")
        return value
    if "histories" in body:
        value = body["histories"]
        if not isinstance(value, list) or not value:
            raise BadRequest("'histories' must be a non-empty list of chat histories")
        return [response_from_history(h) for h in value]
    raise BadRequest("missing field 'responses' (or 'histories')")


def _group(raw: bytes | Spooled, base: ScoreOptions) -> tuple:
    body = _object(parse_body(raw), "body")
    if "label" not in body:
        raise BadRequest("missing field 'label'")
    label = _checked(check_label, body["label"], "label")
    responses = _group_responses(body)
    info = _object(body.get("extra_reward_info") or {}, "'extra_reward_info'")
    options, searched = _group_options(info, base)
    rubrics = info.get("rubrics")
    if rubrics is None:
        if options.uses_rubric and searched:
            raise BadRequest("missing field 'extra_reward_info.rubrics' (send [] for none, or rubric_reward_ratio 0)")
        rubrics = []
    rubrics = _checked(check_rubrics, rubrics, "extra_reward_info.rubrics") if searched else []
    truncated = _checked(check_truncated, body.get("truncated"), len(responses), "truncated")
    question = info.get("question") if isinstance(info.get("question"), str) else None
    return label, responses, rubrics, options, truncated, question


def _group_answer(scored: dict) -> dict:
    answer = {k: scored[k] for k in ("reward", "outcome_reward", "rubric_reward", "rubric_reward_normalized")}
    answer.update(malformed=scored["malformed"], empty_content=scored["empty_content"],
                  truncated=scored["truncated"], judge_answer=scored["judge"].get("answer"))
    return answer
