"""The sqlite response cache and CachedLLM: keys, hits, concurrency across threads and processes."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from ltrl_cli.concurrency import bounded_map, run_sync
from ltrl_cli.llm.base import ChatRequest, ChatResponse
from ltrl_cli.llm.cache import CachedLLM, ResponseCache, cache_key, default_cache_path

ROOT = Path(__file__).resolve().parent.parent


class CountingLLM:
    """A real (if trivial) backend: answers with the prompt reversed, counting calls."""

    name = "counting"
    model = "reverse-1"

    def __init__(self, fail: bool = False):
        self.calls = 0
        self.fail = fail

    async def chat(self, request: ChatRequest) -> ChatResponse:
        self.calls += 1
        await asyncio.sleep(0)
        if self.fail:
            raise RuntimeError("endpoint down")
        text = request.messages[-1]["content"]
        return ChatResponse(content=text[::-1], reasoning="r", finish_reason="stop", prompt_tokens=3,
                            completion_tokens=4)


def ask(text: str, **kwargs) -> ChatRequest:
    return ChatRequest([{"role": "user", "content": text}], **kwargs)


def test_default_path_follows_ltrl_cache_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("LTRL_CACHE_DIR", str(tmp_path))
    assert default_cache_path() == tmp_path / "llm.sqlite"
    monkeypatch.delenv("LTRL_CACHE_DIR")
    assert default_cache_path() == Path.home() / ".cache" / "ltrl" / "llm.sqlite"


def test_key_depends_on_what_decides_the_answer():
    payload = ask("q", seed=1).payload()
    base = cache_key("openai", "m", payload, ("id1", 0))
    assert base == cache_key("openai", "m", dict(reversed(list(payload.items()))), ("id1", 0))
    assert base != cache_key("openai", "m2", payload, ("id1", 0))
    assert base != cache_key("vllm", "m", payload, ("id1", 0))
    assert base != cache_key("openai", "m", ask("q", seed=2).payload(), ("id1", 0))
    assert base != cache_key("openai", "m", payload, ("id1", 1))


def test_cached_llm_answers_a_repeat_from_the_cache(tmp_path):
    inner = CountingLLM()
    llm = CachedLLM(inner, ResponseCache(tmp_path / "c.sqlite"))
    first = run_sync(llm.chat(ask("abc")))
    second = run_sync(llm.chat(ask("abc")))
    assert (first.content, first.cached) == ("cba", False)
    assert (second.content, second.cached, second.reasoning, second.completion_tokens) == ("cba", True, "r", 4)
    assert inner.calls == 1
    assert (llm.name, llm.model) == ("counting", "reverse-1")


def test_cache_key_field_keeps_samples_apart_and_is_not_sent(tmp_path):
    inner = CountingLLM()
    llm = CachedLLM(inner, ResponseCache(tmp_path / "c.sqlite"))
    for rollout in range(3):
        run_sync(llm.chat(ask("abc", temperature=1.0, cache_key=("q1", rollout))))
    run_sync(llm.chat(ask("abc", temperature=1.0, cache_key=("q1", 1))))
    assert inner.calls == 3
    assert "cache_key" not in ask("abc", cache_key=("q1", 0)).payload()


def test_the_same_request_in_flight_twice_is_sent_once(tmp_path):
    # K rollouts of one question judged with the same answer ask the same judge request at once.
    inner = CountingLLM()
    llm = CachedLLM(inner, ResponseCache(tmp_path / "c.sqlite"))

    async def both():
        return await asyncio.gather(llm.chat(ask("abc")), llm.chat(ask("abc")), llm.chat(ask("xyz")))

    first, second, other = run_sync(both())
    assert inner.calls == 2
    assert (first.content, first.cached, second.content, second.cached) == ("cba", False, "cba", True)
    assert other.content == "zyx"


def test_a_failure_in_flight_reaches_every_waiter_and_is_not_cached(tmp_path):
    inner = CountingLLM(fail=True)
    llm = CachedLLM(inner, ResponseCache(tmp_path / "c.sqlite"))

    async def both():
        return await asyncio.gather(llm.chat(ask("abc")), llm.chat(ask("abc")), return_exceptions=True)

    results = run_sync(both())
    assert [type(r) for r in results] == [RuntimeError, RuntimeError] and inner.calls == 1
    assert len(llm.cache) == 0


def test_failures_are_not_cached(tmp_path):
    cache = ResponseCache(tmp_path / "c.sqlite")
    with pytest.raises(RuntimeError):
        run_sync(CachedLLM(CountingLLM(fail=True), cache).chat(ask("x")))
    assert len(cache) == 0
    inner = CountingLLM()
    assert run_sync(CachedLLM(inner, cache).chat(ask("x"))).content == "x"
    assert inner.calls == 1


def test_survives_reopening(tmp_path):
    path = tmp_path / "c.sqlite"
    run_sync(CachedLLM(CountingLLM(), ResponseCache(path)).chat(ask("hello")))
    inner = CountingLLM()
    again = run_sync(CachedLLM(inner, ResponseCache(path)).chat(ask("hello")))
    assert (again.content, again.cached, inner.calls) == ("olleh", True, 0)


def test_concurrent_use_from_bounded_map_and_threads(tmp_path):
    cache = ResponseCache(tmp_path / "c.sqlite")
    inner = CountingLLM()
    llm = CachedLLM(inner, cache)

    async def fn(i):
        return (await llm.chat(ask(f"item {i}"))).content

    assert list(bounded_map(fn, range(200), concurrency=32)) == [f"item {i}"[::-1] for i in range(200)]

    def writer(t):
        for i in range(50):
            cache.put(f"thread-{t}-{i}", ChatResponse(content=str(i)))

    threads = [threading.Thread(target=writer, args=(t,)) for t in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(cache) == 200 + 4 * 50


WRITER = """
import sys
from ltrl_cli.llm.base import ChatResponse
from ltrl_cli.llm.cache import ResponseCache
cache = ResponseCache(sys.argv[1])
for i in range(150):
    cache.put(f"{sys.argv[2]}-{i}", ChatResponse(content=str(i)))
"""


def test_several_shard_processes_share_one_file(tmp_path):
    path = tmp_path / "shared.sqlite"
    ResponseCache(path)  # create the file first, as the first shard would
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(path), f"shard{n}"], cwd=ROOT) for n in range(3)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0]
    cache = ResponseCache(path)
    assert len(cache) == 450
    assert cache.get("shard2-149").content == "149"
