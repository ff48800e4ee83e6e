"""`ltrl walk` as a user runs it: JSONL on stdout, pipes, --starts, errors."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import ROOT, jsonl, run_ltrl, to_jsonl


def test_walks_are_jsonl_with_a_summary(demo_index):
    result = run_ltrl("walk", "--index", str(demo_index), "-n", "5", "--seed", "4")
    assert result.returncode == 0, result.stderr
    records = jsonl(result.stdout)
    assert len(records) == 5 and all(len(r["path"]) == 9 for r in records)
    assert all("anchor" in hop for r in records for hop in r["path"][1:])
    assert result.stderr.decode().startswith("walk: 5 walks")


def test_stdin_is_not_read_without_starts(demo_index):
    result = run_ltrl("walk", "--index", str(demo_index), "-n", "2", "--no-anchors", input=b"not json\n")
    assert result.returncode == 0, result.stderr
    assert len(jsonl(result.stdout)) == 2


def test_head_closes_the_pipe_quietly(demo_index):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = f"set -o pipefail; {sys.executable} -m ltrl_cli walk --index {demo_index} -n 3000 | head -1"
    result = subprocess.run(["bash", "-c", cmd], capture_output=True, env=env, timeout=120)
    assert result.returncode == 0
    assert result.stderr == b""
    assert len(jsonl(result.stdout)) == 1


def test_starts_from_stdin(demo_pages, demo_index):
    starts = to_jsonl([{"title": demo_pages[3]["wikipedia_title"]}, {"id": demo_pages[8]["wikipedia_id"]}])
    result = run_ltrl("walk", "--index", str(demo_index), "--starts", "-", "--per-start", "2", "--hops", "3",
                      "--no-anchors", input=starts)
    assert result.returncode == 0, result.stderr
    records = jsonl(result.stdout)
    assert [r["path"][0]["id"] for r in records] == ["4", "4", "9", "9"]
    assert all(len(r["path"]) == 4 for r in records)


def test_unknown_start_names_its_line(demo_index):
    starts = b'{"title": "' + b'x' * 3 + b'"}\n'
    good = b'{"id": "1"}\n'
    result = run_ltrl("walk", "--index", str(demo_index), "--starts", "-", "--no-anchors", input=good + starts)
    assert result.returncode == 1
    assert result.stderr.decode().strip().endswith("ltrl walk: line 2: no page titled 'xxx' in the index")
    skipped = run_ltrl("walk", "--index", str(demo_index), "--starts", "-", "--no-anchors", "--skip-bad",
                       input=good + starts + b"[1]\n")
    assert skipped.returncode == 0 and len(jsonl(skipped.stdout)) == 1
    assert b"skipping line 2: no page titled 'xxx'" in skipped.stderr and b"2 skipped" in skipped.stderr


def test_a_50_mb_title_costs_one_short_line_on_stderr(demo_index):
    title = "Ada " * (50 * 2**20 // 4)  # 50 MB: a value is quoted, never copied whole
    starts = b'{"id": "1"}\n{"title": "' + title.encode() + b'"}\n'
    for extra in ([], ["--skip-bad"]):  # the error and the skip warning
        result = run_ltrl("walk", "--index", str(demo_index), "--starts", "-", "--no-anchors", *extra, input=starts)
        assert result.returncode == (0 if extra else 1)
        assert len(result.stderr) < 1000, result.stderr[:1000]
        line = result.stderr.decode().splitlines()[0]
        assert line.startswith(("ltrl walk: line 2: no page titled 'Ada Ada", "skipping line 2: no page titled 'Ada"))
        assert line.endswith("Ada ' in the index") and "characters ...]" in line


def test_missing_index(tmp_path):
    result = run_ltrl("walk", "--index", str(tmp_path / "none"))
    assert result.returncode == 1 and result.stdout == b""
    assert result.stderr.decode().strip() == (
        f"ltrl walk: index {tmp_path / 'none'} not found; build one with: ltrl index FILE -o DIR")


def test_starts_from_a_file_name_the_file_in_errors(demo_index, tmp_path):
    starts = tmp_path / "starts.jsonl"
    starts.write_bytes(b'{"id": "2"}\n{"title": "No such page"}\n')
    result = run_ltrl("walk", "--index", str(demo_index), "--starts", str(starts), "--no-anchors")
    assert result.returncode == 1 and len(jsonl(result.stdout)) <= 1
    assert result.stderr.decode().strip() == f"ltrl walk: {starts}: line 2: no page titled 'No such page' in the index"
    missing = run_ltrl("walk", "--index", str(demo_index), "--starts", str(tmp_path / "none.jsonl"))
    assert missing.returncode == 1 and b"none.jsonl: No such file or directory" in missing.stderr
