"""A dead or wrong endpoint fails fast, once, before the first record (exit 2); an outage
during a run stops the stage (exit 1) with every written record whole, and the rerun
resumes from the response cache. Every model stage: synth, search-agent (and its LLM
judge), score with an LLM judge, eval."""

from __future__ import annotations

import socket
import threading

import pytest

from tests.agent.test_cli_search_agent import QUESTIONS, scripted_agent
from tests.conftest import jsonl, run_ltrl, to_jsonl
from tests.eval.eval_fixtures import write_benchmark
from tests.fake_openai import FakeOpenAI, Reply, completion

GROUP = {"id": "g1", "label": "Paris", "rubrics": [], "question": "Capital of France?", "responses": ["</think>Paris"]}
WALK = {"id": "w1", "path": [{"id": "1", "title": "A"}, {"id": "2", "title": "B"}]}  # never read: the check is first


def dead_url() -> str:
    """A local port where nothing listens (connections are refused at once)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


def model_stage(name: str, url: str, demo_index, tmp_path, *extra: str):
    """Run one model stage against `url` (model 'm'), on one input record."""
    model = ["--base-url", url, "--model", "m", "--no-cache", *extra]
    if name == "synth":
        return run_ltrl("synth", "--index", str(demo_index), "--backend", "openai", *model, input=to_jsonl([WALK]))
    if name == "search-agent":
        return run_ltrl("search-agent", "--index", str(demo_index), "--backend", "openai", *model,
                        input=to_jsonl(QUESTIONS[:1]))
    if name == "search-agent judge":  # the offline agent, judged by an LLM at its own endpoint
        return run_ltrl("search-agent", "--index", str(demo_index), "--judge", "llm", "--judge-base-url", url,
                        "--judge-model", "m", "--no-cache", *extra, input=to_jsonl(QUESTIONS[:1]))
    if name == "score":
        return run_ltrl("score", "--judge", "llm", *model, input=to_jsonl([GROUP]))
    data, _ = write_benchmark("longbench-v2", tmp_path)
    return run_ltrl("eval", "-b", "longbench-v2", "--data", str(data), "-n", "1", *model)


STAGES = ["synth", "search-agent", "search-agent judge", "score", "eval"]


@pytest.mark.parametrize("stage", STAGES)
def test_nothing_answers_is_exit_2_with_one_line_naming_host_and_port(stage, demo_index, tmp_path):
    url = dead_url()
    result = model_stage(stage, url, demo_index, tmp_path)
    assert result.returncode == 2, result.stderr
    assert result.stdout == b""
    [line] = result.stderr.decode().splitlines()
    where = url.split("//")[1].split("/")[0]
    flag = "--judge-base-url" if stage.endswith("judge") else "--base-url"
    endpoint = "judge endpoint" if stage.endswith("judge") else "endpoint"
    assert f"nothing answers at {endpoint} {where} (" in line and line.endswith(f"or fix {flag}"), line


@pytest.mark.parametrize("stage", STAGES)
def test_a_model_the_endpoint_does_not_serve_is_exit_2_naming_what_it_serves(stage, demo_index, tmp_path):
    with FakeOpenAI(lambda body: completion("unused"), models=("Qwen/Qwen3-8B", "other")) as server:
        result = model_stage(stage, server.base_url, demo_index, tmp_path)
    assert result.returncode == 2 and result.stdout == b""
    flag = "--judge-model" if stage.endswith("judge") else "--model"
    assert f"does not serve {flag} 'm'; it serves 'Qwen/Qwen3-8B', 'other'" in result.stderr.decode()
    assert server.requests == [] and server.model_checks == 1  # asked once, nothing generated


def test_the_key_is_never_shown_and_a_server_without_models_can_be_used(demo_index, tmp_path):
    secret = "sk-test-very-secret-key"
    unauthorized = Reply({"error": {"message": f"bad key {secret}"}}, status=401)
    with FakeOpenAI(lambda body: unauthorized, models_reply=unauthorized) as server:
        refused = run_ltrl("score", "--judge", "llm", "--base-url", server.base_url, "--model", "m",
                           "--api-key-env", "MY_KEY", "--no-cache", input=to_jsonl([GROUP]), env={"MY_KEY": secret})
    assert refused.returncode == 2 and b"refused the API key (HTTP 401); check --api-key-env" in refused.stderr
    assert secret.encode() not in refused.stderr

    verdict = completion("extracted_final_answer: Paris\ncorrect: yes")
    with FakeOpenAI(lambda body: verdict, models=None) as server:  # no GET /models: 404
        missing = run_ltrl("score", "--judge", "llm", "--base-url", server.base_url, "--model", "m", "--no-cache",
                           input=to_jsonl([GROUP]))
        skipped = run_ltrl("score", "--judge", "llm", "--base-url", server.base_url, "--model", "m", "--no-cache",
                           "--no-endpoint-check", input=to_jsonl([GROUP]))
    assert missing.returncode == 2
    assert b"answered GET /models with HTTP 404 (is --base-url the API root" in missing.stderr
    assert b"pass --no-endpoint-check" in missing.stderr
    assert skipped.returncode == 0, skipped.stderr
    assert jsonl(skipped.stdout)[0]["rewards"][0]["outcome_reward"] == 1.0


def test_an_outage_mid_run_stops_the_stage_and_the_rerun_resumes(demo_index, tmp_path):
    cache = str(tmp_path / "llm.sqlite")
    args = ["--index", str(demo_index), "--backend", "openai", "--model", "fake", "-k", "1", "--concurrency", "4",
            "--cache", cache, "--max-retries", "1", "--max-consecutive-failures", "2", "--outage-timeout", "0"]
    # q0 and q1 are answered (3 turns each); then the server drops every connection. All four
    # questions are in flight at once (4 calls), so the requests of q2 and q3 wait, holding
    # two of the calls, until q0 and q1 are done.
    answered, both_done = [], threading.Event()

    def first_two_then_gone(body):
        if any(q["question"] in body["messages"][1]["content"] for q in QUESTIONS[:2]):
            answered.append(1)
            if len(answered) == 6:
                both_done.set()
            return scripted_agent(body)
        both_done.wait(60)
        return Reply(drop=True, delay=0.3)  # after q1's last answer has gone out

    with FakeOpenAI(first_two_then_gone) as server:
        down = run_ltrl("search-agent", "--base-url", server.base_url, *args, input=to_jsonl(QUESTIONS))
    assert down.returncode == 1
    stderr = down.stderr.decode()
    assert f"is down: 2 tries in a row got no answer" in stderr and "resume from the response cache" in stderr
    assert "rollouts failed" not in stderr  # no failed record per question
    written = jsonl(down.stdout)  # whole lines only
    assert [r["id"] for r in written] == ["q0", "q1"]
    assert all(r["rollouts"][0]["stop"] != "error" for r in written)

    with FakeOpenAI(scripted_agent) as server:
        rerun = run_ltrl("search-agent", "--base-url", server.base_url, *args, input=to_jsonl(QUESTIONS))
    assert rerun.returncode == 0, rerun.stderr
    assert [r["id"] for r in jsonl(rerun.stdout)] == [q["id"] for q in QUESTIONS]
    assert len(server.requests) == 3 * len(QUESTIONS) - len(answered)  # nothing answered before is asked again


def test_synth_whose_every_reply_is_unparseable_fails_where_the_cause_is(demo_index):
    from ltrl_cli.backends.index import open_index
    from ltrl_cli.stages.walk import walk

    index = open_index(demo_index)
    try:
        walks = list(walk(None, index=index, n=2, hops=2, seed=3))
    finally:
        index.close()
    with FakeOpenAI(lambda body: completion("Sure! Here is a question about it.")) as server:
        result = run_ltrl("synth", "--index", str(demo_index), "--backend", "openai", "--base-url", server.base_url,
                          "--model", "m", "--no-cache", input=to_jsonl(walks))
    assert result.returncode == 1 and result.stdout == b""
    last = result.stderr.decode().strip().splitlines()[-1]
    assert last.startswith(f"ltrl synth: all 2 walks rejected (2 unparseable), nothing written; for example walk "
                           f"{walks[0]['id']!r}"), last
    assert "the model replied 'Sure! Here is a question about it.'" in last and "--rejects FILE" in last
