"""`make bench`'s opt-in row: `ltrl score --serve` beside the authors' published reward server
(launch_server.py), the same /evaluate request and the same fake judge endpoint for both.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from bench.common import ORDER, row


# What the authors' launch_server.py imports beyond the standard library, at the versions this
# bench was run with (it needs nothing else from their repository); installed only into the
# scratch virtual environment under the bench's work directory.
AUTHORS_DEPS = ("fastapi==0.165.0", "starlette==1.10.0", "pydantic==2.14.4", "uvicorn==0.54.0", "openai==3.57.0",
                "httpx==0.28.1")


def rows_server(work: Path, authors: Path | None, seconds: float) -> list[dict]:
    if authors is None:
        return [row("reward server, requests/s", "req/s", [], None, higher=True,
                    note="Skipped: the authors' server is measured only on request, from their published file "
                         "(`--authors-server PATH/launch_server.py`, or `make bench AUTHORS_SERVER=PATH`); it is "
                         "installed with its dependencies into a scratch virtual environment.")]
    import asyncio

    import bench.bench_score as score_bench
    from bench.endpoint import fixed_delay_endpoint

    authors = authors.resolve()
    python = authors_venv(work / "authors-venv")
    body = json.dumps({"label": "Paris", "response": "<think>" + score_bench.wiki_text(8000, 7) + "</think>Paris.",
                       "extra_reward_info": {"question": "Which city?", "dataset_name": "bench",
                                             "rubrics": ["France", "Seine", "Louvre", "Europe", "Napoleon"],
                                             "rubric_reward_ratio": 0.3, "rubric_use_content": True,
                                             "rubric_use_reasoning_content": True}}).encode()
    log_path = work / "authors-server.log"
    with fixed_delay_endpoint(0.2, reply=score_bench.VERDICT) as base_url, open(log_path, "wb") as log:
        ours = score_bench.Process([sys.executable, "-m", "ltrl_cli", "score", "--serve", "--port", "0", "--judge",
                                    "llm", "--base-url", base_url, "--model", "fixed", "--no-cache",
                                    "--concurrency", "200"], pattern=r"http://127\.0\.0\.1:(\d+)", stream="stderr")
        port = free_port()
        # Their server prints several lines a request on stdout (and uvicorn its access log): thrown away,
        # the cheapest place for them; stderr (start-up, tracebacks) is kept for a failure message.
        theirs = subprocess.Popen([str(python), str(authors), "--host", "127.0.0.1", "--port", str(port),
                                   "--base_url", base_url, "--api_key", "bench", "--model_name", "fixed"],
                                  cwd=authors.parent, stdout=subprocess.DEVNULL, stderr=log)
        try:
            wait_port(port, theirs, log_path)
            urls = {"ltrl": f"http://127.0.0.1:{ours.first}/evaluate", "peer": f"http://127.0.0.1:{port}/evaluate"}
            rewards = check_servers(urls, body, log_path)
            runs: dict[str, list[dict]] = {"ltrl": [], "peer": []}
            asyncio.run(score_bench.load(urls["ltrl"], 200, 2.0, body))  # warm-up, both
            asyncio.run(score_bench.load(urls["peer"], 200, 2.0, body))
            for who in ORDER:
                runs[who].append(asyncio.run(score_bench.load(urls[who], 200, seconds, body)))
        finally:
            ours.stop()
            theirs.terminate()
            theirs.wait(timeout=30)
    errors = {who: {} for who in runs}
    for who in runs:
        for r in runs[who]:
            for kind, n in r["errors"].items():
                errors[who][kind] = errors[who].get(kind, 0) + n
        if not all(r["requests"] for r in runs[who]):
            whose = "ltrl's" if who == "ltrl" else "the authors'"
            raise SystemExit(f"{whose} server answered no request in a run "
                             f"(errors: {errors[who]})")
    said = lambda e: ", ".join(f"{n:,} {kind}" for kind, n in sorted(e.items())) or "none"  # noqa: E731
    note = (f"The same request to both (label, an 8,000-character reasoning and a short answer, 5 rubrics, "
            f"rubric_reward_ratio 0.3), 200 clients for {seconds:.0f} s a run after 2 s of warm-up, one fake judge "
            f"endpoint for both answering \"correct: yes\" after 0.2 s (bench/endpoint.py); each server answered "
            f"{rewards} before timing. ltrl: `ltrl score --serve --judge llm --no-cache --concurrency 200`. Peer: "
            f"the authors' `launch_server.py` (FastAPI and uvicorn, {', '.join(AUTHORS_DEPS)}) in a scratch "
            f"virtual environment, its stdout to /dev/null. Failed requests (not counted in the rates): "
            f"ltrl {said(errors['ltrl'])}; authors {said(errors['peer'])}.")
    return [row("reward server, requests/s", "req/s", [r["rps"] for r in runs["ltrl"]],
                [r["rps"] for r in runs["peer"]], higher=True, note=note),
            row("reward server, p99 latency", "ms", [r["p99_ms"] for r in runs["ltrl"]],
                [r["p99_ms"] for r in runs["peer"]], higher=False)]


def authors_venv(venv: Path) -> Path:
    """A scratch virtual environment with AUTHORS_DEPS; its python."""
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    done = subprocess.run([str(python), "-m", "pip", "install", "-q", *AUTHORS_DEPS], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"installing the authors' server's dependencies ({' '.join(AUTHORS_DEPS)}) failed: "
                         f"{done.stderr[-2000:]}")
    return python


def check_servers(urls: dict[str, str], body: bytes, log_path: Path) -> str:
    """One request to each before timing: both must answer 200 with the same rewards, the judge's "yes"
    counted (outcome 1) and some rubric hit; returns those rewards, as said in the table."""
    import urllib.error
    import urllib.request

    got = {}
    for who, url in urls.items():
        request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=60) as reply:
                got[who] = json.loads(reply.read())
        except (urllib.error.URLError, OSError, ValueError) as exc:
            more = f"; its stderr ends: {tail(log_path)}" if who == "peer" else ""
            raise SystemExit(f"{url}: no reward for the bench's request ({exc}){more}")
    keys = ("reward", "outcome_reward", "rubric_reward")
    seen = {who: tuple(round(float(got[who].get(k, "nan")), 6) for k in keys) for who in got}
    if seen["ltrl"] != seen["peer"] or seen["ltrl"][1] != 1.0 or not seen["ltrl"][2] > 0:
        raise SystemExit(f"the two servers disagree on the bench's request, or the judge's verdict was not counted: "
                         f"ltrl {got['ltrl']}, authors {got['peer']}")
    return ", ".join(f"{k} {v:g}" for k, v in zip(keys, seen["ltrl"]))


def tail(path: Path, chars: int = 1500) -> str:
    return path.read_text(errors="replace")[-chars:].strip() or "(nothing)"


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, proc: subprocess.Popen, log_path: Path, seconds: float = 120) -> None:
    import socket

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the authors' server exited with status {proc.returncode} before opening port {port}; "
                             f"its stderr ends: {tail(log_path)}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.5)
    raise SystemExit(f"the authors' server did not open port {port} within {seconds:.0f} s; its stderr ends: "
                     f"{tail(log_path)}")
