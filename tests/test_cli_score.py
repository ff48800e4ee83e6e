"""`ltrl score` as a user runs it: a subprocess, JSONL in and out, exit codes, messages."""

from __future__ import annotations

import pytest

from tests.conftest import jsonl, run_ltrl, to_jsonl
from tests.fake_openai import FakeOpenAI, Reply, completion

GROUP = {
    "id": "q1", "label": "Paris", "question": "Which city?", "rubrics": ["France", "Seine", "Louvre", "Europe"],
    "responses": ["<think>the Seine flows</think>Answer: Paris", "<think>x</think>Paris, near the Seine in France",
                  "<think>x</think>Lyon, France", "<think>never closed"],
    "extra": {"kept": True},
}


def scored(*args, records, **kw):
    result = run_ltrl("score", *args, input=to_jsonl(records), **kw)
    assert result.returncode == 0, result.stderr.decode()
    return jsonl(result.stdout)


def test_group_per_line_with_the_contains_judge():
    [out] = scored("--judge", "contains", records=[GROUP])
    assert out["extra"] == {"kept": True} and out["responses"] == GROUP["responses"]  # passes keys through
    rewards = out["rewards"]
    assert [r["outcome_reward"] for r in rewards] == [1.0, 1.0, 0.0, 0.0]
    assert [r["rubric_reward"] for r in rewards] == [0.0, 0.5, 0.25, 0.0]
    assert [r["rubric_reward_normalized"] for r in rewards] == [0.0, 1.0, 0.5, 0.0]
    assert [r["reward"] for r in rewards] == pytest.approx([0.7, 1.0, 0.0, 0.0])
    assert [r["malformed"] for r in rewards] == [False, False, False, True]
    assert rewards[0]["judge"] == {"name": "contains", "correct": True, "answer": "Paris", "attempts": 1}
    assert rewards[3]["judge"]["skipped"] == "no final content"
    assert out["score"] == {"mode": "positive-only", "alpha": 0.3, "rubric_on": "content", "judge": "contains"}


def test_summary_line_gives_mean_reward_accuracy_and_recall():
    result = run_ltrl("score", "--judge", "contains", input=to_jsonl([GROUP]))
    last = result.stderr.decode().strip().splitlines()[-1]
    # rewards 0.7, 1.0, 0, 0; outcomes 1, 1, 0, 0; raw recall 0, 0.5, 0.25, 0
    assert "mean reward 0.425, outcome accuracy 0.500, mean rubric recall 0.188" in last, last


def test_score_and_search_agent_share_one_default_judge():
    import typer

    from ltrl_cli.cli import app
    from ltrl_cli.reward.builder import JudgeOptions
    from ltrl_cli.reward.judge import DEFAULT_JUDGE

    group = typer.main.get_command(app)
    defaults = {name: next(p.default for p in group.commands[name].params if p.name == "judge")
                for name in ("score", "search-agent")}
    assert defaults == {"score": DEFAULT_JUDGE, "search-agent": DEFAULT_JUDGE} and JudgeOptions().name == DEFAULT_JUDGE
    # the answers `exact` scored 0: a correct date inside a sentence
    record = {"id": "d", "label": "8 July 1776", "rubrics": [], "responses": ["</think>Via X and Y: 8 July 1776"]}
    [out] = scored("--eval", records=[record])
    assert out["rewards"][0]["outcome_reward"] == 1.0


def test_profile_longtracerl_on_jsonl_scores_as_the_server(tmp_path):
    with FakeOpenAI(verdict_for) as server:
        result = run_ltrl("score", "--profile", "longtracerl", "--base-url", server.base_url, "--model", "j",
                          "--no-cache", input=to_jsonl([GROUP]))
        assert result.returncode == 0, result.stderr.decode()
        assert server.requests[0]["thinking"] == {"type": "disabled"}
    stderr = result.stderr.decode()
    assert stderr.startswith("ltrl score: profile longtracerl") and "--as-server" in stderr
    assert "--on-judge-error" not in stderr.splitlines()[0]  # a server-only setting
    [out] = jsonl(result.stdout)
    assert out["score"]["as_server"] is True and out["score"]["judge"] == "llm"
    # the server's split: no </think> means all of it is content, so the 4th response is judged
    assert len(server.requests) == 4


def test_unknown_profile_exits_2():
    result = run_ltrl("score", "--profile", "theirs", input=to_jsonl([GROUP]))
    assert result.returncode == 2 and "--profile 'theirs': choose one of longtracerl" in result.stderr.decode()


def test_modes_alpha_and_rubric_on():
    [out] = scored("--judge", "contains", "--mode", "pos-neg", "--alpha", "0.5", "--rubric-on", "both",
                   records=[GROUP])
    # both: rubric searched in reasoning + content; max over the group is 0.5
    assert [r["rubric_reward"] for r in out["rewards"]] == [0.25, 0.5, 0.25, 0.0]
    assert [r["reward"] for r in out["rewards"]] == pytest.approx([0.75, 1.0, 0.25, 0.0])


def test_eval_mode_scores_the_outcome_alone_and_needs_no_rubrics():
    record = {k: v for k, v in GROUP.items() if k != "rubrics"}
    [out] = scored("--judge", "contains", "--eval", records=[record])
    assert [r["reward"] for r in out["rewards"]] == [1.0, 1.0, 0.0, 0.0]


def test_one_response_per_line_grouped_by_key():
    lines = [{"qid": "a", "label": "4", "rubrics": ["two"], "response": f"</think>{text}"}
             for text in ("two plus two is 4", "answer: 4", "5")]
    lines.append({"qid": "b", "label": "x", "rubrics": ["y"], "response": "</think>x y"})
    out = scored("--group-key", "qid", "--judge", "exact", records=lines)
    assert [r["qid"] for r in out] == ["a", "a", "a", "b"]
    assert [r["reward"]["rubric_reward_normalized"] for r in out] == [1.0, 0.0, 0.0, 1.0]
    assert [r["reward"]["outcome_reward"] for r in out] == [0.0, 1.0, 0.0, 0.0]
    assert "rewards" not in out[0]


def test_released_dataset_layout_with_dotted_keys():
    record = {"id": "r1", "source": "longqa", "input_messages": [{"role": "user", "content": "ctx..."}],
              "label": "Ada Lovelace", "metadata": {"rubrics": ["Charles Babbage"], "question": "Who?"},
              "output": {"samples": ["<think>Babbage's engine</think>Ada Lovelace, with Charles Babbage"]}}
    [out] = scored("--judge", "contains", "--rubrics-key", "metadata.rubrics", "--question-key", "metadata.question",
                   "--response-key", "output.samples", records=[record])
    assert out["rewards"][0]["reward"] == 1.0 and out["metadata"] == record["metadata"]


@pytest.mark.parametrize("line, message", [
    (b'{"id": "x", "rubrics": [], "responses": ["a"]}', "line 2: missing field 'label'"),
    (b'{"id": "x", "label": "a", "rubrics": "France", "responses": ["a"]}',
     "line 2: field 'rubrics' must be a list of strings"),
    (b'{"id": "x", "label": "a"', "line 2: not valid JSON"),
])
def test_bad_input_names_the_line_and_exits_1(line, message):
    good = to_jsonl([GROUP])
    result = run_ltrl("score", "--judge", "contains", input=good + line + b"\n")
    assert result.returncode == 1
    stderr = result.stderr.decode()
    assert f"ltrl score: {message}" in stderr and len(stderr.strip().splitlines()) == 1
    assert len(jsonl(result.stdout)) <= 1  # only whole records before the bad line


@pytest.mark.parametrize("record, message", [
    ({"id": "x", "label": "a", "rubrics": ["a", 3], "responses": ["a"]}, "field 'rubrics' must be a list of strings"),
    ({"id": "x", "label": "a", "rubrics": []}, "missing field 'responses' or 'response'"),
    ({"id": "x", "label": "a", "rubrics": [], "responses": [1]}, "field 'responses' must be"),
    ({"id": "x", "label": ["a"], "rubrics": [], "responses": ["a"]}, "field 'label' must be a string"),
    ({"id": "x", "label": "a", "responses": ["a"]}, "missing field 'rubrics'"),
])
def test_bad_records_in_process(record, message):
    from ltrl_cli.errors import BadInput

    with pytest.raises(BadInput, match=f"line 2: {message}"):
        run_stage([GROUP, record])


def test_skip_bad_continues_and_counts():
    data = to_jsonl([GROUP]) + b"not json\n" + b'{"id": "y", "label": "a", "rubrics": 1, "responses": []}\n' \
        + to_jsonl([GROUP])
    result = run_ltrl("score", "--judge", "contains", "--skip-bad", input=data)
    assert result.returncode == 0
    assert len(jsonl(result.stdout)) == 2
    assert "2 skipped" in result.stderr.decode()


def test_usage_errors_exit_2():
    from typer.testing import CliRunner

    from ltrl_cli.cli import app

    result = run_ltrl("score", "--mode", "sum")
    assert result.returncode == 2 and "ltrl score: --mode 'sum': choose one of positive-only" in result.stderr.decode()
    for args, text in [(["--rubric-on", "all"], "--rubric-on"), (["--judge", "vibes"], "--judge"),
                       (["--judge", "llm"], "--base-url"), (["--alpha", "2"], "--alpha")]:
        outcome = CliRunner().invoke(app, ["score", *args], input="")
        assert outcome.exit_code == 2 and text in outcome.stderr, (args, outcome.stderr)


def test_head_one_exits_zero():
    import subprocess
    import sys

    from tests.conftest import ROOT

    data = to_jsonl([GROUP] * 200)
    cmd = f"{sys.executable} -m ltrl_cli score --judge contains | head -1"
    result = subprocess.run(["bash", "-o", "pipefail", "-c", cmd], input=data, capture_output=True,
                            env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0 and len(jsonl(result.stdout)) == 1
    assert b"Traceback" not in result.stderr


# ---------------------------------------------------------------- the LLM judge end to end

def llm_args(server, cache):
    return ("--judge", "llm", "--base-url", server.base_url, "--model", "judge", "--cache", str(cache),
            "--max-retries", "1", "--timeout", "2")


def verdict_for(body):
    """A fake judge that says yes when the response mentions Paris."""
    prompt = body["messages"][0]["content"]
    response = prompt.split("[response]:")[1].split("[correct_answer]:")[0]
    return completion(f"extracted_final_answer: x\ncorrect: {'yes' if 'Paris' in response else 'no'}")


def test_llm_judge_scores_and_caches(tmp_path):
    with FakeOpenAI(verdict_for) as server:
        [out] = scored(*llm_args(server, tmp_path / "c.sqlite"), records=[GROUP])
        assert [r["outcome_reward"] for r in out["rewards"]] == [1.0, 1.0, 0.0, 0.0]
        assert len(server.requests) == 3  # the empty-content response is not judged
        assert out["score"]["judge_model"] == "judge"
        again = scored(*llm_args(server, tmp_path / "c.sqlite"), records=[GROUP])
        assert len(server.requests) == 3  # all from the cache, and counted as cached
        cached = [r["judge"].pop("usage", {}).get("judge", {}).get("cached") for r in again[0]["rewards"]]
        assert cached == [1, 1, 1, None]  # the empty one was not judged
        for reward in out["rewards"]:
            reward["judge"].pop("usage", None)
        assert again[0]["rewards"] == out["rewards"]


def test_llm_judge_failures_are_visible_and_exit_1_and_the_key_never_shows(tmp_path):
    secret = "sk-test-ltrl-score-0123456789"
    with FakeOpenAI(lambda body: Reply({"error": {"message": f"boom, bad key {secret}"}}, status=500)) as server:
        result = run_ltrl("score", *llm_args(server, tmp_path / "c.sqlite"), "--api-key-env", "LTRL_TEST_JUDGE_KEY",
                          input=to_jsonl([GROUP]), env={"LTRL_TEST_JUDGE_KEY": secret})
        assert server.headers[0]["Authorization"] == f"Bearer {secret}"
    assert result.returncode == 1
    assert secret.encode() not in result.stdout and secret.encode() not in result.stderr
    [out] = jsonl(result.stdout)  # the record is still written, with the errors in it
    errors = [r.get("judge_error") for r in out["rewards"]]
    assert all(e and "500" in e for e in errors[:3]) and errors[3] is None
    assert all(r["reward"] is None and r["excluded"] for r in out["rewards"][:3])
    stderr = result.stderr.decode()
    assert "3 response(s) got no verdict" in stderr and "Unclosed" not in stderr and "Traceback" not in stderr
    assert "(cached verdicts are reused)" in stderr


def test_judge_failure_message_promises_no_cache_under_no_cache():
    with FakeOpenAI(lambda body: Reply({"error": {"message": "down"}}, status=500)) as server:
        args = [a for a in llm_args(server, "unused") if a not in ("--cache", "unused")]
        result = run_ltrl("score", *args, "--no-cache", input=to_jsonl([GROUP]))
    assert result.returncode == 1
    last = result.stderr.decode().strip().splitlines()[-1]
    assert "got no verdict" in last and "cached" not in last


def test_garbage_verdicts_with_allow_judge_errors(tmp_path):
    with FakeOpenAI(lambda body: completion("Looks right.")) as server:
        result = run_ltrl("score", *llm_args(server, tmp_path / "c.sqlite"), "--allow-judge-errors",
                          input=to_jsonl([GROUP]))
        assert len(server.requests) == 9  # 3 responses x 3 attempts
    assert result.returncode == 0
    [out] = jsonl(result.stdout)
    assert all("no 'correct: yes|no' verdict with an extracted_final_answer in 3" in r["judge_error"]
               for r in out["rewards"][:3])


def test_timeouts_become_judge_errors(tmp_path):
    with FakeOpenAI(lambda body: Reply(completion("correct: yes"), delay=1.5)) as server:
        result = run_ltrl("score", "--judge", "llm", "--base-url", server.base_url, "--model", "judge", "--no-cache",
                          "--max-retries", "0", "--timeout", "0.3", input=to_jsonl([GROUP]))
    assert result.returncode == 1
    assert all("0.3s" in r["judge_error"] for r in jsonl(result.stdout)[0]["rewards"][:3])


# ---------------------------------------------------------------- the stage, in process

def run_stage(records, **kw):
    from ltrl_cli.reward.judge import RuleJudge
    from ltrl_cli.stages.score import score

    kw.setdefault("judge", RuleJudge("contains"))
    return list(score(iter(records), **kw))


def test_stage_keeps_order_and_groups_consecutive_lines_only():
    from ltrl_cli.stages.score import Keys

    lines = [{"g": g, "label": "a", "rubrics": ["b"], "response": f"</think>a {extra}"}
             for g, extra in [(1, "b"), (1, ""), (2, "b"), (1, "b b")]]
    out = run_stage(lines, keys=Keys(group="g"), concurrency=2)
    assert [r["g"] for r in out] == [1, 1, 2, 1]
    # groups: [0, 1], [2], [3] (the second run of g=1 is its own group)
    assert [r["reward"]["rubric_reward_normalized"] for r in out] == [1.0, 0.0, 1.0, 1.0]


def test_stage_label_mismatch_inside_a_group():
    from ltrl_cli.errors import BadInput
    from ltrl_cli.stages.score import Keys
    from ltrl_cli.stats import Stats

    lines = [{"g": 1, "label": "a", "rubrics": [], "response": "</think>a"},
             {"g": 1, "label": "b", "rubrics": [], "response": "</think>b"}]
    with pytest.raises(BadInput, match="line 2: label 'b' differs from its group's 'a'"):
        run_stage(lines, keys=Keys(group="g"))
    stats = Stats()
    out = run_stage(lines, keys=Keys(group="g"), skip_bad=True, stats=stats)
    assert len(out) == 1 and stats["skipped"] == 1


def test_stage_truncated_flags():
    record = {**GROUP, "truncated": [False, True, False, True]}
    [out] = run_stage([record])
    assert [r["truncated"] for r in out["rewards"]] == [False, True, False, True]
    from ltrl_cli.errors import BadInput

    [every] = run_stage([{**GROUP, "truncated": True}])  # one boolean covers every response
    assert all(r["truncated"] for r in every["rewards"])
    with pytest.raises(BadInput, match="a boolean, or one per response"):
        run_stage([{**GROUP, "truncated": [True]}])


def test_stage_many_groups_concurrently_in_order():
    records = [{**GROUP, "id": f"q{i}", "label": "Paris" if i % 2 else "Lyon"} for i in range(50)]
    out = run_stage(records, concurrency=8)
    assert [r["id"] for r in out] == [f"q{i}" for i in range(50)]
    assert [r["rewards"][0]["outcome_reward"] for r in out] == [float(i % 2) for i in range(50)]


def test_streams_a_record_before_stdin_closes():
    import os
    import subprocess
    import sys

    from tests.conftest import ROOT

    proc = subprocess.Popen([sys.executable, "-m", "ltrl_cli", "score", "--judge", "contains"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        proc.stdin.write(to_jsonl([GROUP]))
        proc.stdin.flush()
        line = proc.stdout.readline()  # arrives while stdin is still open
        assert jsonl(line)[0]["rewards"][1]["reward"] == 1.0
    finally:
        proc.stdin.close()
        proc.wait(timeout=60)
    assert proc.returncode == 0


def test_as_server_scores_each_response_as_post_evaluate():
    import asyncio
    import json

    from ltrl_cli.reward.judge import RuleJudge
    from ltrl_cli.reward.scoring import ScoreOptions
    from ltrl_cli.reward.service import RewardService

    record = {**GROUP, "responses": [*GROUP["responses"], "Paris, by the Seine", "<think>a</think>b</think>Paris"]}
    [out] = scored("--judge", "contains", "--as-server", "--rubric-on", "both", records=[record])
    service = RewardService(RuleJudge("contains"), ScoreOptions())
    info = {"question": GROUP["question"], "rubrics": GROUP["rubrics"], "rubric_reward_ratio": 0.3,
            "rubric_use_content": True, "rubric_use_reasoning_content": True, "dataset_name": "longqa"}
    for response, reward in zip(record["responses"], out["rewards"]):
        body = json.dumps({"label": "Paris", "extra_reward_info": info, "response": response}).encode()
        expected = asyncio.run(service.evaluate(body))
        assert {k: reward[k] for k in expected} == pytest.approx(expected), response
    # No group shaping; a response without </think> is all content (judged: 1.0), unlike the default.
    assert "rubric_reward_normalized" not in out["rewards"][0] and out["rewards"][4]["outcome_reward"] == 1.0
    assert out["score"]["as_server"] is True


def test_as_server_longrlvr_takes_chunk_ids():
    record = {"id": "c", "label": "Paris", "question": "q", "rubrics": [1, 3],
              "responses": ["</think>Paris <useful_chunks><CHUNK_1><CHUNK_2></useful_chunks>"]}
    [out] = scored("--judge", "contains", "--as-server", "--mode", "longrlvr", records=[record])
    # P = R = 1/2: F2 = 0.5; reward = 1 + 0.3 * 0.5 + 0.7 * 1 * 0.5
    assert (out["rewards"][0]["rubric_reward"], out["rewards"][0]["reward"]) == (0.5, pytest.approx(1.5))
    result = run_ltrl("score", "--judge", "contains", input=to_jsonl([record]))
    assert result.returncode == 1 and "must be a list of strings" in result.stderr.decode()
