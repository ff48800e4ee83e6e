"""`ltrl score --serve` over real HTTP: a server subprocess on a free port, real requests."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.conftest import ROOT
from tests.fake_openai import FakeOpenAI, Reply, completion


class Server:
    """`ltrl score --serve --port 0 ARGS` in a subprocess; the port is read from its stderr."""

    def __init__(self, *args: str):
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.proc = subprocess.Popen([sys.executable, "-m", "ltrl_cli", "score", "--serve", "--port", "0", *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        self.stderr: list[str] = []
        line = self.proc.stderr.readline().decode()  # blocks until the server is listening (or died)
        self.stderr.append(line)
        match = re.search(r"http://127\.0\.0\.1:(\d+)", line)
        if not match:
            self.proc.kill()
            raise AssertionError(f"server did not start: {line}{self.proc.stderr.read().decode()}")
        self.url = f"http://127.0.0.1:{match.group(1)}"

    def post(self, path: str, body) -> tuple[int, dict]:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=30) as reply:
                return reply.status, json.loads(reply.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())

    def get(self, path: str) -> tuple[int, dict]:
        with urllib.request.urlopen(self.url + path, timeout=30) as reply:
            return reply.status, json.loads(reply.read())

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=20)
        self.stderr.append(self.proc.stderr.read().decode())
        return code


@pytest.fixture(scope="module")
def server():
    srv = Server("--judge", "contains")
    yield srv
    srv.stop()


def body(**overrides):
    base = {"label": "Paris",
            "extra_reward_info": {"question": "Which city?", "rubrics": ["France", "Seine"],
                                  "rubric_reward_ratio": 0.3, "rubric_use_content": True,
                                  "rubric_use_reasoning_content": False},
            "response": "<think>by the Seine</think>Paris, in France"}
    base.update(overrides)
    return base


def test_health(server):
    status, data = server.get("/health")
    assert status == 200 and data["status"] == "ok" and data["judge"] == "contains"


def test_evaluate_response(server):
    status, data = server.post("/evaluate", body())
    assert status == 200
    assert (data["outcome_reward"], data["rubric_reward"]) == (1.0, 0.5)
    assert data["reward"] == pytest.approx(0.7 + 0.3 * 0.5)  # raw rubric: the trainer shapes groups


def test_evaluate_history_with_reasoning_content(server):
    history = [{"role": "user", "content": "long context..."},
               {"role": "assistant", "content": "Paris", "reasoning_content": "France, by the Seine"}]
    request = body(history=history, extra_reward_info={"rubrics": ["France", "Seine"], "rubric_reward_ratio": 0.5,
                                                       "rubric_use_content": False,
                                                       "rubric_use_reasoning_content": True})
    del request["response"]
    status, data = server.post("/evaluate", request)
    assert status == 200 and (data["outcome_reward"], data["rubric_reward"], data["reward"]) == (1.0, 1.0, 1.0)


def test_evaluate_wrong_answer_and_no_content(server):
    status, data = server.post("/evaluate", body(response="</think>Lyon, France"))
    assert status == 200 and (data["reward"], data["outcome_reward"], data["rubric_reward"]) == (0.0, 0.0, 0.5)
    status, data = server.post("/evaluate", body(response="<think>Paris Paris Paris"))
    assert status == 200 and data["reward"] == 0.0 and data["malformed"] and data["empty_content"]


def test_evaluate_rubric_switches_off(server):
    info = {"rubrics": ["France"], "rubric_use_content": False, "rubric_use_reasoning_content": False}
    status, data = server.post("/evaluate", body(extra_reward_info=info))
    assert status == 200 and data["rubric_reward"] == 0.0 and data["reward"] == pytest.approx(0.7)


def test_evaluate_group_normalises(server):
    request = body(responses=["</think>Paris", "</think>Paris, France", "</think>Paris, France, Seine"])
    del request["response"]
    status, data = server.post("/evaluate_group", request)
    assert status == 200
    rewards = data["rewards"]
    assert [r["rubric_reward"] for r in rewards] == [0.0, 0.5, 1.0]
    assert [r["rubric_reward_normalized"] for r in rewards] == [0.0, 0.5, 1.0]
    request["responses"] = ["</think>Paris", "</think>Paris, France"]
    _, data = server.post("/evaluate_group", request)
    assert [r["rubric_reward_normalized"] for r in data["rewards"]] == [0.0, 1.0]
    assert [r["reward"] for r in data["rewards"]] == pytest.approx([0.7, 1.0])


@pytest.mark.parametrize("path, request_body, message", [
    ("/evaluate", b"{not json", "not valid JSON"),
    ("/evaluate", b"[1, 2]", "body must be a JSON object"),
    ("/evaluate", {"response": "</think>x"}, "missing field 'label'"),
    ("/evaluate", {"label": "x"}, "missing field 'history'"),
    ("/evaluate", {"label": "x", "response": "a", "extra_reward_info": {"rubrics": "France"}}, "list of strings"),
    ("/evaluate", {"label": "x", "response": "a", "extra_reward_info": {"rubrics": [], "rubric_reward_ratio": 2}},
     "rubric_reward_ratio"),
    ("/evaluate", {"label": "x", "response": "a", "extra_reward_info": {}}, "missing field 'extra_reward_info.rubrics'"),
    ("/evaluate", {"label": "x", "history": [{"role": "user", "content": "q"}]}, "must be the assistant's"),
    ("/evaluate_group", {"label": "x", "responses": []}, "non-empty list"),
    ("/evaluate_group", {"label": "x", "response": "a"}, "missing field 'responses'"),
])
def test_bad_requests_get_400_with_a_message(server, path, request_body, message):
    status, data = server.post(path, request_body)
    assert status == 400 and message in data["error"]


def test_rubric_ratio_zero_needs_no_rubrics(server):
    status, data = server.post("/evaluate", {"label": "Paris", "response": "</think>Paris",
                                             "extra_reward_info": {"rubric_reward_ratio": 0}})
    assert status == 200 and data["reward"] == 1.0


def test_judge_failure_is_a_502_and_concurrency_with_an_llm_judge():
    lock, state = threading.Lock(), {"now": 0, "peak": 0}

    def handler(request_body):
        prompt = request_body["messages"][0]["content"]
        if "FAIL" in prompt:
            return Reply({"error": {"message": "judge overloaded"}}, status=503)
        with lock:
            state["now"] += 1
            state["peak"] = max(state["peak"], state["now"])
        time.sleep(0.3)  # a slow judge: concurrent requests overlap here
        with lock:
            state["now"] -= 1
        return completion("correct: yes")

    with FakeOpenAI(handler) as judge:
        srv = Server("--judge", "llm", "--base-url", judge.base_url, "--model", "j", "--no-cache", "--max-retries", "1")
        try:
            status, data = srv.post("/evaluate", body(response="</think>FAIL"))
            assert status == 502 and "judge overloaded" in data["error"]
            requests = [body(response=f"</think>Paris {i}") for i in range(12)]
            with ThreadPoolExecutor(12) as pool:
                results = list(pool.map(lambda b: srv.post("/evaluate", b), requests))
            assert all(status == 200 and data["outcome_reward"] == 1.0 for status, data in results)
            assert state["peak"] > 1  # requests were judged concurrently
            _, health = srv.get("/health")
            assert health["judge_failures"] == 1 and health["judge_model"] == "j"
        finally:
            assert srv.stop() == 0
        assert "served 13 requests, 0 bad, 1 without a verdict" in srv.stderr[-1]
        assert "Unclosed" not in srv.stderr[-1] and "Traceback" not in srv.stderr[-1]


def test_port_in_use_is_one_line_and_exit_1(server):
    port = server.url.rsplit(":", 1)[1]
    result = subprocess.run([sys.executable, "-m", "ltrl_cli", "score", "--serve", "--port", port],
                            capture_output=True, env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=60)
    assert result.returncode == 1 and f"cannot listen on 127.0.0.1:{port}" in result.stderr.decode()


def test_doctests_pass():
    import doctest

    from ltrl_cli.reward import server as serve

    assert doctest.testmod(serve).failed == 0
