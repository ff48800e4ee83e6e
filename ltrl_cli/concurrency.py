"""Bounded concurrency for a synchronous pipeline: `bounded_map` runs an async function
over a lazy iterator with a fixed window of calls in flight.

Stages are plain generators and stdin is read line by line, so the concurrency lives in
two helper threads rather than in the caller:

    reader thread:  pulls items from the (possibly slow, stdin-backed) iterator, only as
                    fast as results are handed back (at most `concurrency + lookahead`
                    items taken and not yet yielded);
    loop thread:    an asyncio loop running `fn(item)` with at most `concurrency` calls
                    in flight;
    caller thread:  yields results, in input order or as they complete.

Reading in its own thread matters: with `ltrl walk | ltrl synth`, a result that is ready
must reach stdout even while the next input line has not arrived yet.
"""

from __future__ import annotations

import asyncio
import queue
import threading
import weakref
from typing import Any, Awaitable, Callable, Coroutine, Iterable, Iterator, TypeVar

T = TypeVar("T")
R = TypeVar("R")

# Async closers (aiohttp sessions...) to run on a loop before it closes; see on_loop_close.
_closers: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

_END = object()


def on_loop_close(closer: Callable[[], Awaitable[Any]]) -> None:
    """Register `closer` to be awaited when the running loop is shut down by this module.

    Backends call this for per-loop resources (one HTTP session per loop) so bounded_map
    and run_sync close them cleanly instead of leaving "unclosed session" warnings.
    """
    loop = asyncio.get_running_loop()
    _closers.setdefault(loop, []).append(closer)


async def _close_loop_resources() -> None:
    for closer in _closers.pop(asyncio.get_running_loop(), []):
        try:
            await closer()
        except Exception:  # closing is best effort: the work is already done
            pass


def run_sync(coro: Coroutine[Any, Any, R]) -> R:
    """asyncio.run for one coroutine, closing backend sessions opened on its loop."""

    async def wrapped() -> R:
        try:
            return await coro
        finally:
            await _close_loop_resources()

    return asyncio.run(wrapped())


def bounded_map(fn: Callable[[T], Awaitable[R]], items: Iterable[T], *, concurrency: int,
                keep_order: bool = True, lookahead: int | None = None) -> Iterator[R]:
    """Apply async `fn` to each item with at most `concurrency` calls in flight.

    A synchronous generator. Items are pulled lazily (never the whole input first); results
    come back in input order (`keep_order`) or in completion order. An exception raised by
    `fn` or by the input iterator reaches the caller at the point the item would have been
    yielded (in input order), or as soon as it happens with keep_order=False; the calls
    still in flight are then cancelled.

    Args:
        fn: the async function to apply.
        items: any iterable; it is consumed from a helper thread.
        concurrency: the number of calls in flight, at most.
        keep_order: yield in input order (True) or as calls complete (False).
        lookahead: how many finished-but-unyielded results may wait behind a slow one
            (input order only); default 4 x concurrency.

    >>> async def double(x):
    ...     return 2 * x
    >>> list(bounded_map(double, range(5), concurrency=2))
    [0, 2, 4, 6, 8]
    """
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    window = _Window(fn, concurrency, lookahead if lookahead is not None else 4 * concurrency)
    return window.run(iter(items), keep_order)


class _Window:
    """The three-thread machinery behind bounded_map (one instance per call)."""

    def __init__(self, fn: Callable[[Any], Awaitable[Any]], concurrency: int, lookahead: int):
        self.fn = fn
        self.concurrency = concurrency
        # Credits bound the items taken from the input and not yet yielded.
        self.credits = threading.Semaphore(concurrency + max(0, lookahead))
        self.results: queue.Queue = queue.Queue()
        self.stopping = threading.Event()
        self.loop = asyncio.new_event_loop()
        self.tasks: set[asyncio.Task] = set()
        self.slots: asyncio.Semaphore | None = None

    def run(self, items: Iterator[Any], keep_order: bool) -> Iterator[Any]:
        loop_thread = threading.Thread(target=self._loop_main, name="ltrl-llm-loop", daemon=True)
        loop_thread.start()
        reader = threading.Thread(target=self._read, args=(items,), name="ltrl-llm-reader", daemon=True)
        reader.start()
        try:
            yield from self._collect(keep_order)
        finally:
            self._shutdown(loop_thread)

    def _collect(self, keep_order: bool) -> Iterator[Any]:
        pending: dict[int, tuple[str, Any]] = {}
        delivered = 0
        while True:
            index, kind, value = self.results.get()
            if keep_order or kind == "end":
                pending[index] = (kind, value)
                while delivered in pending:
                    kind, value = pending.pop(delivered)
                    if kind == "end":
                        return
                    delivered += 1
                    yield self._unwrap(kind, value)
            else:
                delivered += 1
                yield self._unwrap(kind, value)
                # an "end" parked earlier may now be due
                if delivered in pending:
                    return

    def _unwrap(self, kind: str, value: Any) -> Any:
        if kind == "error":
            raise value
        self.credits.release()
        return value

    # -- reader thread ---------------------------------------------------------------
    def _read(self, items: Iterator[Any]) -> None:
        index = 0
        while True:
            self.credits.acquire()
            if self.stopping.is_set():
                return
            try:
                item = next(items)
            except StopIteration:
                self.results.put((index, "end", None))
                return
            except BaseException as exc:  # a bad input line: the caller raises it in order
                self.results.put((index, "error", exc))
                self.results.put((index + 1, "end", None))
                return
            self._submit(index, item)
            index += 1

    def _submit(self, index: int, item: Any) -> None:
        try:
            self.loop.call_soon_threadsafe(self._start, index, item)
        except RuntimeError:  # the loop closed under us: we are shutting down
            self.stopping.set()

    # -- loop thread -----------------------------------------------------------------
    def _loop_main(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.slots = asyncio.Semaphore(self.concurrency)
        self.loop.run_forever()

    def _start(self, index: int, item: Any) -> None:
        task = self.loop.create_task(self._call(index, item))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _call(self, index: int, item: Any) -> None:
        assert self.slots is not None
        async with self.slots:
            try:
                result = await self.fn(item)
            except asyncio.CancelledError:
                raise
            except BaseException as exc:
                self.results.put((index, "error", exc))
                return
        self.results.put((index, "ok", result))

    async def _stop_tasks(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        if self.tasks:
            await asyncio.gather(*self.tasks, return_exceptions=True)
        await _close_loop_resources()

    def _shutdown(self, loop_thread: threading.Thread) -> None:
        self.stopping.set()
        self.credits.release()  # wake the reader (its only waiter) so it sees `stopping`
        if not self.loop.is_closed():
            try:
                done = asyncio.run_coroutine_threadsafe(self._stop_tasks(), self.loop)
                done.result(timeout=10)
            except Exception:
                pass
            self.loop.call_soon_threadsafe(self.loop.stop)
        loop_thread.join(timeout=10)
        if not loop_thread.is_alive():
            self.loop.close()
