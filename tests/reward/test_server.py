"""`ltrl score --serve` over real HTTP: a server subprocess on a free port, real requests."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
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
        match = None
        for _ in range(5):  # notes (a --profile's) come before the line saying where it listens
            line = self.proc.stderr.readline().decode()  # blocks until the server is listening (or died)
            self.stderr.append(line)
            match = re.search(r"http://127\.0\.0\.1:(\d+)", line)
            if match or not line:
                break
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
                                  "rubric_use_reasoning_content": False, "dataset_name": "longqa"},
            "response": "<think>by the Seine</think>Paris, in France"}
    base.update(overrides)
    return base


def test_health(server):
    status, data = server.get("/health")
    assert status == 200 and data["status"] == "ok" and data["judge"] == "contains"
    assert data["on_judge_error"] == "error" and data["max_body"] == 64 * 1024 * 1024


def test_evaluate_response(server):
    status, data = server.post("/evaluate", body())
    assert status == 200
    assert (data["outcome_reward"], data["rubric_reward"]) == (1.0, 0.5)
    assert data["reward"] == pytest.approx(0.7 + 0.3 * 0.5)  # raw rubric: the trainer shapes groups


def test_evaluate_history_as_slime_sends_it(server):
    history = [{"role": "user", "content": "long context..."},
               {"role": "assistant", "content": "Paris", "reasoning_content": "France, by the Seine"}]
    request = body(history=history)
    request["extra_reward_info"].update(rubric_reward_ratio=0.5, rubric_use_content=False,
                                        rubric_use_reasoning_content=True)
    del request["response"]
    status, data = server.post("/evaluate", request)
    assert status == 200 and (data["outcome_reward"], data["rubric_reward"], data["reward"]) == (1.0, 1.0, 1.0)
    history[-1] = {"role": "assistant", "truncated_content": "Paris"}  # a turn cut by the length limit
    status, data = server.post("/evaluate", request)
    assert status == 200 and (data["outcome_reward"], data["rubric_reward"], data["reward"]) == (0, 0, 0)


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
    ("/evaluate", {"label": "x", "extra_reward_info": {}}, "missing field 'history'"),
    ("/evaluate", {"label": "x", "response": "a", "extra_reward_info": {}},
     "missing field 'extra_reward_info.rubric_reward_ratio'"),
    ("/evaluate_group", {"label": "x", "responses": []}, "non-empty list"),
    ("/evaluate_group", {"label": "x", "response": "a"}, "missing field 'responses'"),
])
def test_bad_requests_get_400_with_one_line(server, path, request_body, message):
    status, data = server.post(path, request_body)
    assert status == 400 and message in data["error"] and "\n" not in data["error"]


def test_a_large_group_is_read_and_measured_in_a_worker(server):
    import glob

    spools = lambda: set(glob.glob("/dev/shm/ltrl-body-*")) | set(glob.glob("/tmp/ltrl-body-*"))  # noqa: E731
    before = spools()
    filler = "words " * 400
    request = body(responses=[f"<think>{filler}</think>Paris{', France' * (i % 2)} {filler}" for i in range(500)])
    del request["response"]
    assert len(json.dumps(request)) > 1024 * 1024  # over the spooling threshold
    with ThreadPoolExecutor(2) as pool:
        group = pool.submit(server.post, "/evaluate_group", request)
        health = pool.submit(server.get, "/health")
        status, data = group.result()
        assert health.result()[0] == 200
    assert status == 200 and len(data["rewards"]) == 500
    assert [r["rubric_reward"] for r in data["rewards"][:2]] == [0.0, 0.5]
    assert [r["reward"] for r in data["rewards"][:2]] == pytest.approx([0.7, 1.0])
    assert spools() <= before  # the spooled body is gone


def test_body_over_the_limit_is_413():
    srv = Server("--judge", "contains", "--max-body-mb", "0.01")
    try:
        status, data = srv.post("/evaluate", body(response="x" * 20_000))
        assert status == 413 and "--max-body-mb" in data["error"]
        status, _ = srv.post("/evaluate", body())
        assert status == 200
        assert srv.get("/health")[1]["too_large"] == 1
    finally:
        srv.stop()


def test_llm_judge_failure_502_without_the_url_then_zero_mode():
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
        return completion("extracted_final_answer: Paris\nreasoning: same\ncorrect: yes")

    with FakeOpenAI(handler) as judge:
        srv = Server("--judge", "llm", "--base-url", judge.base_url, "--model", "j", "--no-cache", "--max-retries", "1")
        try:
            status, data = srv.post("/evaluate", body(response="</think>FAIL"))
            assert status == 502 and "judge overloaded" in data["error"]
            port = judge.base_url.split(":")[2].split("/")[0]
            assert "127.0.0.1" not in data["error"] and port not in data["error"]
            requests = [body(response=f"</think>Paris {i}") for i in range(12)]
            with ThreadPoolExecutor(12) as pool:
                results = list(pool.map(lambda b: srv.post("/evaluate", b), requests))
            assert all(status == 200 and data["outcome_reward"] == 1.0 for status, data in results)
            assert state["peak"] > 1  # requests were judged concurrently
            _, health = srv.get("/health")
            assert health["judge_failures"] == 1 and health["judge_model"] == "j"
        finally:
            assert srv.stop() == 143
        assert "served 13 requests, 0 bad, 1 without a verdict" in srv.stderr[-1]
        assert "Unclosed" not in srv.stderr[-1] and "Traceback" not in srv.stderr[-1]

        srv = Server("--judge", "llm", "--base-url", judge.base_url, "--model", "j", "--no-cache", "--max-retries", "0",
                     "--on-judge-error", "zero")
        try:
            status, data = srv.post("/evaluate", body(response="</think>FAIL, France"))
            assert status == 200 and (data["outcome_reward"], data["reward"]) == (0.0, pytest.approx(0.15))
            _, health = srv.get("/health")
            assert health["judge_failures_zeroed"] == 1 and health["on_judge_error"] == "zero"
        finally:
            srv.stop()
        assert "no verdict" in srv.stderr[-1] and "127.0.0.1" not in srv.stderr[-1]


def test_profile_longtracerl_is_the_authors_server_in_one_switch(tmp_path):
    def handler(request_body):
        if "FAIL" in request_body["messages"][0]["content"]:
            return Reply({"error": {"message": "judge down"}}, status=503)
        return completion("extracted_final_answer: Paris\nreasoning: same\ncorrect: yes")

    with FakeOpenAI(handler) as judge:
        srv = Server("--profile", "longtracerl", "--base-url", judge.base_url, "--model", "j", "--no-cache",
                     "--max-retries", "0")
        try:
            note = srv.stderr[0]
            assert "profile longtracerl" in note and "--judge llm" in note and "--on-judge-error zero" in note
            assert "--judge-no-think thinking-disabled" in note and "ltrl's own wording" in note
            status, data = srv.post("/evaluate", body())
            assert status == 200 and data["outcome_reward"] == 1.0
            assert judge.requests[0]["thinking"] == {"type": "disabled"}
            assert "chat_template_kwargs" not in judge.requests[0]
            status, data = srv.post("/evaluate", body(response="</think>FAIL, France"))
            assert status == 200 and data["outcome_reward"] == 0.0  # a judge failure scores 0, as theirs
        finally:
            srv.stop()
        # their prompt when the user gives its file; a flag given wins over the profile
        prompt = tmp_path / "theirs.txt"
        prompt.write_text("Q: {question}\nA: {correct_answer}\nR: {response}\n")
        srv = Server("--profile", "longtracerl", "--judge-prompt-file", str(prompt), "--judge-no-think", "none",
                     "--base-url", judge.base_url, "--model", "j", "--no-cache")
        try:
            assert f"judge prompt from {prompt}" in srv.stderr[0] and "kept as given: --judge-no-think" in srv.stderr[0]
            srv.post("/evaluate", body(response="</think>Paris 2"))
            assert judge.requests[-1]["messages"][0]["content"].startswith("Q: Which city?\nA: Paris")
            assert "thinking" not in judge.requests[-1] and "chat_template_kwargs" not in judge.requests[-1]
        finally:
            srv.stop()


def _raw(srv: "Server") -> "socket.socket":
    host, port = srv.url.rsplit("/", 1)[1].split(":")
    return socket.create_connection((host, int(port)), timeout=10)


def test_stalled_clients_are_dropped_and_leavers_cost_no_traceback():
    srv = Server("--judge", "contains", "--header-timeout", "0.5", "--body-timeout", "0.5")
    try:
        stalled_head = _raw(srv)
        stalled_head.sendall(b"POST /evaluate HTTP/1.1\r\nHost: x\r\n")  # never finishes its head
        stalled_body = _raw(srv)
        stalled_body.sendall(b"POST /evaluate HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
        leaving = [_raw(srv) for _ in range(20)]
        for sock in leaving:  # a head and half a body, then gone
            sock.sendall(b"POST /evaluate HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{\"label\"")
            sock.close()
        assert stalled_head.recv(1000) == b""  # closed by the server, no answer
        answer = stalled_body.recv(1000)
        assert b" 408 " in answer.split(b"\r\n")[0] and b"not received within 0.5s" in answer
        assert srv.get("/health")[0] == 200  # still serving
    finally:
        code = srv.stop()
    assert code == 143
    assert "Traceback" not in srv.stderr[-1] and "Error handling request" not in srv.stderr[-1]


def test_sigint_exits_130():
    srv = Server("--judge", "contains")
    srv.proc.send_signal(signal.SIGINT)
    assert srv.proc.wait(timeout=20) == 130
    assert "Traceback" not in srv.proc.stderr.read().decode()


def test_port_in_use_is_one_line_and_exit_1(server):
    port = server.url.rsplit(":", 1)[1]
    result = subprocess.run([sys.executable, "-m", "ltrl_cli", "score", "--serve", "--port", port],
                            capture_output=True, env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=60)
    assert result.returncode == 1 and f"cannot listen on 127.0.0.1:{port}" in result.stderr.decode()


def test_doctests_pass():
    import doctest

    from ltrl_cli.reward import server, service

    assert doctest.testmod(server).failed == 0 and doctest.testmod(service).failed == 0
