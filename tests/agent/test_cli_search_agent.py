"""`ltrl search-agent` as a user runs it: subprocesses, the real index, a fake endpoint."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time


from tests.conftest import ROOT, jsonl, run_ltrl, to_jsonl
from tests.fake_openai import FakeOpenAI, Reply, completion

QUESTIONS = [{"id": f"q{i}", "question": q, "answer": "1879", "path": [{"id": "1"}]} for i, q in enumerate([
    "When was the astronomer of the northern region born?",
    "How many members does the glassmaking guild have?",
    "Where is the river that the cartographer wrote about located?",
    "When was the opera about shipbuilding published?",
])]


def scripted_agent(body: dict) -> dict:
    """A model that searches the question, opens the first result, cites it and answers."""
    turn = sum(m["role"] == "assistant" for m in body["messages"])
    last = body["messages"][-1]["content"] or ""
    if turn == 0:
        return completion(None, tool_calls=[{"name": "search", "arguments": {"query": body["messages"][1]["content"]}}])
    first = last.split("[id: ", 1)[1].split("]", 1)[0] if "[id: " in last else "0"
    if turn == 1:
        return completion(None, tool_calls=[{"name": "open", "arguments": {"id": first}}])
    return completion(None, tool_calls=[{"name": "cite", "arguments": {"ids": [first]}},
                                        {"name": "answer", "arguments": {"text": "in 1879"}}])


def openai_args(server: FakeOpenAI, *extra: str) -> list[str]:
    return ["--backend", "openai", "--base-url", server.base_url, "--model", "fake", "--max-retries", "0", *extra]


def test_lexical_run_writes_judged_rollouts(demo_index):
    result = run_ltrl("search-agent", "--index", str(demo_index), "-k", "2", input=to_jsonl(QUESTIONS[:3]))
    assert result.returncode == 0, result.stderr
    records = jsonl(result.stdout)
    assert [r["id"] for r in records] == ["q0", "q1", "q2"]
    for record in records:
        assert record["path"] == [{"id": "1"}], "input keys pass through"
        assert record["agent"]["backend"] == "lexical" and "not an LLM" in record["agent"]["model"]
        assert record["agent"]["protocol"] == "tags" and len(record["rollouts"]) == 2
        for rollout in record["rollouts"]:
            keys = {"steps", "seen", "opened", "cited", "answer", "correct", "judge", "tokens", "time_s"}
            assert keys <= set(rollout)
    assert b"search-agent: 3 in, 3 out," in result.stderr and b"6 rollouts" in result.stderr


def test_bad_input_and_bad_options(demo_index, tmp_path):
    bad = run_ltrl("search-agent", "--index", str(demo_index), input=b'{"id": "x", "answer": "y"}\n')
    assert bad.returncode == 1 and bad.stdout == b""
    assert bad.stderr.decode().strip().splitlines()[-1] == "ltrl search-agent: line 1: missing field 'question' (record 'x')"
    missing = run_ltrl("search-agent", "--index", str(tmp_path / "nope"), input=to_jsonl(QUESTIONS[:1]))
    assert missing.returncode == 1 and b"not found" in missing.stderr and b"ltrl index" in missing.stderr
    usage = run_ltrl("search-agent", "--index", str(demo_index), "--judge", "llm", input=b"")
    assert usage.returncode == 2 and b"--judge-base-url" in usage.stderr


def test_endpoint_failures_are_marked_reported_and_fail_the_run(demo_index):
    with FakeOpenAI(lambda body: Reply({"error": {"message": "down"}}, status=503)) as server:
        failed = run_ltrl("search-agent", "--index", str(demo_index), "-k", "2", "--no-cache",
                          *openai_args(server), input=to_jsonl(QUESTIONS[:2]))
        allowed = run_ltrl("search-agent", "--index", str(demo_index), "-k", "1", "--no-cache", "--allow-failures",
                           *openai_args(server), input=to_jsonl(QUESTIONS[:1]))
    assert failed.returncode == 1
    records = jsonl(failed.stdout)
    assert len(records) == 2, "failed questions are written, not dropped"
    assert all(r["stop"] == "error" and "503" in r["error"] for rec in records for r in rec["rollouts"])
    stderr = failed.stderr.decode()
    assert "question q0: 2 of 2 rollouts failed" in stderr and "4 rollouts of 2 questions failed" in stderr
    assert allowed.returncode == 0 and b"failed rollouts" in allowed.stderr


def test_a_shard_takes_its_share_of_the_questions(demo_index):
    from ltrl_cli.io import in_shard

    def answers_at_once(body):
        return completion(None, tool_calls=[{"name": "answer", "arguments": {"text": "1879"}}])

    with FakeOpenAI(answers_at_once) as server:
        result = run_ltrl("search-agent", "--index", str(demo_index), "-k", "1", "--shard", "1/2", "--no-cache",
                          *openai_args(server), input=to_jsonl(QUESTIONS))
    assert result.returncode == 0, result.stderr
    assert [r["id"] for r in jsonl(result.stdout)] == [q["id"] for q in QUESTIONS if in_shard(q["id"], (1, 2))]


def test_a_killed_run_resumes_from_the_cache(demo_index, tmp_path):
    cache = tmp_path / "llm.sqlite"
    slow = lambda body: Reply(scripted_agent(body), delay=0.05)  # noqa: E731
    args = ["search-agent", "--index", str(demo_index), "-k", "2", "--concurrency", "2", "--cache", str(cache)]
    with FakeOpenAI(slow) as server:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        proc = subprocess.Popen([sys.executable, "-m", "ltrl_cli", *args, *openai_args(server)], env=env,
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        proc.stdin.write(to_jsonl(QUESTIONS))
        proc.stdin.close()
        deadline = time.monotonic() + 120
        while len(server.requests) < 8 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        proc.stderr.close()
        asked_before = len(server.requests)
        assert 0 < asked_before < 24, "the kill came mid-run (4 questions x 2 rollouts x 3 turns = 24 requests)"
        server.requests.clear()
        rerun = run_ltrl(*args, *openai_args(server), input=to_jsonl(QUESTIONS))
        assert rerun.returncode == 0, rerun.stderr
        asked_again = len(server.requests)
    records = jsonl(rerun.stdout)
    assert [r["id"] for r in records] == [q["id"] for q in QUESTIONS]
    assert all(r["stop"] == "answered" and r["correct"] is True for rec in records for r in rec["rollouts"])
    assert asked_again <= 24 - (asked_before - 2), "answers received before the kill are not asked again"
    assert asked_again + sum(r["cached_turns"] for rec in records for r in rec["rollouts"]) == 24


# A stand-in for the vllm package with its habits: it logs to stdout, from this process and
# from an engine process it starts while the LLM is built (a child inherits fd 1).
FAKE_VLLM = '''
import subprocess, sys
from types import SimpleNamespace

print("INFO vllm imported")

class SamplingParams:
    def __init__(self, **params):
        self.params = params

class LLM:
    def __init__(self, model, **engine_args):
        print("INFO engine starting", flush=True)
        self.engine = subprocess.Popen([sys.executable, "-c", "print('INFO engine process log', flush=True)"])
        self.engine.wait()

    def chat(self, conversations, params, use_tqdm=False, tools=None):
        print("INFO generating", flush=True)
        done = SimpleNamespace(text="<answer>1879</answer>", finish_reason="stop", token_ids=[1, 2, 3])
        return [SimpleNamespace(outputs=[done], prompt_token_ids=[1] * 10) for _ in conversations]
'''


def test_an_in_process_engines_logs_never_reach_stdout(demo_index, tmp_path):
    (tmp_path / "vllm").mkdir()
    (tmp_path / "vllm" / "__init__.py").write_text(FAKE_VLLM)
    result = run_ltrl("search-agent", "--index", str(demo_index), "-k", "1", "--no-cache", "--backend", "vllm",
                      "--model", "m", input=to_jsonl(QUESTIONS[:2]), env={"PYTHONPATH": f"{tmp_path}{os.pathsep}{ROOT}"})
    assert result.returncode == 0, result.stderr
    assert [r["id"] for r in jsonl(result.stdout)] == ["q0", "q1"]  # records only
    for log in (b"vllm imported", b"engine starting", b"engine process log", b"generating"):
        assert log in result.stderr


def test_the_help_defaults_are_the_rollout_defaults():
    # The command names its defaults in --help without importing the agent (--help stays fast).
    from ltrl_cli.agent.rollout import Budgets
    from ltrl_cli.commands.search_agent import MAX_ROLLOUT_TOKENS, MAX_STEPS

    assert (MAX_STEPS, MAX_ROLLOUT_TOKENS) == (Budgets.max_steps, Budgets.max_rollout_tokens)
