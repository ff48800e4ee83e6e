"""`ltrl eval` end to end against a fake OpenAI-compatible model whose answers are known:
gold answers score 100% and wrong ones 0% on every benchmark, judge calls included;
--score-only reproduces the scores without the model; the cache makes a rerun free.

Most runs are in-process (`invoke`, typer's CliRunner) to keep the suite fast; the tests
marked "subprocess" run the real `python -m ltrl_cli` as a user's shell does."""

from __future__ import annotations

import json

import pytest

from tests.conftest import jsonl, run_ltrl, to_jsonl
from tests.eval.eval_fixtures import Oracle, invoke, write_benchmark
from tests.fake_openai import FakeOpenAI

BENCHMARKS = ["aa-lcr", "mrcr", "frames", "longbench-v2", "longreason"]
JUDGED = {"aa-lcr", "frames"}


def run_eval(server, benchmark, data, *args, input=None):
    return invoke("eval", "-b", benchmark, "--data", str(data), "--base-url", server.base_url, "--model", "fake",
                  "--samples", "2", "--concurrency", "4", *args, input=input)


@pytest.mark.parametrize("mode", ["gold", "wrong"])
@pytest.mark.parametrize("benchmark", BENCHMARKS)
def test_gold_answers_score_100_and_wrong_ones_0(tmp_path, benchmark, mode):
    data, answers = write_benchmark(benchmark, tmp_path / "data")
    oracle = Oracle(benchmark, answers, mode)
    summary = tmp_path / "summary.json"
    with FakeOpenAI(oracle) as server:
        result = run_eval(server, benchmark, data, "--no-cache", "--summary", str(summary))
    assert result.returncode == 0, result.stderr.decode()
    records = jsonl(result.stdout)
    expected = 1.0 if mode == "gold" else 0.0
    assert len(records) == 3 and [r["score"] for r in records] == [expected] * 3
    assert all(len(r["samples"]) == 2 for r in records)
    report = json.loads(summary.read_text())
    assert report["benchmark"] == benchmark and report["n"] == 3 and report["score"] == 100 * expected
    assert report["metric"] == "avg@2" and report["ungraded_samples"] == 0
    assert oracle.generations == 6
    assert oracle.judgements == (6 if benchmark in JUDGED else 0)
    if benchmark in JUDGED:
        assert all(s["judge"]["correct"] is bool(expected) for r in records for s in r["samples"])
    if benchmark == "frames":
        assert report["metrics"]["substring_match"] == 100 * expected


@pytest.mark.parametrize("benchmark", BENCHMARKS)
def test_score_only_reproduces_the_scores_without_the_model(tmp_path, benchmark):
    data, answers = write_benchmark(benchmark, tmp_path / "data")
    oracle = Oracle(benchmark, answers, "gold")
    with FakeOpenAI(oracle) as server:
        first = run_eval(server, benchmark, data, "--no-cache")
        assert first.returncode == 0, first.stderr.decode()
        generated = oracle.generations
        again = invoke("eval", "-b", benchmark, "--score-only", "--judge-base-url", server.base_url,
                         "--judge-model", "fake", "--no-cache", input=first.stdout)
    assert again.returncode == 0, again.stderr.decode()
    assert oracle.generations == generated  # the model was not asked again
    before, after = jsonl(first.stdout), jsonl(again.stdout)
    assert [r["score"] for r in after] == [r["score"] for r in before] == [1.0] * 3
    assert [s["extracted"] for r in after for s in r["samples"]] == [s["extracted"] for r in before
                                                                     for s in r["samples"]]


def test_records_hold_what_grading_and_reporting_need(tmp_path):
    data, answers = write_benchmark("longbench-v2", tmp_path / "data")
    with FakeOpenAI(Oracle("longbench-v2", answers)) as server:
        result = run_eval(server, "longbench-v2", data, "--no-cache", "--seed", "7", "--summary",
                          str(tmp_path / "s.json"))
    records = jsonl(result.stdout)
    first = records[0]
    assert first["id"] == "lb0" and first["gold"] == "B" and first["benchmark"] == "longbench-v2"
    assert first["buckets"] == {"difficulty": "hard", "length": "short", "domain": "Single-Document QA"}
    sample = first["samples"][0]
    assert sample["response"].startswith("<think>Let me look") and sample["content"].startswith("**The correct")
    assert sample["extracted"] == "B" and sample["rule"] == "official" and sample["score"] == 1.0
    assert first["samples"][0]["seed"] != first["samples"][1]["seed"]
    assert first["model"]["sampling"] == {"temperature": 0.6, "top_p": 0.95, "top_k": 20, "max_tokens": 32768,
                                          "seed": 7}
    a_item = next(r for r in records if r["gold"] == "A")  # the fake answers "(a)": the tolerant rule
    assert a_item["samples"][0]["rule"] == "tolerant" and a_item["score"] == 1.0
    report = json.loads((tmp_path / "s.json").read_text())
    assert report["breakdowns"]["difficulty"] == {"easy": {"n": 2, "score": 100.0}, "hard": {"n": 1, "score": 100.0}}
    assert set(report["breakdowns"]["length"]) == {"short", "medium", "long"}


def test_requests_carry_the_paper_sampling_and_a_seed_per_sample(tmp_path):
    data, answers = write_benchmark("mrcr", tmp_path / "data")
    with FakeOpenAI(Oracle("mrcr", answers)) as server:
        result = run_eval(server, "mrcr", data, "--no-cache", "--limit", "1")
    assert result.returncode == 0, result.stderr.decode()
    bodies = server.requests
    assert len(bodies) == 2
    assert {(b["temperature"], b["top_p"], b["top_k"], b["max_tokens"]) for b in bodies} == {(0.6, 0.95, 20, 32768)}
    assert len({b["seed"] for b in bodies}) == 2
    assert len(bodies[0]["messages"]) == 7  # MRCR's chat is sent as it is


def test_the_cache_makes_a_rerun_free_and_identical(tmp_path):
    data, answers = write_benchmark("frames", tmp_path / "data")
    oracle = Oracle("frames", answers)
    cache = tmp_path / "cache.sqlite"
    with FakeOpenAI(oracle) as server:
        first = run_eval(server, "frames", data, "--cache", str(cache))
        calls = len(server.requests)
        second = run_eval(server, "frames", data, "--cache", str(cache))
        assert len(server.requests) == calls  # generations and verdicts both came from the cache
    assert second.returncode == 0, second.stderr.decode()
    def strip(records):  # what differs: the cached flags and counts (a cached reply is not spent)
        return [{**{k: v for k, v in r.items() if k != "usage"},
                 "samples": [{k: v for k, v in s.items() if k not in ("cached", "usage")} for s in r["samples"]]}
                for r in records]

    assert strip(jsonl(second.stdout)) == strip(jsonl(first.stdout))
    usage = [r["usage"] for r in jsonl(second.stdout)]
    assert all(u[role]["cached"] == u[role]["requests"] > 0 for u in usage for role in u)
    assert all(s["cached"] for r in jsonl(second.stdout) for s in r["samples"])


def test_compare_paper_puts_the_paper_figures_beside_the_score(tmp_path):
    data, answers = write_benchmark("longreason", tmp_path / "data")
    with FakeOpenAI(Oracle("longreason", answers)) as server:
        result = run_eval(server, "longreason", data, "--no-cache", "--compare", "paper",
                          "--summary", str(tmp_path / "s.json"))
    report = json.loads((tmp_path / "s.json").read_text())
    assert report["paper"]["base"] == 78.5 and report["paper"]["trained"] == 83.8
    stderr = result.stderr.decode()
    assert "78.5" in stderr and "83.8" in stderr and "100.0" in stderr


def test_judge_failure_is_reported_not_scored_zero(tmp_path):
    data, answers = write_benchmark("aa-lcr", tmp_path / "data")
    oracle = Oracle("aa-lcr", answers)

    def handler(body):
        if "CANDIDATE ANSWER" in body["messages"][-1]["content"]:
            from tests.fake_openai import completion

            return completion("I am not sure what to say.")  # never a verdict
        return oracle(body)

    with FakeOpenAI(handler) as server:
        result = run_eval(server, "aa-lcr", data, "--no-cache", "--limit", "1", "--summary", str(tmp_path / "s.json"))
    assert result.returncode == 1
    assert "2 sample(s) got no judge verdict" in result.stderr.decode()
    [record] = jsonl(result.stdout)
    assert record["score"] is None and all(s["score"] is None for s in record["samples"])
    assert record["samples"][0]["judge"]["attempts"] == 3
    assert json.loads((tmp_path / "s.json").read_text())["ungraded_samples"] == 2


def test_aa_lcr_longtracerl_judge_prompt(tmp_path):
    data, answers = write_benchmark("aa-lcr", tmp_path / "data")
    with FakeOpenAI(Oracle("aa-lcr", answers)) as server:
        result = run_eval(server, "aa-lcr", data, "--no-cache", "--judge-prompt", "longtracerl", "--limit", "2")
        prompts = [b["messages"][-1]["content"] for b in server.requests]
    assert result.returncode == 0, result.stderr.decode()
    assert [r["score"] for r in jsonl(result.stdout)] == [1.0, 1.0]
    assert sum("[correct_answer]:" in p for p in prompts) == 4


def test_bad_data_names_the_file_row_and_field(tmp_path):  # subprocess
    path = tmp_path / "lb.jsonl"
    path.write_text(json.dumps({"_id": "x", "question": "q", "answer": "B"}) + "\n")
    result = run_ltrl("eval", "-b", "longbench-v2", "--data", str(path), "--base-url", "http://127.0.0.1:9/v1",
                      "--model", "m", "--no-cache", "--no-endpoint-check")
    assert result.returncode == 1 and result.stdout == b""
    assert result.stderr.decode().strip().startswith(
        f"ltrl eval: {path}: row 1: missing field(s) 'choice_A', 'choice_B', 'choice_C', 'choice_D', 'context' ("
        "longbench-v2 files have _id/id, question, choice_A")


def test_missing_aa_lcr_documents_stop_or_are_skipped(tmp_path):
    data, answers = write_benchmark("aa-lcr", tmp_path / "data")
    missing = data / "lcr" / "Legal" / "set2" / "a-2.txt"
    missing.unlink()
    with FakeOpenAI(Oracle("aa-lcr", answers)) as server:
        stopped = run_eval(server, "aa-lcr", data, "--no-cache")
        skipped = run_eval(server, "aa-lcr", data, "--no-cache", "--skip-missing")
    assert stopped.returncode == 1 and f"document not found: {missing}" in stopped.stderr.decode()
    assert skipped.returncode == 0, skipped.stderr.decode()
    assert [r["id"] for r in jsonl(skipped.stdout)] == ["1", "3"]
    assert "skipped 1 question(s)" in skipped.stderr.decode()


def test_score_only_rejects_records_of_another_benchmark(tmp_path):
    record = {"id": "1", "benchmark": "mrcr", "gold": "x", "samples": [{"content": "x"}]}
    result = invoke("eval", "-b", "longreason", "--score-only", input=to_jsonl([record]))
    assert result.returncode == 1 and "line 1: a record of benchmark 'mrcr', not 'longreason'" in result.stderr.decode()


def test_score_only_of_a_judged_benchmark_needs_a_judge():
    record = {"id": "1", "benchmark": "frames", "gold": "x", "question": "q", "samples": [{"content": "x"}]}
    result = invoke("eval", "-b", "frames", "--score-only", input=to_jsonl([record]))
    assert result.returncode == 2 and "--judge-model" in result.stderr.decode()


def test_usage_errors_exit_2(tmp_path):
    assert invoke("eval", "-b", "nope", "--data", str(tmp_path)).returncode == 2
    assert invoke("eval", "-b", "mrcr").returncode == 2  # no --data
    result = invoke("eval", "-b", "mrcr", "--data", str(tmp_path), "--compare", "paper", "--paper-model", "gpt")
    assert result.returncode == 2 and "--paper-model" in result.stderr.decode()


def test_stdout_is_jsonl_only_and_head_1_exits_0(tmp_path):  # subprocess
    data, answers = write_benchmark("mrcr", tmp_path / "data")
    with FakeOpenAI(Oracle("mrcr", answers)) as server:
        result = run_ltrl("eval", "-b", "mrcr", "--data", str(data), "--base-url", server.base_url, "--model", "f",
                          "--samples", "2", "--no-cache")
        assert result.returncode == 0, result.stderr.decode()
        assert [r["score"] for r in jsonl(result.stdout)] == [1.0] * 3
        assert "mrcr: 3 questions, avg@2" in result.stderr.decode()
        import subprocess
        import sys

        from tests.conftest import ROOT

        piped = subprocess.run(
            f"{sys.executable} -m ltrl_cli eval -b mrcr --data {data} --base-url {server.base_url} --model f "
            "--samples 2 --no-cache -q | head -1", shell=True, capture_output=True, cwd=ROOT,
            env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}, executable="/bin/bash")
    assert piped.returncode == 0 and len(jsonl(piped.stdout)) == 1


def test_a_response_cut_before_think_closed_scores_0(tmp_path):
    from tests.fake_openai import completion

    data, answers = write_benchmark("longbench-v2", tmp_path / "data")
    # The endpoint returns no reasoning field and no `</think>`: the model was still thinking.
    cut = completion("Hmm, the correct answer is (B) maybe, let me check", finish_reason="length")
    with FakeOpenAI(lambda body: cut) as server:
        thinking = run_eval(server, "longbench-v2", data, "--no-cache", "--limit", "1")
        plain = run_eval(server, "longbench-v2", data, "--no-cache", "--limit", "1", "--no-thinking")
    [record] = jsonl(thinking.stdout)
    assert record["score"] == 0.0 and record["samples"][0]["content"] == "" and record["samples"][0]["truncated"]
    assert jsonl(plain.stdout)[0]["score"] == 1.0  # graded as it is


def test_shards_partition_the_questions(tmp_path):
    data, answers = write_benchmark("frames", tmp_path / "data")
    with FakeOpenAI(Oracle("frames", answers)) as server:
        parts = [jsonl(run_eval(server, "frames", data, "--no-cache", "--samples", "1", "--shard", f"{i}/2").stdout)
                 for i in range(2)]
    ids = [r["id"] for part in parts for r in part]
    assert sorted(ids) == ["0", "1", "2"]


def test_score_only_reads_a_file_given_with_data(tmp_path):
    data, answers = write_benchmark("mrcr", tmp_path / "data")
    with FakeOpenAI(Oracle("mrcr", answers, "wrong")) as server:
        first = run_eval(server, "mrcr", data, "--no-cache")
    previous = tmp_path / "run.jsonl"
    previous.write_bytes(first.stdout)
    again = invoke("eval", "-b", "mrcr", "--score-only", "--data", str(previous), "--summary", str(tmp_path / "s.json"))
    assert again.returncode == 0, again.stderr.decode()
    assert [r["score"] for r in jsonl(again.stdout)] == [0.0] * 3
    assert json.loads((tmp_path / "s.json").read_text())["breakdowns"]["needles"] == {
        "2": {"n": 2, "score": 0.0}, "4": {"n": 1, "score": 0.0}}
    missing = invoke("eval", "-b", "mrcr", "--score-only", "--data", str(tmp_path / "nope.jsonl"))
    assert missing.returncode == 1 and "nope.jsonl: not found" in missing.stderr.decode()
