"""Progress on long stages: a heartbeat line on stderr every --progress-every seconds when
stderr is not a terminal (done/total, rate, ETA, failures), nothing with -q, and stdout
the same records either way."""

from __future__ import annotations

import os
import re
import subprocess
import sys

from tests.conftest import ROOT, jsonl, run_ltrl, to_jsonl
from tests.fake_openai import FakeOpenAI, Reply
from tests.test_cli_synth import writer_reply

HEARTBEAT = re.compile(r"^synth: (\d+) of 4 done \(\d+%\)(, [\d.]+/s, \S+ left)?(, \d+ failed)?, \S+ so far$", re.M)


def _walks(demo_index) -> list[dict]:
    from ltrl_cli.backends.index import open_index
    from ltrl_cli.stages.walk import walk

    index = open_index(demo_index)
    try:
        return list(walk(None, index=index, n=4, hops=2, seed=9))
    finally:
        index.close()


def test_a_heartbeat_shows_how_far_a_batch_run_is_and_q_silences_it(demo_index, tmp_path):
    walks = _walks(demo_index)
    source = tmp_path / "walks.jsonl"
    source.write_bytes(to_jsonl(walks))  # a file on stdin: the total is known
    args = ["synth", "--index", str(demo_index), "--backend", "openai", "--model", "m", "--concurrency", "1",
            "--no-cache", "--no-chain-check"]
    with FakeOpenAI(lambda body: Reply(writer_reply(body), delay=0.4)) as server:
        with open(source, "rb") as stdin:  # `ltrl synth ... < walks.jsonl`, as a batch job runs it
            shown = subprocess.run([sys.executable, "-m", "ltrl_cli", *args, "--base-url", server.base_url,
                                    "--progress-every", "0.2"], stdin=stdin, capture_output=True,
                                   env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=300)
        quiet = run_ltrl(*args, "--base-url", server.base_url, "--progress-every", "0.2", "-q",
                         input=source.read_bytes())
    assert shown.returncode == 0 and quiet.returncode == 0, shown.stderr
    assert jsonl(shown.stdout) == jsonl(quiet.stdout) and len(jsonl(shown.stdout)) > 0  # stdout: records only
    stderr = shown.stderr.decode()
    beats = HEARTBEAT.findall(stderr)
    assert len(beats) >= 2, stderr
    assert [int(done) for done, *_ in beats] == sorted(int(done) for done, *_ in beats)
    assert quiet.stderr == b""


def test_the_total_is_counted_from_a_file_and_unknown_from_a_pipe(tmp_path):
    code = "import sys; from ltrl_cli.io import stdin_total; print(stdin_total(), stdin_total((0, 2)))"
    path = tmp_path / "in.jsonl"
    path.write_bytes(b'{"id": 1}\n{"id": 2}\n{"id": 3}')  # the last line without its newline
    env = {"PYTHONPATH": str(ROOT)}
    with open(path, "rb") as stdin:
        from_file = subprocess.run([sys.executable, "-c", code], stdin=stdin, capture_output=True, env=env)
    from_pipe = subprocess.run([sys.executable, "-c", code], input=path.read_bytes(), capture_output=True, env=env)
    assert from_file.stdout.split() == [b"3", b"2"] and from_pipe.stdout.split() == [b"None", b"None"]
