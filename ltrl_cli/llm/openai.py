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
from ltrl_cli.llm.base import ChatRequest, ChatResponse, RequestRejected
from ltrl_cli.llm.text import extract_tool_calls, split_reasoning

RETRY_STATUS = {408, 409, 425, 429, 500, 502, 503, 504, 520, 521, 522, 523, 524, 529}
MAX_BACKOFF = 30.0  # seconds; exponential growth stops here
MAX_RETRY_AFTER = 300.0  # a server asking for more than this is treated as asking for this




PER_REQUEST_STATUS = {400, 413, 422}


class _Retryable(Exception):
    """A failure worth another try; `wait` is the server's Retry-After, when it gave one."""

    def __init__(self, message: str, wait: float | None = None):
        super().__init__(message)
        self.wait = wait


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
    """

    name = "openai"

    def __init__(self, base_url: str, model: str, *, api_key_env: str | None = None, timeout: float = 120.0,
                 max_retries: int = 6, backoff: float = 0.5, connections: int = 100):
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

    def __repr__(self) -> str:  # the key stays out of reprs (tracebacks, logs)
        return f"OpenAIChat(base_url={self.base_url!r}, model={self.model!r})"

    async def chat(self, request: ChatRequest) -> ChatResponse:
        """Send one chat request; retry transient failures; raise BackendError at the end."""
        body = orjson.dumps({"model": self.model, **request.payload()}, default=str)
        tries = self.max_retries + 1
        last = "no try made"
        for attempt in range(tries):
            try:
                return await self._post(body)
            except _Retryable as exc:
                last = self._redact(str(exc))
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
            raise _Retryable(f"no answer within {self.timeout:g}s") from None
        except aiohttp.ClientError as exc:
            raise _Retryable(f"{type(exc).__name__}: {exc}") from None
        return parse_completion(raw)

    def _raise_for_status(self, status: int, headers: Any, raw: bytes) -> None:
        detail = self._redact(_error_detail(raw))
        if status in RETRY_STATUS or status >= 500:
            raise _Retryable(f"HTTP {status}: {detail}", _retry_after(headers.get("Retry-After")))
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
