"""`ltrl synth` as a user runs it: options, messages, exit codes, the openai backend against a
local server, and a run killed mid-way then resumed from the cache."""

from __future__ import annotations

import importlib.util
import os
import re
import signal
import subprocess
import sys

import orjson
import pytest
from typer.testing import CliRunner

from ltrl_cli.cli import app
from tests.conftest import ROOT, jsonl, to_jsonl
from tests.fake_openai import FakeOpenAI, Reply, completion

ATTRIBUTE = re.compile(r"^(Born|Died|Founded|Established|Published|Completed|Population|Members|Length|Elevation|"
                       r"Pages|Duration|Area): (.+)$", re.M)


@pytest.fixture(scope="module")
def walks(demo_index) -> list[dict]:
    """12 walks of 3 hops over the demo index, with distinct final pages."""
    from ltrl_cli.backends.index import open_index
    from ltrl_cli.stages.walk import walk

    index = open_index(demo_index)
    try:
        found, finals = [], set()
        for record in walk(None, index=index, n=60, hops=3, seed=11):
            final = record["path"][-1]["title"]
            if final not in finals and final not in {h["title"] for w in found for h in w["path"]}:
                finals.add(final)
                found.append(record)
        return found[:12]
    finally:
        index.close()


def synth_cli(*args: str, records: list[dict], env: dict | None = None):
    result = CliRunner().invoke(app, ["synth", *args], input=to_jsonl(records), env=env)
    return result


def writer_reply(body: dict) -> dict:
    """What a good model would answer: a question about an attribute line of the final page."""
    prompt = body["messages"][1]["content"]
    final = re.search(r"^Final page: (.+)$", prompt, re.M).group(1)
    text = prompt.split(f"Final page: {final}\n", 1)[1]
    key, value = ATTRIBUTE.search(text).groups()
    chain = re.findall(r"^\d+\. (.+?)(?: \(linked from .*)?$", prompt, re.M)
    question = f"Following the chain from its first page, what {key.lower()} is recorded for the last entity?"
    return completion(orjson.dumps({"question": question, "answer": value, "gold_entities": chain}).decode())


def final_of(body: dict) -> str:
    return re.search(r"^Final page: (.+)$", body["messages"][1]["content"], re.M).group(1)


# ---------------------------------------------------------------- template backend


def test_template_run_writes_labelled_questions(walks, demo_index):
    result = synth_cli("--index", str(demo_index), records=walks)
    assert result.exit_code == 0, result.stderr
    out = jsonl(result.stdout.encode())
    ids = [r["id"] for r in out]
    assert ids == [w["id"] for w in walks if w["id"] in set(ids)] and len(ids) >= 10  # input order
    for record in out:
        assert record["synth"]["backend"] == "template" and "not an LLM" in record["synth"]["model"]
        assert record["question"] and record["answer"] and record["gold_entities"]
    assert re.search(r"synth: 12 in, \d+ accepted", result.stderr)


def test_rejects_are_counted_by_reason_and_written_to_a_file(walks, demo_index, tmp_path):
    broken = {"id": "broken", "path": [{"id": "no-such-page", "title": "Nowhere"}, walks[0]["path"][1]]}
    rejects = tmp_path / "rejected.jsonl"
    result = synth_cli("--index", str(demo_index), "--rejects", str(rejects), "--shortcut-check",
                       records=[walks[0], broken])
    assert result.exit_code == 0, result.stderr
    assert [r["id"] for r in jsonl(result.stdout.encode())] == [walks[0]["id"]]
    assert "1 rejected (page_missing)" in result.stderr
    [rejected] = jsonl(rejects.read_bytes())
    assert rejected["id"] == "broken" and rejected["synth"]["reason"] == "page_missing"


def test_bad_input_names_the_line(walks, demo_index):
    result = CliRunner().invoke(app, ["synth", "--index", str(demo_index)],
                                input=to_jsonl(walks[:1]) + b'{"id": "x"}\n')
    assert result.exit_code == 1
    assert "ltrl synth: line 2: missing field 'path'" in result.stderr
    assert len(jsonl(result.stdout.encode())) == 1  # the good record before it was written whole


def test_option_errors(walks, demo_index, tmp_path):
    no_url = synth_cli("--index", str(demo_index), "--backend", "openai", "--model", "m", records=walks[:1])
    assert no_url.exit_code == 2 and "--backend openai needs --base-url" in no_url.stderr
    missing = synth_cli("--index", str(tmp_path / "nope"), records=walks[:1])
    assert missing.exit_code == 1 and "not found" in missing.stderr
    shard = synth_cli("--index", str(demo_index), "--shard", "3/2", records=walks[:1])
    assert shard.exit_code == 2 and "--shard" in shard.stderr


def test_vllm_backend_says_how_to_install_it(walks, demo_index):
    if importlib.util.find_spec("vllm") is not None:
        pytest.skip("vllm is installed")
    result = synth_cli("--index", str(demo_index), "--backend", "vllm", "--model", "m", records=walks[:1])
    assert result.exit_code == 1
    assert "--backend vllm needs the Python package 'vllm'" in result.stderr
    assert "pip install 'ltrl[vllm]'" in result.stderr


def test_shards_split_the_walks_without_overlap(walks, demo_index):
    seen = []
    for shard in ("0/2", "1/2"):
        result = synth_cli("--index", str(demo_index), "--shard", shard, records=walks)
        assert result.exit_code == 0, result.stderr
        out = jsonl(result.stdout.encode())
        seen += [r["id"] for r in out]
    assert len(seen) == len(set(seen))
    assert set(seen) <= {w["id"] for w in walks} and len(seen) >= 10


# ---------------------------------------------------------------- openai backend


def test_openai_backend_end_to_end_with_cache(walks, demo_index, tmp_path):
    cache = tmp_path / "llm.sqlite"
    args = ["--index", str(demo_index), "--backend", "openai", "--model", "writer-7b", "--cache", str(cache),
            "--concurrency", "4", "--temperature", "0.2"]
    with FakeOpenAI(writer_reply) as server:
        first = synth_cli(*args, "--base-url", server.base_url, records=walks[:5])
        assert first.exit_code == 0, first.stderr
        assert len(server.requests) == 5
        again = synth_cli(*args, "--base-url", server.base_url, records=walks[:5])
        assert len(server.requests) == 5  # all answered from the cache
    out, out_again = jsonl(first.stdout.encode()), jsonl(again.stdout.encode())
    assert [r["id"] for r in out] == [w["id"] for w in walks[:5]]
    for record in out:
        assert (record["synth"]["backend"], record["synth"]["model"]) == ("openai", "writer-7b")
        assert record["synth"]["accepted"] and not record["synth"]["cached"]
        assert record["gold_entities"] == [h["title"] for h in record["path"][:-1]]
    assert [r["synth"]["cached"] for r in out_again] == [True] * 5
    assert [r["question"] for r in out_again] == [r["question"] for r in out]
    assert "5 cached" in again.stderr
    # requests arrive in any order at concurrency 4: find walk 0's
    final_page = "Final page: " + walks[0]["path"][-1]["title"]
    body = next(b for b in server.requests[:5] if final_page in b["messages"][1]["content"])
    assert body["model"] == "writer-7b" and body["temperature"] == 0.2


def test_unreachable_endpoint_fails_with_one_clear_line(walks, demo_index, tmp_path):
    with FakeOpenAI(lambda body: Reply({"error": {"message": "overloaded"}}, status=503)) as server:
        result = synth_cli("--index", str(demo_index), "--backend", "openai", "--model", "m", "--base-url",
                           server.base_url, "--max-retries", "1", "--no-cache", records=walks[:2])
    assert result.exit_code == 1
    assert (f"ltrl synth: endpoint {server.base_url}/chat/completions unreachable after 2 tries: "
            "HTTP 503: overloaded") in result.stderr
    assert result.stdout == ""


def test_reasoning_model_think_blocks_are_stripped_and_kept_on_request(walks, demo_index):
    def thinking(body):
        reply = writer_reply(body)
        message = reply["choices"][0]["message"]
        message["content"] = "<think>The final page lists an attribute.</think>\n" + message["content"]
        return reply

    with FakeOpenAI(thinking) as server:
        result = synth_cli("--index", str(demo_index), "--backend", "openai", "--model", "m", "--base-url",
                           server.base_url, "--no-cache", "--keep-think", records=walks[:1])
    assert result.exit_code == 0, result.stderr
    [record] = jsonl(result.stdout.encode())
    assert record["synth"]["accepted"]
    assert record["synth"]["reasoning"] == "The final page lists an attribute."
    assert "<think>" not in record["question"]


# ---------------------------------------------------------------- kill and resume


def test_a_killed_run_resumes_without_asking_again(walks, demo_index, tmp_path):
    cache = tmp_path / "llm.sqlite"
    walks = walks[:8]
    # First run: the first 3 answers come quickly, later ones would take 30 s, so the kill
    # surely lands mid-run however loaded the machine is. The rerun is answered at once.
    delays = {"first": True}

    def slow_then_stuck(body, count):
        delay = (0.1 if count <= 3 else 30.0) if delays["first"] else 0.0
        return Reply(writer_reply(body), delay=delay)

    with FakeOpenAI(slow_then_stuck) as server:
        command = [sys.executable, "-m", "ltrl_cli", "synth", "--index", str(demo_index), "--backend", "openai",
                   "--base-url", server.base_url, "--model", "m", "--cache", str(cache), "--concurrency", "2"]
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        first = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 env=env)
        first.stdin.write(to_jsonl(walks))
        first.stdin.close()
        finished = [orjson.loads(first.stdout.readline()) for _ in range(2)]
        first.send_signal(signal.SIGTERM)
        rest = first.stdout.read()
        assert first.wait(timeout=60) == 143
        assert "ltrl synth: terminated" in first.stderr.read().decode()
        finished += jsonl(rest)  # whatever else was written before the signal, whole lines only
        asked_before = len(server.requests)
        assert 2 <= len(finished) <= 3

        delays["first"] = False

        second = subprocess.run(command, input=to_jsonl(walks), capture_output=True, env=env, timeout=120)
        assert second.returncode == 0, second.stderr.decode()
        asked_again = [final_of(body) for body in server.requests[asked_before:]]

    out = jsonl(second.stdout)
    assert [r["id"] for r in out] == [w["id"] for w in walks]  # all of them, once each, in order
    done_finals = {r["synth"]["final_entity"] for r in finished}
    assert not done_finals & set(asked_again)  # no finished record was asked for again
    assert len(asked_again) == len(set(asked_again)) <= len(walks) - len(finished)
    never_asked = {w["path"][-1]["title"] for w in walks} - {final_of(b) for b in server.requests[:asked_before]}
    assert never_asked <= set(asked_again)
    by_id = {r["id"]: r for r in out}
    for record in finished:
        assert by_id[record["id"]]["synth"]["cached"] is True
        assert by_id[record["id"]]["question"] == record["question"]
