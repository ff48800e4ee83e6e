"""Ctrl-C and SIGTERM anywhere: every stage of a pipeline exits 130 or 143 (never 134, never a
Python fatal error or traceback), stdout ends on a whole line, and batch-shards.sh passes
the signal to its shards, waits for them and leaves none running. Each is tried at many
moments (seeded, so a failure can be replayed), a few runs at a time."""

from __future__ import annotations

import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.conftest import ROOT, default_sigint, jsonl, to_jsonl

CODES = {signal.SIGINT: 130, signal.SIGTERM: 143}
PARALLEL = 4


def _env() -> dict:
    return {**os.environ, "PYTHONPATH": str(ROOT), "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}


def _moments(seed: int, count: int, low: float, high: float) -> list[tuple[float, signal.Signals]]:
    rng = random.Random(seed)
    return [(rng.uniform(low, high), (signal.SIGINT, signal.SIGTERM)[i % 2]) for i in range(count)]


def _ended_by(code: int, sig: signal.Signals) -> bool:
    """Exit 130/143; or -N, killed the default way by a signal that came once the work was
    done, while the interpreter shut down (it restores the default handlers; a shell reports
    128+N, the same 130/143); or 0, done before the signal came."""
    return code in (CODES[sig], -sig, 0)


def _started(*pids: int, timeout: float = 60.0) -> None:
    """Wait until each process has its SIGTERM handler (read from /proc), i.e. ltrl's first
    line has run: a signal in the milliseconds before, while the interpreter itself starts,
    is Python's own to handle, not ltrl's. The moments count from here."""
    deadline = time.monotonic() + timeout
    for pid in pids:
        while time.monotonic() < deadline:
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except (FileNotFoundError, ProcessLookupError):
                break  # ended already, or no /proc: nothing to wait for
            caught = next((int(line.split()[1], 16) for line in status.splitlines() if line.startswith("SigCgt:")), 0)
            if caught >> (signal.SIGTERM - 1) & 1:
                break
            time.sleep(0.005)


def _clean(stderr: str) -> bool:
    """No fatal error and no traceback, but Python's own "Exception ignored in ..." note when
    the signal landed in a callback it runs (an import lock's), which cannot raise."""
    kept = re.sub(r"Exception ignored in: .*?\n(?:Traceback.*?\n(?:  .*\n)*)?[\w.]*(?:Interrupt|Terminated)\b.*\n?", "",
                  stderr)
    return "Fatal Python error" not in kept and "Traceback" not in kept


# ---------------------------------------------------------------- a pipeline


def _pipeline(index: Path, folder: Path, delay: float, sig: signal.Signals) -> list[str]:
    """walk | synth | search-agent, the signal to the whole process group as a terminal's
    Ctrl-C sends it; returns what is wrong (nothing: [])."""
    ltrl = [sys.executable, "-m", "ltrl_cli"]
    stages = [["walk", "--index", str(index), "-n", "8", "--seed", "5"],
              ["synth", "--index", str(index), "--backend", "template"],
              ["search-agent", "--index", str(index), "--backend", "lexical", "-k", "1", "--no-cache"]]
    out_path = folder / "out.jsonl"
    procs, upstream = [], subprocess.DEVNULL
    with open(out_path, "wb") as out:
        for number, args in enumerate(stages):
            group = {"process_group": 0} if not procs else {"process_group": procs[0].pid}
            proc = subprocess.Popen(ltrl + args, env=_env(), stdin=upstream,
                                    stdout=out if number == len(stages) - 1 else subprocess.PIPE,
                                    stderr=open(folder / f"{number}.err", "wb"), preexec_fn=default_sigint, **group)
            if upstream is not subprocess.DEVNULL:
                upstream.close()
            upstream = proc.stdout
            procs.append(proc)
        _started(*(proc.pid for proc in procs))
        time.sleep(delay)
        os.killpg(procs[0].pid, sig)
        codes = [proc.wait(timeout=120) for proc in procs]
    problems = []
    for number, (args, code) in enumerate(zip(stages, codes)):
        stderr = (folder / f"{number}.err").read_text(errors="replace")
        if not _ended_by(code, sig) or not _clean(stderr):
            problems.append(f"{args[0]} at {delay:.2f}s ({sig.name}): exit {code}: {stderr[-600:]}")
    data = out_path.read_bytes()
    if data and not data.endswith(b"\n"):
        problems.append(f"stdout cut mid-line at {delay:.2f}s ({sig.name})")
    jsonl(data)  # every line a whole record
    return problems


def test_a_pipeline_ends_130_or_143_at_any_moment(demo_index, tmp_path):
    moments = _moments(21, 12, 0.0, 6.0)
    folders = [tmp_path / f"run{i}" for i in range(len(moments))]
    for folder in folders:
        folder.mkdir()
    with ThreadPoolExecutor(PARALLEL) as pool:
        found = list(pool.map(lambda run: _pipeline(demo_index, *run), [(f, *m) for f, m in zip(folders, moments)]))
    assert [p for problems in found for p in problems] == []


# ---------------------------------------------------------------- batch-shards.sh


@pytest.fixture(scope="module")
def walks(demo_index) -> bytes:
    from ltrl_cli.backends.index import open_index
    from ltrl_cli.stages.walk import walk

    index = open_index(demo_index)
    try:
        return to_jsonl(list(walk(None, index=index, n=6, hops=3, seed=3)))
    finally:
        index.close()


def _shards(index: Path, walks: bytes, work: Path, delay: float, sig: signal.Signals) -> list[str]:
    """batch-shards.sh with 2 shards; SIGINT to its process group (Ctrl-C), SIGTERM to the
    script alone (kill, scancel); returns what is wrong."""
    work.mkdir()
    (work / "walks.jsonl").write_bytes(walks)
    env = {**_env(), "INDEX": str(index), "ROLLOUTS": "1", "TARGET_TOKENS": "6000"}
    script = subprocess.Popen(["bash", str(ROOT / "examples" / "batch-shards.sh"), str(work), "2"], env=env,
                              start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              preexec_fn=default_sigint)
    time.sleep(delay)
    if sig == signal.SIGINT:
        os.killpg(script.pid, sig)
    else:
        script.send_signal(sig)
    _, stderr = script.communicate(timeout=120)
    problems = []
    if script.returncode not in (CODES[sig], 0):
        problems.append(f"batch-shards.sh at {delay:.2f}s ({sig.name}): exit {script.returncode}: {stderr[-400:]!r}")
    try:
        os.killpg(script.pid, 0)  # every process the script started is in its group
        problems.append(f"batch-shards.sh at {delay:.2f}s ({sig.name}): processes left running")
        os.killpg(script.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    for path in sorted((work / "shards").glob("*")) if (work / "shards").is_dir() else []:
        text = path.read_bytes()
        if path.suffix in (".jsonl", ".partial"):  # a stage writes NAME.I.jsonl.partial, renamed when done
            if text and not text.endswith(b"\n"):
                problems.append(f"{path.name} cut mid-line at {delay:.2f}s ({sig.name})")
            jsonl(text)
        elif not _clean(text.decode(errors="replace")) or b"Aborted" in text:
            problems.append(f"{path.name} at {delay:.2f}s ({sig.name}): {text[-400:]!r}")
    return problems


def test_batch_shards_passes_the_signal_on_and_leaves_nothing_running(demo_index, walks, tmp_path):
    if shutil.which("bash") is None:
        pytest.skip("needs bash")
    moments = _moments(22, 8, 0.3, 9.0)
    runs = [(demo_index, walks, tmp_path / f"work{i}", *m) for i, m in enumerate(moments)]
    with ThreadPoolExecutor(PARALLEL) as pool:
        found = list(pool.map(lambda run: _shards(*run), runs))
    assert [p for problems in found for p in problems] == []


# ---------------------------------------------------------------- a line is never cut


def test_a_signal_while_a_line_is_written_waits_for_the_line():
    code = """
import io, os, signal, sys
from ltrl_cli import signals
from ltrl_cli.io import write_records
signals.install()

class Slow(io.RawIOBase):  # a write that the signal lands in the middle of
    def writable(self): return True
    def write(self, data):
        os.kill(os.getpid(), signal.SIGTERM)
        half = len(data) // 2
        sys.stdout.buffer.write(bytes(data[:half])); sys.stdout.flush()
        sys.stdout.buffer.write(bytes(data[half:])); sys.stdout.flush()
        return len(data)

out = io.BufferedWriter(Slow(), buffer_size=8)
try:
    write_records(({"id": i, "pad": "x" * 40} for i in range(100)), out)
except signals.Terminated:
    print("stopped", file=sys.stderr)
"""
    done = subprocess.run([sys.executable, "-c", code], env=_env(), capture_output=True, timeout=60)
    assert done.stderr.strip() == b"stopped"
    assert [r["id"] for r in jsonl(done.stdout)] == [0] and done.stdout.endswith(b"\n")


@pytest.mark.parametrize("where", ["at_fork", "del"])
@pytest.mark.parametrize("sig,exc", [(signal.SIGINT, "KeyboardInterrupt"), (signal.SIGTERM, "signals.Terminated")])
def test_a_signal_that_python_swallowed_is_raised_again(sig, exc, where):
    # A signal landing in code whose exceptions Python only prints ("Exception ignored in":
    # an at-fork hook, a __del__) let `ltrl index` run on to the end (the suite saw it in
    # logging's _releaseLock after a fork); it must stop the command at the next line.
    code = f"""
import os, signal, sys
from ltrl_cli import signals
signals.install()

def land():
    os.kill(os.getpid(), {int(sig)})
    for _ in range(1000): pass  # the handler runs in here

class Lands:
    def __del__(self): land()

os.register_at_fork(after_in_parent=land)
try:
    if "{where}" == "at_fork":
        if os.fork() == 0:
            os._exit(0)
    else:
        Lands()
    for _ in range(1000): pass
    print("ran on", file=sys.stderr)
except {exc}:
    print("stopped", file=sys.stderr)
"""
    done = subprocess.run([sys.executable, "-c", code], env=_env(), capture_output=True, timeout=60,
                          preexec_fn=default_sigint)
    assert done.stderr.decode().strip() == "stopped", done.stderr.decode()
