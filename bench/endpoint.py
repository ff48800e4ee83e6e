"""A fixed-delay OpenAI-compatible chat endpoint in a child process, for the benchmarks.

    from bench.endpoint import fixed_delay_endpoint

    with fixed_delay_endpoint(delay=0.5, reply="bench.bench_synth:answer") as base_url:
        ... OpenAIChat(base_url, ...) ...            # base_url = "http://127.0.0.1:PORT/v1"

The child (aiohttp, its own process, so that the client under test keeps its own CPU)
answers every POST /v1/chat/completions after `delay` seconds with `reply(body)`: `reply`
names a module-level function "module:function" taking the parsed request body and
returning the chat.completion body. The child runs with the repository root on PYTHONPATH
and imports that function itself. It listens on a free port with a large backlog (so that
hundreds of simultaneous connects are not refused) and no access log, prints its base URL
on stdout, and is killed when the `with` block ends (it also exits if its stdin closes,
that is, if the benchmark dies without cleaning up).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from pathlib import Path
from typing import Iterator

ROOT = Path(__file__).resolve().parent.parent
BACKLOG = 2048


@contextlib.contextmanager
def fixed_delay_endpoint(delay: float, reply: str) -> Iterator[str]:
    """Start the endpoint; yields its base URL (ending in /v1); kills it on exit."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    child = subprocess.Popen([sys.executable, "-m", "bench.endpoint", str(delay), reply], env=env,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        base_url = child.stdout.readline().strip()
        if not base_url.startswith("http://"):
            raise SystemExit(f"the benchmark endpoint did not start (exit status {child.poll()}; see stderr)")
        yield base_url
    finally:
        child.kill()
        child.wait()
        child.stdin.close()
        child.stdout.close()


# ---------------------------------------------------------------- the child


def serve(delay: float, reply: str) -> None:
    import asyncio
    import importlib

    from aiohttp import web

    module, _, name = reply.partition(":")
    make_reply = getattr(importlib.import_module(module), name)

    async def chat(request: web.Request) -> web.Response:
        body = await request.json()
        await asyncio.sleep(delay)
        return web.json_response(make_reply(body))

    async def main() -> None:
        app = web.Application(client_max_size=64 << 20)
        app.router.add_post("/v1/chat/completions", chat)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, backlog=BACKLOG)
        await site.start()
        port = runner.addresses[0][1]
        print(f"http://127.0.0.1:{port}/v1", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)  # until the parent goes
        await runner.cleanup()

    asyncio.run(main())


if __name__ == "__main__":
    serve(float(sys.argv[1]), sys.argv[2])
