"""`ltrl score --serve`: the method's reward as an HTTP service, a drop-in remote reward
model for the paper's trainer (slime) and any trainer that can POST JSON.

    POST /evaluate        one response  -> {"reward", "outcome_reward", "rubric_reward", ...}
    POST /evaluate_group  one group     -> {"rewards": [...]}, group-normalised rubric
    GET  /health          -> {"status": "ok", ...}

`/evaluate` takes the body the trainer sends:

    {"label": "Paris",
     "extra_reward_info": {"question": "...", "rubrics": ["France", ...],
                           "rubric_reward_ratio": 0.3, "rubric_use_content": true,
                           "rubric_use_reasoning_content": false},
     "history": [..., {"role": "assistant", "content": "...</think>Paris"}]}   # or "response": "..."

and answers per response, with the raw rubric reward (the trainer does the group
shaping). `/evaluate_group` takes `responses` (or `histories`) instead and applies the
group normalisation itself. A body that cannot be used gets 400 with a message; a judge
that gives no verdict gets 502 with the reason, never a made-up reward.
"""

from __future__ import annotations

import asyncio
import signal
from dataclasses import replace
from typing import Any

import orjson

from ltrl_cli import console
from ltrl_cli.errors import BadInput
from ltrl_cli.reward.judge import Judge
from ltrl_cli.reward.scoring import (ScoreOptions, check_label, check_rubrics, check_truncated, judge_responses,
                                     reward_objects)

MAX_BODY = 256 * 1024 * 1024  # a history can hold a 128K-token prompt; aiohttp's default is 1 MiB


class BadRequest(Exception):
    """A request body the server cannot use (answered with 400)."""


# ---------------------------------------------------------------- request bodies

def _object(value: Any, what: str) -> dict:
    if not isinstance(value, dict):
        raise BadRequest(f"{what} must be a JSON object")
    return value


def parse_body(raw: bytes) -> dict:
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"body is not valid JSON ({exc.args[0].split(':')[0]})") from None
    return _object(body, "body")


def response_from_history(history: Any) -> str:
    """The assistant's text from the last chat message, reasoning rejoined with `</think>`.

    Endpoints that split reasoning out (`reasoning_content`) hand it back separately; the
    reward rules read one text, so the two are joined the way the model wrote them.

    >>> response_from_history([{"role": "user", "content": "q"},
    ...                        {"role": "assistant", "content": "Paris", "reasoning_content": "hmm"}])
    'hmm</think>Paris'
    """
    if not isinstance(history, list) or not history:
        raise BadRequest("'history' must be a non-empty list of chat messages")
    last = _object(history[-1], "each message in 'history'")
    if last.get("role") != "assistant":
        raise BadRequest("the last message in 'history' must be the assistant's")
    content = last.get("content")
    if isinstance(content, list):  # OpenAI content parts
        content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
    if not isinstance(content, str):
        raise BadRequest("the assistant message has no text 'content'")
    reasoning = last.get("reasoning_content") or last.get("reasoning")
    if isinstance(reasoning, str) and reasoning and "</think>" not in content:
        return f"{reasoning}</think>{content}"
    return content


def _label(body: dict) -> str:
    label = body.get("label")
    if label is None:
        raise BadRequest("missing field 'label'")
    return _checked(check_label, label, "label")


def request_options(info: dict, base: ScoreOptions) -> tuple[ScoreOptions, bool]:
    """The server's options overridden by the request's extra_reward_info.

    Returns the options and whether any part of the response is searched for rubrics.
    """
    alpha = info.get("rubric_reward_ratio", base.alpha)
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0 <= alpha <= 1:
        raise BadRequest("'extra_reward_info.rubric_reward_ratio' must be a number in [0, 1]")
    on_content = info.get("rubric_use_content", base.rubric_on in ("content", "both"))
    on_reasoning = info.get("rubric_use_reasoning_content", base.rubric_on in ("reasoning", "both"))
    if not isinstance(on_content, bool) or not isinstance(on_reasoning, bool):
        raise BadRequest("'rubric_use_content' and 'rubric_use_reasoning_content' must be booleans")
    rubric_on = "both" if on_content and on_reasoning else ("reasoning" if on_reasoning else "content")
    return replace(base, alpha=float(alpha), rubric_on=rubric_on), on_content or on_reasoning


def _rubrics(info: dict, options: ScoreOptions, searched: bool) -> list[str]:
    rubrics = info.get("rubrics")
    if rubrics is None:
        if options.uses_rubric and searched:
            raise BadRequest("missing field 'extra_reward_info.rubrics' (send [] for none, or rubric_reward_ratio 0)")
        return []
    rubrics = _checked(check_rubrics, rubrics, "extra_reward_info.rubrics")
    # Neither part searched: the rubric cannot be found anywhere, so it scores 0.
    return rubrics if searched else []


def _responses(body: dict, group: bool) -> list[str]:
    if group:
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
    if "response" in body:
        if not isinstance(body["response"], str):
            raise BadRequest("'response' must be a string")
        return [body["response"]]
    if "history" in body:
        return [response_from_history(body["history"])]
    raise BadRequest("missing field 'history' (or 'response')")


def _truncated(body: dict, count: int) -> list[bool]:
    return _checked(check_truncated, body.get("truncated"), count, "truncated")


def _checked(check, *args):
    """Run one of the stage's value checks; its BadInput becomes this server's 400."""
    try:
        return check(*args)
    except BadInput as exc:
        raise BadRequest(exc.detail) from None


# ---------------------------------------------------------------- the service

class RewardService:
    """What the handlers share: the judge, the default options, a bound on judge calls."""

    def __init__(self, judge: Judge, options: ScoreOptions, concurrency: int = 64):
        self.judge = judge
        self.options = options
        self.limit = asyncio.Semaphore(concurrency)  # binds to the serving loop on first use
        self.counts = {"requests": 0, "bad_requests": 0, "judge_failures": 0}

    async def evaluate(self, body: dict, *, group: bool) -> dict:
        """Score a parsed body; raises BadRequest or JudgeFailed."""
        label = _label(body)
        responses = _responses(body, group)
        info = _object(body.get("extra_reward_info") or {}, "'extra_reward_info'")
        options, searched = request_options(info, self.options)
        rubrics = _rubrics(info, options, searched)
        truncated = _truncated(body, len(responses))
        question = info.get("question") if isinstance(info.get("question"), str) else None
        verdicts = await judge_responses(self.judge, question, label, responses, thinking=options.thinking,
                                            limit=self.limit)
        failed = [v.error for v in verdicts if v is not None and v.error]
        if failed:
            raise JudgeFailed(failed[0])
        scored = reward_objects(self.judge, responses, verdicts, rubrics, options, truncated, group=group)
        if group:
            return {"rewards": [_answer(s, group=True) for s in scored]}
        return _answer(scored[0], group=False)


class JudgeFailed(Exception):
    """No verdict could be obtained (answered with 502)."""


def _answer(scored: dict, *, group: bool) -> dict:
    keys = ["reward", "outcome_reward", "rubric_reward"]
    if group:
        keys.append("rubric_reward_normalized")
    answer = {k: scored[k] for k in keys}
    answer.update(malformed=scored["malformed"], empty_content=scored["empty_content"],
                  truncated=scored["truncated"], judge_answer=scored["judge"].get("answer"))
    return answer


def make_app(service: RewardService) -> Any:
    """The aiohttp application for a RewardService."""
    from aiohttp import web

    def reply(data: dict, status: int = 200) -> web.Response:
        return web.Response(body=orjson.dumps(data), status=status, content_type="application/json")

    async def evaluate(request: web.Request, group: bool) -> web.Response:
        service.counts["requests"] += 1
        try:
            body = parse_body(await request.read())
            return reply(await service.evaluate(body, group=group))
        except BadRequest as exc:
            service.counts["bad_requests"] += 1
            return reply({"error": str(exc)}, 400)
        except JudgeFailed as exc:
            service.counts["judge_failures"] += 1
            return reply({"error": f"no verdict: {exc}"}, 502)

    async def one(request: web.Request) -> web.Response:
        return await evaluate(request, group=False)

    async def many(request: web.Request) -> web.Response:
        return await evaluate(request, group=True)

    async def health(request: web.Request) -> web.Response:
        o = service.options
        return reply({"status": "ok", "judge": service.judge.name, "judge_model": getattr(service.judge, "model", None),
                      "mode": o.mode, "alpha": o.alpha, "rubric_on": o.rubric_on, **service.counts})

    app = web.Application(client_max_size=MAX_BODY)
    app.router.add_post("/evaluate", one)
    app.router.add_post("/evaluate_group", many)
    app.router.add_get("/health", health)
    return app


async def start(service: RewardService, host: str = "127.0.0.1", port: int = 0) -> tuple[Any, int]:
    """Start serving on the running loop; returns (runner, the bound port). Stop with runner.cleanup()."""
    from aiohttp import web

    runner = web.AppRunner(make_app(service), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port, backlog=1024)
    await site.start()
    bound = runner.addresses[0][1]  # the real port when 0 was asked for
    return runner, bound


def serve_forever(judge: Judge, options: ScoreOptions, *, host: str = "127.0.0.1", port: int = 8000,
                  concurrency: int = 64) -> dict:
    """Serve until SIGINT or SIGTERM; returns the request counts."""
    from ltrl_cli.llm.runner import run_sync

    service = RewardService(judge, options, concurrency)

    async def main() -> None:
        try:
            runner, bound = await start(service, host, port)
        except OSError as exc:
            from ltrl_cli.errors import LtrlError

            raise LtrlError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        # Tests and scripts that pass --port 0 read the port from this line.
        console.warn(f"ltrl score: serving rewards on http://{host}:{bound} (judge {judge.name}, mode "
                     f"{options.mode}, alpha {options.alpha}); Ctrl-C to stop")
        try:
            await stop.wait()
        finally:
            await runner.cleanup()

    run_sync(main())
    counts = service.counts
    console.info(f"score: served {counts['requests']:,} requests, {counts['bad_requests']:,} bad, "
                 f"{counts['judge_failures']:,} without a verdict")
    return counts
