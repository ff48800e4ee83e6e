"""`ltrl score --serve`: the method's reward over HTTP, a drop-in for the authors' reward
server (the `remote_rm` of their slime fork) and for any trainer that can POST JSON.

    POST /evaluate        one response, the authors' rules -> {"reward", "outcome_reward", "rubric_reward"}
    POST /evaluate_group  one group, ltrl's shaping       -> {"rewards": [...]}
    GET  /health          -> {"status": "ok", counts...}

What the rules are: evaluate.py (`/evaluate`) and service.py (`/evaluate_group`). This
module is the HTTP side, built to stay up under load and abuse:

- parsing and rubric search run off the event loop (worker threads for `/evaluate`, worker
  processes for `/evaluate_group`, whose 20 MB body alone holds the GIL for ~0.2 s while it
  is decoded), so `/health` and light requests are answered while a large group is scored;
- a body over `max_body` bytes is answered 413 before it is read;
- a connection that has not sent a whole request head within `header_timeout` seconds of
  connecting (or of its last answer) is closed; a body not received within `body_timeout`
  seconds is answered 408 and the connection closed;
- a client that goes away costs one debug line (shown with -v), never a traceback;
- errors are one line of JSON (`{"error": ...}`) and never name the judge's endpoint.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
import tempfile
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import orjson

from ltrl_cli import console
from ltrl_cli.reward.evaluate import BadRequest
from ltrl_cli.reward.judge import Judge
from ltrl_cli.reward.scoring import ScoreOptions
from ltrl_cli.reward.service import JudgeFailed, RewardService, Spooled

EXIT_ON_SIGNAL = {signal.SIGINT: 130, signal.SIGTERM: 143}


@dataclass(frozen=True)
class Limits:
    """What a client may cost the server."""

    max_body: int = 64 * 1024 * 1024  # bytes; a history with a 128K-token prompt is ~1 MB
    header_timeout: float = 30.0  # seconds to send a request head (also the keep-alive idle time)
    body_timeout: float = 60.0  # seconds to send the body once the head is in
    workers: int = 2  # threads (/evaluate) and processes (/evaluate_group) for parsing and rubric search


def _quiet_worker() -> None:
    """A worker process leaves Ctrl-C to the server (the terminal signals the whole group)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


SPOOL_OVER = 1024 * 1024  # a group body larger than this goes to its worker process through a file


async def spool_body(request: Any, size: int) -> Spooled:
    """Write a large body to a temporary file chunk by chunk, as it arrives.

    Gathering 20 MB into one bytes object, and pickling it to a worker process, are single
    copies that hold the GIL for 0.1-0.3 s on a busy machine: every other client waits.
    Chunks are small copies, the write system calls release the GIL, and the worker reads
    the file itself.
    """
    directory = "/dev/shm" if os.path.isdir("/dev/shm") else None  # memory-backed where there is one
    handle, path = tempfile.mkstemp(prefix="ltrl-body-", dir=directory)
    spooled = Spooled(path)
    try:
        with os.fdopen(handle, "wb") as out:
            async for chunk in request.content.iter_chunked(256 * 1024):
                out.write(chunk)
        return spooled
    except BaseException:
        spooled.remove()
        raise


def make_app(service: RewardService, limits: Limits = Limits()) -> Any:
    """The aiohttp application for a RewardService."""
    from aiohttp import web

    def reply(data: dict, status: int = 200, *, close: bool = False) -> web.Response:
        response = web.Response(body=orjson.dumps(data), status=status, content_type="application/json")
        if close:  # the rest of the body is not read: the connection cannot carry another request
            response.force_close()
        return response

    async def read_body(request: web.Request, spool: bool = False) -> bytes | Spooled | web.Response:
        size = request.content_length
        if size is not None and size > limits.max_body:
            service.counts["too_large"] += 1  # answered before the body is read
            return reply({"error": f"body of {size:,} bytes is over the limit of {limits.max_body:,} "
                                   f"(--max-body-mb)"}, 413, close=True)
        try:
            if spool and size is not None and size > SPOOL_OVER:
                return await asyncio.wait_for(spool_body(request, size), limits.body_timeout)
            return await asyncio.wait_for(request.read(), limits.body_timeout)
        except web.HTTPRequestEntityTooLarge:  # chunked bodies have no length up front
            service.counts["too_large"] += 1
            return reply({"error": f"body over the limit of {limits.max_body:,} bytes (--max-body-mb)"}, 413,
                         close=True)
        except asyncio.TimeoutError:
            service.counts["timed_out"] += 1
            return reply({"error": f"body not received within {limits.body_timeout:g}s"}, 408, close=True)

    async def evaluate(request: web.Request, group: bool) -> web.Response:
        service.counts["requests"] += 1
        try:
            raw = await read_body(request, spool=group and service.processes is not None)
            if isinstance(raw, web.Response):
                return raw
            try:
                score = service.evaluate_group if group else service.evaluate
                return reply(await score(raw))
            finally:
                if isinstance(raw, Spooled):
                    raw.remove()
        except BadRequest as exc:
            service.counts["bad_requests"] += 1
            return reply({"error": str(exc)}, 400)
        except JudgeFailed as exc:
            service.counts["judge_failures"] += 1
            return reply({"error": f"no verdict: {exc}"}, 502)
        except (ConnectionError, asyncio.CancelledError) as exc:
            # The client left mid-request (aiohttp raises ClientConnectionResetError, a
            # ConnectionError): one debug line, not a traceback on every disconnect.
            service.counts["disconnected"] += 1
            if console.is_verbose():
                console.info(f"score: client {request.remote} left mid-request ({type(exc).__name__})")
            raise
        except Exception as exc:  # a bug: one line here and to the client, the server goes on
            service.counts["internal_errors"] += 1
            console.warn(f"score: internal error on {request.path}: {type(exc).__name__}: {exc} "
                         "(run with -v for the traceback)")
            if console.is_verbose():
                import traceback

                traceback.print_exc()
            return reply({"error": f"internal error ({type(exc).__name__})"}, 500)

    async def one(request: web.Request) -> web.Response:
        return await evaluate(request, group=False)

    async def many(request: web.Request) -> web.Response:
        return await evaluate(request, group=True)

    async def health(request: web.Request) -> web.Response:
        o = service.options
        return reply({"status": "ok", "judge": service.judge.name, "judge_model": getattr(service.judge, "model", None),
                      "on_judge_error": service.on_judge_error, "mode": o.mode, "alpha": o.alpha,
                      "rubric_on": o.rubric_on, "max_body": limits.max_body, **service.counts})

    app = web.Application(client_max_size=limits.max_body)
    app.router.add_post("/evaluate", one)
    app.router.add_post("/evaluate_group", many)
    app.router.add_get("/health", health)
    return app


async def start(service: RewardService, host: str = "127.0.0.1", port: int = 0,
                limits: Limits = Limits()) -> tuple[Any, int]:
    """Start serving on the running loop; returns (runner, the bound port). Stop with runner.cleanup()."""
    import logging

    from aiohttp import web

    # aiohttp logs a traceback for each connection a client drops mid-body; the handler
    # already counts those, so its server logger only speaks when asked to (-v).
    logging.getLogger("aiohttp.server").setLevel(logging.DEBUG if console.is_verbose() else logging.CRITICAL)
    # keepalive_timeout closes a connection whose handler waits for a request head for this
    # long, from the connection's start or from its last answer: with it, a client that
    # dribbles a head (or never sends one) is dropped after `header_timeout`.
    runner = web.AppRunner(make_app(service, limits), access_log=None, keepalive_timeout=limits.header_timeout)
    await runner.setup()
    site = web.TCPSite(runner, host, port, backlog=1024)
    await site.start()
    bound = runner.addresses[0][1]  # the real port when 0 was asked for
    return runner, bound


def serve_forever(judge: Judge, options: ScoreOptions, *, host: str = "127.0.0.1", port: int = 8000,
                  concurrency: int = 64, on_judge_error: str = "error", limits: Limits = Limits()) -> int:
    """Serve until SIGINT or SIGTERM; returns the exit code for that signal (130 or 143)."""
    from ltrl_cli.errors import LtrlError
    from ltrl_cli.concurrency import run_sync

    workers = ThreadPoolExecutor(limits.workers, thread_name_prefix="ltrl-reward")
    processes = ProcessPoolExecutor(limits.workers, mp_context=multiprocessing.get_context("spawn"),
                                    initializer=_quiet_worker)
    service = RewardService(judge, options, concurrency, on_judge_error=on_judge_error, workers=workers,
                            processes=processes)
    received: list[int] = []

    async def main() -> None:
        loop = asyncio.get_running_loop()
        # Start the worker processes now (a spawned worker imports ltrl first), not on the
        # first group a trainer sends.
        await asyncio.gather(*(loop.run_in_executor(processes, int) for _ in range(limits.workers)))
        try:
            runner, bound = await start(service, host, port, limits)
        except OSError as exc:
            raise LtrlError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
        stop = asyncio.Event()
        for sig in EXIT_ON_SIGNAL:
            loop.add_signal_handler(sig, lambda s=sig: (received.append(s), stop.set()))
        # Tests and scripts that pass --port 0 read the port from this line.
        console.warn(f"ltrl score: serving rewards on http://{host}:{bound} (judge {judge.name}, on judge error "
                     f"{on_judge_error}); Ctrl-C to stop")
        try:
            await stop.wait()
        finally:
            await runner.cleanup()

    try:
        run_sync(main())
    finally:
        workers.shutdown(wait=False, cancel_futures=True)
        processes.shutdown(wait=True, cancel_futures=True)
    c = service.counts
    console.info(f"score: served {c['requests']:,} requests, {c['bad_requests']:,} bad, {c['judge_failures']:,} "
                 f"without a verdict, {c['judge_failures_zeroed']:,} scored 0 without a verdict, {c['too_large']:,} "
                 f"too large, {c['timed_out']:,} timed out, {c['disconnected']:,} clients gone")
    return EXIT_ON_SIGNAL[received[0]] if received else 0
