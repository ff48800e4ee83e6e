"""A response cache in sqlite, so a killed run resumes without asking the model again.

The key is a sha256 of what decides the answer: backend, model, the request payload
(messages, sampling settings, seed, tools) and a caller-given key such as
(record id, rollout index), which keeps K samples of one prompt apart. The endpoint URL is
left out on purpose: the same model behind another server gives the same cached answer.

The database runs in WAL mode with a busy timeout, so the threads of one process and the
processes of a sharded batch (`--shard i/n`, one process each) can share one file.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import sqlite3
import threading
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import orjson

from ltrl_cli.errors import BackendError
from ltrl_cli.llm.base import ChatRequest, ChatResponse


def default_cache_path() -> Path:
    """$LTRL_CACHE_DIR/llm.sqlite, else ~/.cache/ltrl/llm.sqlite."""
    root = os.environ.get("LTRL_CACHE_DIR")
    base = Path(root) if root else Path.home() / ".cache" / "ltrl"
    return base / "llm.sqlite"


def cache_key(backend: str, model: str, payload: dict[str, Any], key: Any = None) -> str:
    """The hex sha256 a response is stored under (dict key order does not matter).

    >>> a = cache_key("openai", "m", {"messages": [], "temperature": 0}, ("q1", 0))
    >>> a == cache_key("openai", "m", {"temperature": 0, "messages": []}, ["q1", 0])
    True
    >>> a == cache_key("openai", "m", {"messages": [], "temperature": 0}, ("q1", 1))
    False
    """
    blob = orjson.dumps({"backend": backend, "model": model, "payload": payload, "key": key},
                        option=orjson.OPT_SORT_KEYS, default=str)
    return hashlib.sha256(blob).hexdigest()


class ResponseCache:
    """sqlite table key -> ChatResponse (JSON). Safe across threads and processes."""

    def __init__(self, path: str | Path):
        self.path = Path(path).expanduser()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, timeout=60, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable at checkpoints, fast commits
            self._db.execute("PRAGMA busy_timeout=60000")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, response BLOB NOT NULL, created REAL)"
            )
        except (sqlite3.Error, OSError) as exc:
            raise BackendError(f"cannot open the response cache {self.path}: {exc} (use --cache PATH or --no-cache)")
        self._lock = threading.Lock()

    def get(self, key: str) -> ChatResponse | None:
        with self._lock:
            row = self._db.execute("SELECT response FROM responses WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        # Usage and latency are the original reply's: a cached answer is counted as cached, not spent.
        return ChatResponse(**{**orjson.loads(row[0]), "cached": True})

    def put(self, key: str, response: ChatResponse) -> None:
        blob = orjson.dumps({**asdict(response), "cached": False})
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO responses VALUES (?, ?, ?)", (key, blob, time.time()))

    def __len__(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM responses").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self._db.close()


class CachedLLM:
    """Wraps an LLM: answers from the cache when it can, stores every fresh answer.

    Failures are not cached (a rerun asks again); truncated answers are (they are answers).
    """

    def __init__(self, inner: Any, cache: ResponseCache):
        self.inner = inner
        self.cache = cache
        self.name = inner.name
        self.model = inner.model
        self._in_flight: dict[tuple[Any, str], asyncio.Future] = {}

    def __repr__(self) -> str:
        return f"CachedLLM({self.inner!r}, {str(self.cache.path)!r})"

    def key(self, request: ChatRequest) -> str:
        return cache_key(self.name, self.model, request.payload(), request.cache_key)

    def peek(self, request: ChatRequest) -> ChatResponse | None:
        """The cached reply, if there is one (the budget is checked only when there is not)."""
        return self.cache.get(self.key(request))

    async def chat(self, request: ChatRequest) -> ChatResponse:
        key = self.key(request)
        hit = self.cache.get(key)
        if hit is not None:
            return hit
        # The same request already on its way (K rollouts judged with one answer, at once):
        # wait for its answer instead of paying for it twice.
        loop = asyncio.get_running_loop()
        pending = self._in_flight.get((loop, key))
        if pending is not None:
            return replace(await asyncio.shield(pending), cached=True)
        future = self._in_flight[(loop, key)] = loop.create_future()
        started = time.perf_counter()
        try:
            response = await self.inner.chat(request)
            if response.latency_s is None:  # kept with the reply: an estimate from cached replies still knows it
                response = replace(response, latency_s=round(time.perf_counter() - started, 4))
            self.cache.put(key, replace(response, cached=False))
            future.set_result(response)
            return response
        except Exception as exc:  # the waiters fail as this one does
            future.set_exception(exc)
            future.exception()  # marked retrieved: there may be no waiter
            raise
        except BaseException:  # cancelled (Ctrl-C, the run torn down)
            future.cancel()
            raise
        finally:
            del self._in_flight[(loop, key)]

    def __getattr__(self, name: str) -> Any:  # stats, base_url... of the wrapped backend
        if name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)
