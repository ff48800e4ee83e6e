"""Shared test helpers: run the real CLI in a subprocess, find ../shared/data, check JSONL."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"


def run_ltrl(*args: str, input: bytes | str | None = None, env: dict | None = None, timeout: float = 300,
             cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run `python -m ltrl_cli ARGS` the way a user's shell would; returns bytes stdout/stderr."""
    if isinstance(input, str):
        input = input.encode()
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "ltrl_cli", *args],
        input=input if input is not None else b"",
        capture_output=True,
        env=full_env,
        timeout=timeout,
        cwd=cwd,
    )


def default_sigint() -> None:
    """A child's preexec_fn: SIGINT at its default, as a terminal's Ctrl-C finds a command.

    A suite started in the background by a shell without job control (`make test &` in a
    script, some CI runners) runs with SIGINT ignored, and children inherit that; ltrl then
    leaves Ctrl-C ignored, as a user of `nohup` wants, and a test that sends SIGINT sees
    nothing happen."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def jsonl(stdout: bytes) -> list[dict]:
    """Parse stdout as JSONL, failing the test on any line that is not a JSON object."""
    records = []
    for number, line in enumerate(stdout.splitlines(), start=1):
        value = orjson.loads(line)
        assert isinstance(value, dict), f"stdout line {number} is not a JSON object: {line[:80]!r}"
        records.append(value)
    return records


def to_jsonl(records: list[dict]) -> bytes:
    return b"".join(orjson.dumps(r) + b"\n" for r in records)


@pytest.fixture
def shared_data() -> Path:
    """../shared/data, or a skip naming the missing path."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture
def wikispeedia(shared_data: Path) -> Path:
    path = shared_data / "wikispeedia-kilt.jsonl.gz"
    if not path.exists():
        pytest.skip(f"{path} not found")
    return path


@pytest.fixture(autouse=True)
def _offline_env(monkeypatch):
    # Tests never reach the network: tiktoken reads the shared cache, HF hubs stay offline.
    if (SHARED_DATA / "tiktoken").is_dir():
        monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(SHARED_DATA / "tiktoken"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    # Endpoint defaults a developer's shell may hold (ltrl_cli/llm/env.py) must not steer tests.
    for name in ("OPENAI_BASE_URL", "OPENAI_API_KEY", "LTRL_JUDGE_BASE_URL", "LTRL_JUDGE_MODEL", "LTRL_JUDGE_API_KEY"):
        monkeypatch.delenv(name, raising=False)


# ---- the demo corpus and an index of it, shared by every area's tests (helper H1) ----

DEMO_PAGES = 400
DEMO_SEED = 7


@pytest.fixture(scope="session")
def demo_pages() -> list[dict]:
    """400 pages of the embedded synthetic encyclopedia (seed 7), as KILT records."""
    from ltrl_cli.corpus import generate_demo

    return list(generate_demo(DEMO_PAGES, seed=DEMO_SEED))


@pytest.fixture(scope="session")
def demo_index(demo_pages, tmp_path_factory) -> Path:
    """Path of an index of `demo_pages`, built once per session by the real `ltrl index` code.

    Open it with `ltrl_cli.backends.index.open_index(demo_index)`, or pass it as `--index`.
    """
    from ltrl_cli.stages.index import build_index

    root = tmp_path_factory.mktemp("demo-index")
    source = root / "demo.jsonl"
    source.write_bytes(to_jsonl(demo_pages))
    build_index(source, root / "idx", threads=1)
    return root / "idx"


@pytest.fixture
def char_device(tmp_path) -> Path:
    """A character device made in the test: /dev/null's numbers under a new name (needs root)."""
    path = tmp_path / "null-device"
    rdev = os.stat("/dev/null").st_rdev
    try:
        os.mknod(path, 0o666 | stat.S_IFCHR, rdev)
    except PermissionError:
        pytest.skip("making a character device needs root (CAP_MKNOD)")
    return path


def read_fifo_in_background(path: Path):
    """Start a reader of the named pipe `path`; call the result to get all it read."""
    import threading

    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(path.read_bytes()), daemon=True)
    reader.start()

    def result(timeout: float = 60) -> bytes:
        reader.join(timeout)
        assert not reader.is_alive(), f"the reader of {path} is still waiting"
        return got[0]

    return result
