"""What a run spends on models: one `Usage` per command, fed by every model call.

Every model client a command makes is wrapped in a `MeteredLLM` (`make_llm(..., usage=,
role=)`), which adds each reply to the run's one `Usage` under its role (`writer`, `agent`,
`judge`), and to the record being worked on:

    with record_scope() as used:          # one per output record, in the stage
        draft = await writer.write(chain)  # every call inside counts into `used`
    record["synth"]["usage"] = used.as_dict()

A reply from the response cache counts as cached, not as spent (the cache keeps the usage
the server reported the first time); tokens a server did not report are estimated from the
text (a tokenizer when the stage has one, else about 4 characters a token) and the
request is counted as `estimated`. The budget (`Budget`) is checked before each request
that would reach the endpoint, so a run stops at `--max-requests` exactly, and at
`--max-total-tokens` / `--max-cost` after the requests already in flight.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import math
import threading
import time
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Callable, Iterator

from ltrl_cli.errors import EXIT_BUDGET, LtrlError, UsageError
from ltrl_cli.llm.base import ChatRequest, ChatResponse

ROLES = ("writer", "agent", "judge")


class BudgetExhausted(LtrlError):
    """The run reached a --max-requests / --max-total-tokens / --max-cost budget.

    Raised before a request would be sent; stages let it through (it is not a failure of
    one record), so the records written so far are whole and a rerun with a larger budget
    resumes from the response cache.
    """

    exit_code = EXIT_BUDGET


# ---------------------------------------------------------------- counting


def estimate_tokens(text: str, tokenizer: Callable[[str], int] | None = None) -> int:
    """Tokens in `text`: the tokenizer's count, or about 4 characters a token.

    >>> estimate_tokens("x" * 400)
    100
    """
    if tokenizer is not None:
        return int(tokenizer(text))
    return (len(text) + 3) // 4


def _request_text(request: ChatRequest) -> str:
    parts = [str(m.get("content") or "") for m in request.messages]
    parts += [str(c.get("function", {}).get("arguments", "")) for m in request.messages for c in m.get("tool_calls") or []]
    return "\n".join(parts)


@dataclass
class Tally:
    """Requests and tokens of one role (or of all roles): all of them, and the cached part."""

    requests: int = 0
    cached: int = 0  # answered from the response cache: not spent
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_prompt_tokens: int = 0
    cached_completion_tokens: int = 0
    estimated: int = 0  # requests whose tokens the server did not report
    latency_s: float = 0.0  # summed over requests with a measured latency (fresh or cached)
    timed: int = 0

    def add(self, prompt: int, completion: int, *, cached: bool, estimated: bool, latency: float | None) -> None:
        self.requests += 1
        self.prompt_tokens += prompt
        self.completion_tokens += completion
        if cached:
            self.cached += 1
            self.cached_prompt_tokens += prompt
            self.cached_completion_tokens += completion
        self.estimated += estimated
        if latency is not None:
            self.latency_s += latency
            self.timed += 1

    def merge(self, other: "Tally") -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    @property
    def sent(self) -> int:
        return self.requests - self.cached

    @property
    def spent_tokens(self) -> tuple[int, int]:
        return self.prompt_tokens - self.cached_prompt_tokens, self.completion_tokens - self.cached_completion_tokens

    def as_dict(self) -> dict[str, Any]:
        out = {"requests": self.requests, "cached": self.cached, "sent": self.sent,
               "prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens}
        spent_in, spent_out = self.spent_tokens
        out.update(spent_prompt_tokens=spent_in, spent_completion_tokens=spent_out, estimated=self.estimated)
        if self.timed:
            out["latency_s_mean"] = round(self.latency_s / self.timed, 4)
        return out


class RecordUsage:
    """The calls made for one record, by role (scopes nest: an inner one adds to its outer)."""

    def __init__(self, parent: "RecordUsage | None" = None):
        self.parent = parent
        self.roles: dict[str, Tally] = {}
        self.meter: "Usage | None" = None

    def add(self, role: str, prompt: int, completion: int, *, cached: bool, estimated: bool,
            latency: float | None) -> None:
        self.roles.setdefault(role, Tally()).add(prompt, completion, cached=cached, estimated=estimated,
                                                 latency=latency)
        if self.parent is not None:
            self.parent.add(role, prompt, completion, cached=cached, estimated=estimated, latency=latency)

    def total(self) -> Tally:
        whole = Tally()
        for tally in self.roles.values():
            whole.merge(tally)
        return whole

    def as_dict(self) -> dict[str, Any]:
        """What a record keeps: per role, requests, cached, prompt and completion tokens
        (and `estimated` when some were)."""
        out = {}
        for role, t in self.roles.items():
            entry = {"requests": t.requests, "cached": t.cached, "prompt_tokens": t.prompt_tokens,
                     "completion_tokens": t.completion_tokens}
            if t.estimated:
                entry["estimated"] = t.estimated
            out[role] = entry
        return out


_current: contextvars.ContextVar[RecordUsage | None] = contextvars.ContextVar("ltrl_record_usage", default=None)


@contextlib.contextmanager
def record_scope(observe: bool = True) -> Iterator[RecordUsage]:
    """Count the model calls made inside (in this task and the tasks it starts) for one record.

    An outermost scope is one record of the run's per-record statistics (the estimate's
    spread) unless `observe` is False (a part of a record that runs as its own task: see
    `observe_parts`); a scope inside another adds to it as well (a rollout inside its question).
    """
    parent = _current.get()
    scope = RecordUsage(parent)
    token = _current.set(scope)
    try:
        yield scope
    finally:
        try:
            _current.reset(token)
        except ValueError:  # a coroutine closed at teardown, from another context: nothing to restore
            pass
        if observe and parent is None and scope.meter is not None:
            scope.meter.observe(scope)


def observe_parts(parts: list[RecordUsage]) -> dict[str, Any]:
    """One record made of parts counted apart (eval's K samples of a question): the parts
    summed join the per-record figures; returns the record's usage."""
    whole = RecordUsage()
    for part in parts:
        whole.meter = whole.meter or part.meter
        for role, tally in part.roles.items():
            whole.roles.setdefault(role, Tally()).merge(tally)
    if whole.meter is not None:
        whole.meter.observe(whole)
    return whole.as_dict()


# ---------------------------------------------------------------- prices and budgets


@dataclass(frozen=True)
class Prices:
    """Money per million tokens (input, output), for all roles or per role."""

    default: tuple[float, float] | None = None
    roles: dict[str, tuple[float, float]] = field(default_factory=dict)

    @classmethod
    def parse(cls, specs: list[str] | None) -> "Prices | None":
        """`--price-per-mtok IN,OUT` (every role) or `ROLE=IN,OUT`, the option repeated.

        >>> Prices.parse(["0.1,0.4", "judge=0.05,0.2"]).of("judge")
        (0.05, 0.2)
        """
        if not specs:
            return None
        default, roles = None, {}
        for spec in specs:
            role, _, pair = spec.rpartition("=")
            value = _price_pair(pair, spec)
            if not role:
                default = value
            elif role in ROLES:
                roles[role] = value
            else:
                raise UsageError(f"--price-per-mtok {spec}: the role must be one of {', '.join(ROLES)}")
        return cls(default, roles)

    def of(self, role: str) -> tuple[float, float] | None:
        return self.roles.get(role, self.default)

    def cost(self, role: str, prompt: float, completion: float) -> float | None:
        price = self.of(role)
        return None if price is None else (prompt * price[0] + completion * price[1]) / 1e6


def _price_pair(text: str, spec: str) -> tuple[float, float]:
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        values = []
    if len(values) != 2 or any(v < 0 or not math.isfinite(v) for v in values):
        raise UsageError(f"--price-per-mtok {spec}: expected IN,OUT (money per million input and output tokens), "
                         "e.g. 0.15,0.60")
    return values[0], values[1]


@dataclass(frozen=True)
class Budget:
    """Caps on what a run may spend (sent requests only: cached replies are free)."""

    max_requests: int | None = None
    max_tokens: int | None = None  # prompt + completion tokens sent
    max_cost: float | None = None

    def __bool__(self) -> bool:
        return any(v is not None for v in (self.max_requests, self.max_tokens, self.max_cost))


# ---------------------------------------------------------------- the run's meter


@dataclass
class _Spread:
    """Running mean and variance (Welford), for the per-record figures."""

    n: int = 0
    mean: float = 0.0
    m2: float = 0.0

    def add(self, x: float) -> None:
        self.n += 1
        delta = x - self.mean
        self.mean += delta / self.n
        self.m2 += delta * (x - self.mean)

    @property
    def sd(self) -> float:
        return math.sqrt(self.m2 / (self.n - 1)) if self.n > 1 else 0.0


PER_RECORD = ("requests", "prompt_tokens", "completion_tokens", "latency_s")


class Usage:
    """The run's one usage account: totals by role, per-record spread, budget and prices.

    Thread-safe: model calls run on the stages' event-loop thread, the summary is read on
    the main thread.
    """

    def __init__(self, budget: Budget = Budget(), prices: Prices | None = None):
        self.budget = budget
        self.prices = prices
        self.roles: dict[str, Tally] = {}
        self.records = 0
        self.spread = {name: _Spread() for name in (*PER_RECORD, "cost")}
        self.reserved = 0  # requests admitted and not yet answered
        self.stopped: str | None = None  # the budget that stopped the run
        self.first_call: float | None = None  # when the first model call was made (start-up excluded)
        self._lock = threading.Lock()

    # -- fed by MeteredLLM and record_scope ------------------------------------------------
    def admit(self) -> None:
        """Reserve one request to the endpoint, or raise BudgetExhausted."""
        with self._lock:
            reason = self._over()
            if reason is None:
                self.reserved += 1
                return
            self.stopped = self.stopped or reason
        raise BudgetExhausted(f"budget reached: {reason}")

    def release(self) -> None:
        with self._lock:
            self.reserved = max(0, self.reserved - 1)

    def _over(self) -> str | None:
        b, total = self.budget, self._total()
        spent_in, spent_out = total.spent_tokens
        if b.max_requests is not None and total.sent + self.reserved >= b.max_requests:
            return f"--max-requests {b.max_requests:,}"
        if b.max_tokens is not None and spent_in + spent_out >= b.max_tokens:
            return f"--max-total-tokens {b.max_tokens:,}"
        cost = self._spent_cost()
        if b.max_cost is not None and cost is not None and cost >= b.max_cost:
            return f"--max-cost {b.max_cost:g}"
        return None

    def add(self, role: str, prompt: int, completion: int, *, cached: bool, estimated: bool,
            latency: float | None) -> None:
        with self._lock:
            if self.first_call is None:
                self.first_call = time.perf_counter() - (latency or 0.0)
            self.roles.setdefault(role, Tally()).add(prompt, completion, cached=cached, estimated=estimated,
                                                     latency=latency)

    def observe(self, scope: RecordUsage) -> None:
        """One finished record: its totals join the per-record spread."""
        total = scope.total()
        cost = sum((self._cost_of(role, t.prompt_tokens, t.completion_tokens) or 0.0) for role, t in scope.roles.items())
        with self._lock:
            self.records += 1
            for name in PER_RECORD:
                self.spread[name].add(getattr(total, name))
            self.spread["cost"].add(cost)

    # -- read by the summary, the estimate and the budget -----------------------------------
    def _total(self) -> Tally:
        whole = Tally()
        for tally in self.roles.values():
            whole.merge(tally)
        return whole

    def _cost_of(self, role: str, prompt: float, completion: float) -> float | None:
        return None if self.prices is None else self.prices.cost(role, prompt, completion)

    def _spent_cost(self) -> float | None:
        if self.prices is None:
            return None
        return sum(self.prices.cost(role, *t.spent_tokens) or 0.0 for role, t in self.roles.items())

    def __bool__(self) -> bool:
        return bool(self.roles)

    def as_dict(self) -> dict[str, Any]:
        """The JSON summary: totals and per-record means by role, cost, budget."""
        with self._lock:
            roles = {role: self.roles[role] for role in sorted(self.roles, key=_role_order)}
            total = self._total()
            records = self.records
            out: dict[str, Any] = {"roles": {r: t.as_dict() for r, t in roles.items()}, "total": total.as_dict(),
                                   "records": records}
            if records:
                out["per_record"] = {r: _means(t, records) for r, t in roles.items()}
                out["per_record"]["total"] = _means(total, records)
            if self.prices is not None:
                out["cost"] = {r: _round(self._cost_of(r, t.prompt_tokens, t.completion_tokens))
                               for r, t in roles.items()}
                out["cost"]["total"] = _round(sum(v or 0.0 for v in out["cost"].values()))
                out["cost"]["spent"] = _round(self._spent_cost())
            if self.budget:
                out["budget"] = {**{k: v for k, v in asdict(self.budget).items() if v is not None},
                                 "stopped": self.stopped}
        return out

    def line(self) -> str:
        """The summary line's usage part: per role, requests (cached), tokens in+out, and per record."""
        data = self.as_dict()
        parts = []
        for role, t in data["roles"].items():
            text = f"{role} {t['requests']:,} req"
            if t["cached"]:
                text += f" ({t['cached']:,} cached)"
            text += f", {t['prompt_tokens']:,}+{t['completion_tokens']:,} tok"
            if t["estimated"]:
                text += " (estimated)" if t["estimated"] == t["requests"] else f" ({t['estimated']:,} estimated)"
            means = data.get("per_record", {}).get(role)
            if means:
                text += f", {means['requests']:.3g} req {means['prompt_tokens']:,.0f}+{means['completion_tokens']:,.0f}/record"
            parts.append(text)
        spent = data["total"]
        parts.append(f"sent {spent['sent']:,} req {spent['spent_prompt_tokens']:,}+{spent['spent_completion_tokens']:,} tok")
        if "cost" in data:
            parts.append(f"cost {data['cost']['spent']:.4g} spent")
        return "usage: " + "; ".join(parts)


def _role_order(role: str) -> int:
    return ROLES.index(role) if role in ROLES else len(ROLES)


def _means(t: Tally, records: int) -> dict[str, float]:
    return {"requests": round(t.requests / records, 4), "prompt_tokens": round(t.prompt_tokens / records, 2),
            "completion_tokens": round(t.completion_tokens / records, 2)}


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


# ---------------------------------------------------------------- the wrapper


class MeteredLLM:
    """Wraps an LLM (cached or not): checks the budget before a request reaches the
    endpoint and counts every reply into the run's Usage and the current record's scope."""

    def __init__(self, inner: Any, usage: Usage, role: str, *, tokenizer: Callable[[str], int] | None = None):
        self.inner = inner
        self.usage = usage
        self.role = role
        self.tokenizer = tokenizer
        self.name = inner.name
        self.model = inner.model

    def __repr__(self) -> str:
        return f"MeteredLLM({self.inner!r}, role={self.role!r})"

    def as_role(self, role: str) -> "MeteredLLM":
        """The same model counted under another role (the agent's model judging)."""
        return MeteredLLM(self.inner, self.usage, role, tokenizer=self.tokenizer)

    async def chat(self, request: ChatRequest) -> ChatResponse:
        peek = getattr(self.inner, "peek", None)
        response = peek(request) if peek is not None else None
        if response is None:
            try:
                self.usage.admit()
            except BudgetExhausted:
                # Let the requests already sent come back (and into the cache) before the run
                # stops: an answer paid for and lost would be asked again by the rerun.
                while self.usage.reserved > 0:
                    await asyncio.sleep(0.05)
                raise
            started = time.perf_counter()
            try:
                response = await self.inner.chat(request)
            finally:
                self.usage.release()
            if response.latency_s is None and not response.cached:
                response.latency_s = round(time.perf_counter() - started, 4)
        self._count(request, response)
        return response

    def _count(self, request: ChatRequest, response: ChatResponse) -> None:
        prompt, completion = response.prompt_tokens, response.completion_tokens
        estimated = prompt is None or completion is None
        if prompt is None:
            prompt = estimate_tokens(_request_text(request), self.tokenizer)
        if completion is None:
            completion = estimate_tokens((response.reasoning or "") + response.content, self.tokenizer)
        values = dict(cached=bool(response.cached), estimated=estimated, latency=response.latency_s)
        self.usage.add(self.role, prompt, completion, **values)
        scope = _current.get()
        if scope is not None:
            scope.add(self.role, prompt, completion, **values)
            root = scope
            while root.parent is not None:
                root = root.parent
            root.meter = self.usage

    def __getattr__(self, name: str) -> Any:  # base_url, stats... of the wrapped client
        if name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)


# ---------------------------------------------------------------- the estimate

Z95 = 1.96


def project(usage: Usage, total: int, *, concurrency: int) -> dict[str, Any]:
    """What the whole input would cost, from the records metered so far (the sample).

    Each figure is the sample's sum plus `total - n` times its per-record mean, with a 95%
    prediction interval of 1.96 x sd x sqrt(m^2/n + m), m = total - n: the uncertainty of
    the mean (m^2 sd^2 / n) and the spread of the m records still to come (m sd^2). Wall
    time is given as a range: requests x mean latency / concurrency (the endpoint kept busy
    at `concurrency`, the least it can take) and the sample's own pace from its first model
    call, scaled up (slower than the run when the sample was too small to fill the window,
    and it counts the stage's own work between calls: searches, checks).
    """
    data = usage.as_dict()
    n = usage.records
    if not n:
        raise UsageError("--estimate: the sample made no model call, so there is nothing to project "
                         "(an offline backend, or every record was rejected before its model call)")
    total = max(total, n)
    rest = total - n

    def figure(name: str) -> dict[str, float]:
        s, digits = usage.spread[name], 8 if name == "cost" else 2
        mid = n * s.mean + rest * s.mean
        half = Z95 * s.sd * math.sqrt(rest * rest / n + rest) if n > 1 else None
        return {"projected": round(mid, digits), "low": None if half is None else round(max(n * s.mean, mid - half), digits),
                "high": None if half is None else round(mid + half, digits), "per_record_mean": round(s.mean, digits + 2),
                "per_record_sd": round(s.sd, digits + 2)}

    out: dict[str, Any] = {"sample_records": n, "total_records": total, "concurrency": concurrency,
                           "requests": figure("requests"), "prompt_tokens": figure("prompt_tokens"),
                           "completion_tokens": figure("completion_tokens")}
    out["by_role"] = {role: {k: round(v * total, 1) for k, v in means.items()}
                      for role, means in data.get("per_record", {}).items() if role != "total"}
    timed = sum(t.timed for t in usage.roles.values())
    latency = sum(t.latency_s for t in usage.roles.values()) / timed if timed else None
    requests = out["requests"]["projected"]
    out["wall_s"] = None if latency is None else round(requests * latency / max(1, concurrency), 1)
    out["latency_s_mean"] = None if latency is None else round(latency, 4)
    pace = time.perf_counter() - usage.first_call if usage.first_call is not None else None
    out["sample_pace_wall_s"] = None if pace is None else round(pace * total / n, 1)
    if usage.prices is not None:
        out["cost"] = figure("cost")
    if n < 10:
        out["note"] = f"a sample of {n} record(s): the interval is rough; --estimate 20 or more narrows it"
    return out


def estimate_table(estimate: dict[str, Any]) -> str:
    """The estimate as a few lines for stderr."""
    e = estimate
    lines = [f"estimate: {e['sample_records']:,} of {e['total_records']:,} records sampled; "
             f"projected for all {e['total_records']:,} (95% interval):"]
    names = [("requests", "requests"), ("prompt_tokens", "prompt tokens"), ("completion_tokens", "completion tokens")]
    if "cost" in e:
        names.append(("cost", "cost"))
    for key, label in names:
        f, fmt = e[key], ("{:,.4g}" if key == "cost" else "{:,.0f}").format
        interval = f" ({fmt(f['low'])} to {fmt(f['high'])})" if f["low"] is not None else ""
        value = fmt(f["projected"])
        lines.append(f"  {label:<18} {value}{interval}  [{f['per_record_mean']:,.4g} per record]")
    if e["wall_s"] is not None:
        pace = f" to {_duration(e['sample_pace_wall_s'])} (the sample's pace)" if e["sample_pace_wall_s"] else ""
        lines.append(f"  {'wall time':<18} {_duration(e['wall_s'])} (the endpoint busy at --concurrency "
                     f"{e['concurrency']}, {e['latency_s_mean']:.3g}s a request){pace}")
    for role, figures in e["by_role"].items():
        lines.append(f"  {role:<18} {figures['requests']:,.0f} requests, {figures['prompt_tokens']:,.0f}+"
                     f"{figures['completion_tokens']:,.0f} tokens")
    if "note" in e:
        lines.append(f"  note: {e['note']}")
    return "\n".join(lines)


def _duration(seconds: float) -> str:
    """
    >>> _duration(42.0), _duration(5400.0), _duration(9000.0)
    ('42s', '90.0min', '2.5h')
    """
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.1f}min"
    return f"{seconds / 3600:.1f}h"
