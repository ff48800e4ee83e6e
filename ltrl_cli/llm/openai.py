"""The `openai` backend: any OpenAI-compatible chat endpoint (vllm serve, SGLang, hosted APIs).

One `OpenAIChat` serves many concurrent requests: it keeps one aiohttp session per event
loop (so `bounded_map` in one thread and an `asyncio.run` elsewhere never share a
session across loops), retries what a retry can fix (429, 5xx, timeouts, dropped
connections, garbled JSON) with exponential backoff and full jitter, honours
Retry-After, and fails with one clear BackendError when the endpoint stays down.

The API key is read from the environment variable the user names and only ever placed in
the Authorization header: never in a repr, a log line, an exception message or a record.
"""

from __future__ import annotations

import asyncio
import email.utils
import os
import random
import time
import weakref
from typing import Any

import orjson

from ltrl_cli.errors import BackendError, UsageError
from ltrl_cli.keyenv import check_key_env
from ltrl_cli.llm.base import ChatRequest, ChatResponse, EndpointDown, EndpointUnusable, RequestRejected
from ltrl_cli.llm.text import extract_tool_calls, split_reasoning

RETRY_STATUS = {408, 409, 425, 429, 500, 502, 503, 504, 520, 521, 522, 523, 524, 529}
MAX_BACKOFF = 30.0  # seconds; exponential growth stops here
MAX_RETRY_AFTER = 300.0  # a server asking for more than this is treated as asking for this
PER_REQUEST_STATUS = {400, 413, 422}
# A router or proxy in front of the model servers answers these when none of them is up:
# for the outage rule they count as no answer at all.
GATEWAY_DOWN = {502, 503, 504}
CHECK_TIMEOUT = 2.4  # seconds per step of the endpoint check (connect, answer): under 5 s in all


class _Retryable(Exception):
    """A failure worth another try; `wait` is the server's Retry-After, when it gave one."""

    def __init__(self, message: str, wait: float | None = None, *, no_answer: bool = False):
        super().__init__(message)
        self.wait = wait
        self.no_answer = no_answer  # the endpoint itself did not answer (counts toward an outage)


class OpenAIChat:
    """LLM over POST {base_url}/chat/completions.

    Args:
        base_url: the endpoint root, e.g. http://localhost:8000/v1 (with or without /v1 is the
            caller's choice: the path `/chat/completions` is appended as is).
        model: the model name the endpoint serves.
        api_key_env: name of the environment variable holding the API key (None: no key).
        timeout: seconds for one request, connect to last byte.
        max_retries: retries after the first try (so max_retries + 1 tries in all).
        backoff: the first backoff step in seconds; step n waits up to backoff * 2**n.
        connections: the connection pool size; keep it >= the caller's concurrency.
        endpoint_check: whether `check_endpoint` asks GET /models before the first record.
        max_consecutive_failures, outage_timeout: the outage rule (see `Outage`).
    """

    name = "openai"

    def __init__(self, base_url: str, model: str, *, api_key_env: str | None = None, timeout: float = 120.0,
                 max_retries: int = 6, backoff: float = 0.5, connections: int = 100, endpoint_check: bool = True,
                 max_consecutive_failures: int = 20, outage_timeout: float = 60.0):
        if not base_url:
            raise UsageError("--backend openai needs --base-url (e.g. http://localhost:8000/v1)")
        if not model:
            raise UsageError("--backend openai needs --model (the name the endpoint serves)")
        self.base_url = base_url.rstrip("/")
        self.url = f"{self.base_url}/chat/completions"
        self.model = model
        self.timeout = timeout
        self.max_retries = max(0, max_retries)
        self.backoff = backoff
        self.connections = connections
        self._api_key = _read_key(api_key_env)
        self._sessions: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self.endpoint_check = endpoint_check
        self.outage = Outage(host_port(self.base_url), max_consecutive_failures, outage_timeout)

    def __repr__(self) -> str:  # the key stays out of reprs (tracebacks, logs)
        return f"OpenAIChat(base_url={self.base_url!r}, model={self.model!r})"

    async def chat(self, request: ChatRequest) -> ChatResponse:
        """Send one chat request; retry transient failures; raise BackendError at the end."""
        body = orjson.dumps({"model": self.model, **request.payload()}, default=str)
        tries = self.max_retries + 1
        last = "no try made"
        for attempt in range(tries):
            self.outage.check()
            try:
                return await self._post(body)
            except _Retryable as exc:
                last = self._redact(str(exc))
                if exc.no_answer:
                    self.outage.failed(last, final=attempt + 1 == tries)
                else:
                    self.outage.answered()
                if attempt + 1 < tries:
                    await asyncio.sleep(self._delay(attempt, exc.wait))
        raise BackendError(f"endpoint {self.url} unreachable after {tries} tries: {last}")

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, MAX_RETRY_AFTER)
        # Full jitter: many clients that failed together do not come back together.
        return random.uniform(0, min(MAX_BACKOFF, self.backoff * 2**attempt))

    async def _post(self, body: bytes) -> ChatResponse:
        import aiohttp

        session = self._session()
        try:
            async with session.post(self.url, data=body) as reply:
                raw = await reply.read()
                if reply.status != 200:
                    self._raise_for_status(reply.status, reply.headers, raw)
        except asyncio.TimeoutError:
            raise _Retryable(f"no answer within {self.timeout:g}s", no_answer=True) from None
        except aiohttp.ClientError as exc:
            raise _Retryable(f"{type(exc).__name__}: {exc}", no_answer=True) from None
        self.outage.answered()
        return parse_completion(raw)

    def _raise_for_status(self, status: int, headers: Any, raw: bytes) -> None:
        detail = self._redact(_error_detail(raw))
        if status in RETRY_STATUS or status >= 500:
            raise _Retryable(f"HTTP {status}: {detail}", _retry_after(headers.get("Retry-After")),
                             no_answer=status in GATEWAY_DOWN)
        self.outage.answered()
        hint = " (check --api-key-env)" if status in (401, 403) else ""
        message = f"endpoint {self.url} rejected the request (HTTP {status}): {detail}{hint}"
        if status in PER_REQUEST_STATUS:
            raise RequestRejected(message, status)
        raise BackendError(message)

    def _session(self) -> Any:
        import aiohttp

        from ltrl_cli.concurrency import on_loop_close

        loop = asyncio.get_running_loop()
        session = self._sessions.get(loop)
        if session is None or session.closed:
            headers = {"Content-Type": "application/json"}
            if self._api_key:
                headers["Authorization"] = f"Bearer {self._api_key}"
            session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self.connections),
                timeout=aiohttp.ClientTimeout(total=self.timeout),
                headers=headers,
            )
            self._sessions[loop] = session
            on_loop_close(session.close)
        return session

    def _redact(self, text: str) -> str:
        return text.replace(self._api_key, "***") if self._api_key else text


class Outage:
    """The outage rule. The endpoint is down for good once `max_failures` tries in a row got
    no answer (refused or dropped connections, timeouts, 502/503/504 from a router) and
    either the first of them is `timeout` seconds old or one request has used all its tries
    on them. Then every call, in flight or new, raises EndpointDown, and the stage stops
    instead of writing a failed record per item. Any answer resets the count. max_failures
    0: never (a request that used its tries fails alone, as before).

    >>> o = Outage("h:1", max_failures=2, timeout=60)
    >>> o.failed("refused"); o.failed("refused"); o.check()  # 2 in a row, but neither old nor final
    >>> o.failed("refused", final=True)
    Traceback (most recent call last):
    ...
    ltrl_cli.llm.base.EndpointDown: endpoint h:1 is down: 3 tries in a row got no answer over 0s (last: refused); stopping. Every record written is whole; run the same command again to resume from the response cache
    """

    def __init__(self, where: str, max_failures: int, timeout: float):
        self.where, self.max_failures, self.timeout = where, max_failures, timeout
        self.streak = 0
        self.since = 0.0
        self.down: str | None = None

    def answered(self) -> None:
        self.streak = 0

    def failed(self, reason: str, *, final: bool = False) -> None:
        """Count a try that got no answer (`final`: its request has no try left)."""
        if self.streak == 0:
            self.since = time.monotonic()
        self.streak += 1
        elapsed = time.monotonic() - self.since
        if self.max_failures and self.streak >= self.max_failures and (final or elapsed >= self.timeout):
            self.down = (f"endpoint {self.where} is down: {self.streak} tries in a row got no answer over "
                         f"{elapsed:.0f}s (last: {reason}); stopping. Every record written is whole; run the same "
                         "command again to resume from the response cache")
        self.check()

    def check(self) -> None:
        if self.down is not None:
            raise EndpointDown(self.down)


def host_port(url: str) -> str:
    """`host:port` of a URL, and nothing else of it (no user, password, path or query).

    >>> host_port("https://user:secret@api.example.org/v1?key=k")
    'api.example.org:443'
    >>> host_port("http://127.0.0.1:9/v1")
    '127.0.0.1:9'
    """
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    port = port or (443 if parts.scheme == "https" else 80)
    host = parts.hostname or "?"
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


_checked: dict[tuple[str, str], None] = {}  # endpoints found serving their model in this process


def check_endpoint(llm: Any, *, judge: bool = False) -> None:
    """Before the first record: does the endpoint answer GET {base_url}/models and list the model?

    `llm` is any model client (a MeteredLLM and a CachedLLM are looked through); only the OpenAI-compatible
    one is checked, once per endpoint and model, unless it was built with
    endpoint_check=False (--no-endpoint-check). `judge`: it is the LLM judge's own endpoint
    (the messages then name --judge-base-url and --judge-model). Raises EndpointUnusable
    (exit 2) naming host:port, never the key, and what to fix; under 5 s when nothing answers.
    """
    while hasattr(llm, "inner"):  # through the usage meter and the response cache
        llm = llm.inner
    if not isinstance(llm, OpenAIChat) or not llm.endpoint_check or (llm.base_url, llm.model) in _checked:
        return
    flags = ("--judge-base-url", "--judge-model") if judge else ("--base-url", "--model")
    what = f"{'judge endpoint' if judge else 'endpoint'} {host_port(llm.base_url)}"
    served = _served_models(llm, what, flags[0])
    if llm.model not in served:
        names = ", ".join(repr(name) for name in served[:20]) or "no model"
        more = f" and {len(served) - 20:,} more" if len(served) > 20 else ""
        raise EndpointUnusable(f"{what} does not serve {flags[1]} {llm.model!r}; it serves {names}{more}")
    _checked[(llm.base_url, llm.model)] = None


def _served_models(llm: "OpenAIChat", what: str, url_flag: str) -> list[str]:
    import urllib.error
    import urllib.request

    skip = "; for a server without GET /models pass --no-endpoint-check"
    request = urllib.request.Request(f"{llm.base_url}/models", headers={"Accept": "application/json"})
    if llm._api_key:
        request.add_header("Authorization", f"Bearer {llm._api_key}")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # as aiohttp: no proxy from the env
    try:
        with opener.open(request, timeout=CHECK_TIMEOUT) as reply:
            raw = reply.read(8 << 20)
    except urllib.error.HTTPError as exc:
        if exc.code in (401, 403):
            key_flag = "--judge-api-key-env" if url_flag.startswith("--judge") else "--api-key-env"
            raise EndpointUnusable(f"{what} refused the API key (HTTP {exc.code}); check {key_flag}") from None
        hint = f" (is {url_flag} the API root, often ending in /v1?)" if exc.code == 404 else ""
        raise EndpointUnusable(f"{what} answered GET /models with HTTP {exc.code}{hint}{skip}") from None
    except (urllib.error.URLError, OSError) as exc:  # refused, unknown host, timeout, reset
        reason = getattr(exc, "reason", exc)
        reason = f"no answer within {CHECK_TIMEOUT:g}s" if isinstance(reason, TimeoutError) else reason
        raise EndpointUnusable(f"nothing answers at {what} ({llm._redact(str(reason))}); start the model server "
                               f"or fix {url_flag}") from None
    try:
        listed = orjson.loads(raw)["data"]
        return [str(entry["id"]) for entry in listed]
    except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
        raise EndpointUnusable(f"{what} answered GET /models with no model list ({type(exc).__name__}){skip}") from None


def _read_key(env_name: str | None) -> str | None:
    if env_name is None:
        return None
    check_key_env(env_name)  # a key typed as the name is refused, never printed
    key = os.environ.get(env_name)
    if not key:
        raise UsageError(f"--api-key-env {env_name}: the environment variable {env_name} is not set or empty")
    return key


def _retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header: a number, or an HTTP date.

    >>> _retry_after("2.5")
    2.5
    >>> _retry_after(None) is None
    True
    """
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _error_detail(raw: bytes, limit: int = 300) -> str:
    try:
        data = orjson.loads(raw)
        message = data.get("error", data) if isinstance(data, dict) else data
        if isinstance(message, dict):
            message = message.get("message", message)
        text = str(message)
    except orjson.JSONDecodeError:
        text = raw.decode("utf-8", "replace")
    text = " ".join(text.split())
    return text[:limit] or "(empty body)"


def parse_completion(raw: bytes) -> ChatResponse:
    """A chat.completion body -> ChatResponse; a body that is not one is a retryable fault.

    Reasoning comes from `reasoning_content` (vLLM, SGLang, DeepSeek), `reasoning`
    (some newer servers), or `<think>` blocks left in the content.
    """
    try:
        data = orjson.loads(raw)
        choice = data["choices"][0]
        message = choice["message"]
    except (orjson.JSONDecodeError, KeyError, IndexError, TypeError):
        raise _Retryable(f"malformed response: {_error_detail(raw, 120)}") from None
    content = message.get("content") or ""
    reasoning = message.get("reasoning_content") or message.get("reasoning")
    think, content = split_reasoning(content)
    if think is not None:
        reasoning = f"{reasoning}\n\n{think}" if reasoning else think
    calls = [_tool_call(c) for c in message.get("tool_calls") or []]
    if not calls:  # servers without a tool parser leave Hermes/Qwen `<tool_call>` blocks in the text
        content, calls = extract_tool_calls(content)
    usage = data.get("usage") or {}
    return ChatResponse(
        content=content,
        reasoning=reasoning or None,
        tool_calls=calls,
        finish_reason=choice.get("finish_reason"),
        prompt_tokens=usage.get("prompt_tokens"),
        completion_tokens=usage.get("completion_tokens"),
    )


def _tool_call(call: dict) -> dict:
    function = call.get("function") or {}
    arguments = function.get("arguments")
    if not isinstance(arguments, str):
        arguments = orjson.dumps(arguments or {}).decode()
    return {"id": call.get("id"), "name": function.get("name"), "arguments": arguments}
