"""bounded_map: order, the concurrency bound, laziness, streaming, errors, early exit."""

from __future__ import annotations

import asyncio
import random
import threading

import pytest

from ltrl_cli.concurrency import bounded_map, run_sync
from ltrl_cli.errors import BadInput


class Meter:
    """Counts calls in flight (the loop is single-threaded, so no lock is needed)."""

    def __init__(self):
        self.now = self.peak = self.started = self.cancelled = 0

    async def call(self, item, delay=0.01):
        self.now += 1
        self.started += 1
        self.peak = max(self.peak, self.now)
        try:
            await asyncio.sleep(delay)
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        finally:
            self.now -= 1
        return item


def test_results_keep_input_order_under_uneven_latency():
    rng = random.Random(0)
    delays = [rng.uniform(0, 0.02) for _ in range(60)]

    async def fn(i):
        await asyncio.sleep(delays[i])
        return i * i

    assert list(bounded_map(fn, range(60), concurrency=8)) == [i * i for i in range(60)]


def test_completion_order_lets_fast_items_pass_a_slow_one():
    async def fn(i):
        await asyncio.sleep(0.3 if i == 0 else 0.0)
        return i

    out = list(bounded_map(fn, range(6), concurrency=6, keep_order=False))
    assert sorted(out) == list(range(6))
    assert out[-1] == 0


def test_never_more_than_concurrency_in_flight_and_the_window_fills():
    meter = Meter()
    out = list(bounded_map(meter.call, range(100), concurrency=7))
    assert out == list(range(100))
    assert meter.peak == 7
    assert meter.started == 100


def test_input_is_pulled_lazily():
    pulled = []

    def source():
        for i in range(10_000):
            pulled.append(i)
            yield i

    meter = Meter()
    results = bounded_map(meter.call, source(), concurrency=4, lookahead=4)
    first = next(results)
    results.close()
    assert first == 0
    # at most concurrency + lookahead items are taken before one is handed back
    assert len(pulled) <= 4 + 4 + 1


def test_a_ready_result_is_yielded_while_the_next_input_has_not_arrived():
    # Like `ltrl walk | ltrl synth` with a slow writer: line 2 only comes after the reader
    # has seen result 1. Reading input on the caller's thread would deadlock here.
    first_seen = threading.Event()

    def source():
        yield "a"
        if not first_seen.wait(timeout=20):
            raise AssertionError("the first result was held back waiting for more input")
        yield "b"

    async def upper(text):
        return text.upper()

    seen = []
    for result in bounded_map(upper, source(), concurrency=4):
        seen.append(result)
        first_seen.set()
    assert seen == ["A", "B"]


def test_an_exception_in_fn_reaches_the_caller_after_earlier_results():
    async def fn(i):
        if i == 5:
            raise ValueError("record 5 is bad")
        await asyncio.sleep(0.001)
        return i

    got = []
    with pytest.raises(ValueError, match="record 5 is bad"):
        for value in bounded_map(fn, range(20), concurrency=4):
            got.append(value)
    assert got == [0, 1, 2, 3, 4]


def test_a_bad_input_line_reaches_the_caller_in_order():
    def source():
        yield from range(3)
        raise BadInput("not valid JSON", line=4)

    meter = Meter()
    got = []
    with pytest.raises(BadInput, match="line 4"):
        for value in bounded_map(meter.call, source(), concurrency=8):
            got.append(value)
    assert got == [0, 1, 2]


def test_closing_early_cancels_the_calls_in_flight():
    meter = Meter()

    async def fn(i):
        if i == 0:  # finish only once the window is full, so that 1-4 are surely in flight
            for _ in range(2000):
                if meter.started >= 5:
                    break
                await asyncio.sleep(0.005)
        return await meter.call(i, delay=0.0 if i == 0 else 30.0)

    results = bounded_map(fn, range(50), concurrency=5)
    assert next(results) == 0
    results.close()
    # every call that started, except item 0, was cancelled: 1-4, and 5 if it took 0's slot in time
    assert meter.cancelled == meter.started - 1 and meter.cancelled in (4, 5)
    assert meter.now == 0


def test_empty_input_and_bad_concurrency():
    async def fn(x):
        return x

    assert list(bounded_map(fn, [], concurrency=3)) == []
    with pytest.raises(ValueError):
        bounded_map(fn, [1], concurrency=0)


def test_run_sync_runs_one_coroutine():
    async def add(a, b):
        await asyncio.sleep(0)
        return a + b

    assert run_sync(add(2, 3)) == 5
