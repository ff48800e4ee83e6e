"""The test model server (tests/model_server.py) answers as vLLM does, and ltrl's model stages
get through every misbehaviour it schedules: walk | synth | search-agent | tier | assemble
against it ends with training records, and no answered request is sent twice."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import urllib.error
import urllib.request

import pytest

from tests.conftest import ROOT, SHARED_DATA, jsonl, run_ltrl
from tests.model_server import MODEL, Faults, ModelServer

# Every fault often enough that a run of a few dozen requests meets each of them.
MANY_FAULTS = Faults(server_error=0.08, rate_limit=0.06, retry_after="0.2", drop=0.05, cut=0.05, bad_arguments=0.15,
                     length=0.1)


def post(server: ModelServer, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(f"{server.base_url}/chat/completions", json.dumps(body).encode(),
                                     {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_models_chat_shape_usage_and_refusals():
    with ModelServer(faults=Faults.none(), max_model_len=200) as server:
        with urllib.request.urlopen(f"{server.base_url}/models", timeout=10) as reply:
            assert [m["id"] for m in json.loads(reply.read())["data"]] == [MODEL]
        status, body = post(server, {"model": MODEL, "messages": [{"role": "user", "content": "hello"}]})
        assert status == 200 and body["object"] == "chat.completion"
        assert body["choices"][0]["finish_reason"] == "stop" and body["choices"][0]["message"]["content"]
        assert body["usage"]["prompt_tokens"] > 0 and body["usage"]["completion_tokens"] > 0
        status, body = post(server, {"model": "other", "messages": [{"role": "user", "content": "x"}]})
        assert status == 404 and "does not exist" in body["message"]
        status, body = post(server, {"model": MODEL, "messages": [{"role": "user", "content": "x" * 2000}]})
        assert status == 400 and "maximum context length is 200 tokens" in body["message"]
        assert (server.stats["answered"], server.stats["rejected"], server.stats["repeats"]) == (1, 2, 0)
        post(server, {"model": MODEL, "messages": [{"role": "user", "content": "hello"}]})
        assert server.stats["repeats"] == 1


def test_standalone_prints_its_url_serves_and_stops_on_sigterm():
    process = subprocess.Popen([sys.executable, str(ROOT / "tests" / "model_server.py"), "--port", "0", "--no-faults"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        url = process.stdout.readline().decode().strip()
        assert url.startswith("http://127.0.0.1:") and url.endswith("/v1")
        with urllib.request.urlopen(f"{url}/models", timeout=10) as reply:
            assert json.loads(reply.read())["data"][0]["id"] == MODEL
        with urllib.request.urlopen(url.removesuffix("/v1") + "/stats", timeout=10) as reply:
            assert json.loads(reply.read()) == {}
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0


@pytest.fixture
def tiktoken_cache():
    if not (SHARED_DATA / "tiktoken").is_dir():
        pytest.skip(f"{SHARED_DATA / 'tiktoken'} not found")


@pytest.mark.slow
@pytest.mark.parametrize("protocol", ["tools", "tags"])
def test_the_model_stages_get_through_every_fault(demo_index, tmp_path, tiktoken_cache, protocol):
    model = ["--backend", "openai", "--model", MODEL, "--cache", str(tmp_path / "llm.sqlite"), "--concurrency", "8"]
    walks = run_ltrl("walk", "--index", str(demo_index), "-n", "16", "--hops", "4", "--seed", "3")
    with ModelServer(seed=1, faults=MANY_FAULTS, max_model_len=7800) as server:
        url = ["--base-url", server.base_url]
        questions = run_ltrl("synth", "--index", str(demo_index), *model, *url, input=walks.stdout)
        assert questions.returncode == 0, questions.stderr.decode()
        rollouts = run_ltrl("search-agent", "--index", str(demo_index), *model, *url, "-k", "3", "--judge", "llm",
                            "--protocol", protocol, "--page-words", "300", input=questions.stdout)
        assert rollouts.returncode == 0, rollouts.stderr.decode()
        stats = dict(server.stats)
    records = jsonl(rollouts.stdout)
    steps = [s for r in records for ro in r["rollouts"] for s in ro["steps"]]
    assert sum(r["agent"]["correct_rollouts"] for r in records) >= len(records), "most questions are solved"
    assert all(ro["stop"] in ("answered", "rejected") for r in records for ro in r["rollouts"])
    assert all(ro["tokens"]["prompt"] > 0 for r in records for ro in r["rollouts"]), "usage is read"
    faults = ["server_error", "rate_limit", "drop", "cut", "length"]
    if protocol == "tools":  # (tags open one page a turn: their prompts stay shorter)
        faults += ["bad_arguments", "context_length"]
        assert any(ro["stop"] == "rejected" for r in records for ro in r["rollouts"])
        assert any("not valid JSON" in (s.get("error") or "") for s in steps)
        assert any(len([s for s in ro["steps"] if s["action"] == "open" and s["turn"] == 2]) > 1
                   for r in records for ro in r["rollouts"]), "several tool calls in one turn"
    assert {f: stats.get(f"fault {f}", 0) > 0 for f in faults} == dict.fromkeys(faults, True), stats
    assert stats.get("repeats", 0) == 0, stats
    tiered = run_ltrl("tier", input=rollouts.stdout)
    train = run_ltrl("assemble", "--index", str(demo_index), "--target-tokens", "16384", input=tiered.stdout)
    assert train.returncode == 0, train.stderr.decode()
    assert len(jsonl(train.stdout)) >= len(records) // 2
