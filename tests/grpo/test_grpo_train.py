"""`ltrl grpo` end to end on a CPU: a tiny random Qwen3, real TRL, real torchrun.

The slowest tests of the suite, so the runs are shared: one module fixture trains 2 steps
in one process (LoRA, gradient checkpointing, an LLM judge behind a fake endpoint that
never answers for some prompts), then resumes for 2 more steps on 2 ranks, where every
group of 4 completions straddles the ranks.
Most of the time is torchrun and the imports starting; a step takes a fraction of a second.
"""

from __future__ import annotations

import math
import re
from types import SimpleNamespace

import orjson
import pytest

from ltrl_cli.reward import rules as R
from ltrl_cli.reward.judge import contains_match
from ltrl_cli.grpo.config import CONFIG_NAME, load
from tests.conftest import jsonl, run_ltrl
from tests.fake_openai import FakeOpenAI, completion
from tests.grpo.conftest import LONGBENCH, RECORDS, TINY_SETTINGS

pytestmark = pytest.mark.slow

STEP_KEYS = {"step", "reward", "reward_std", "outcome_accuracy", "rubric_reward", "rubric_reward_normalized",
             "excluded", "completion_length_mean", "clip_fraction", "tokens_per_s", "step_time_s", "loss"}
NO_VERDICT = ("Where was Alice born?", "What is the capital of France?")  # the fake judge never decides these


def _judge(body: dict) -> dict:
    prompt = body["messages"][0]["content"]
    if any(question in prompt for question in NO_VERDICT):
        return completion("I am not sure what to make of this.")
    response = prompt.split("[response]:")[1].split("[correct_answer]:")[0]
    return completion("extracted_final_answer: x\ncorrect: " + ("yes" if "a" in response else "no"))


def _rows(path) -> list[dict]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


@pytest.fixture(scope="module")
def runs(tiny_model, tmp_path_factory):
    from tests.conftest import to_jsonl

    tmp = tmp_path_factory.mktemp("grpo-run")
    too_long = {"id": "long", "input_messages": [{"role": "user", "content": "word " * 2000}], "label": "x"}
    (tmp / "train.jsonl").write_bytes(to_jsonl(RECORDS + [too_long]))  # over max_prompt_length 512
    (tmp / "tiny.yaml").write_text(TINY_SETTINGS)
    (tmp / "lb.jsonl").write_bytes(to_jsonl(LONGBENCH))
    out = tmp / "run"
    with FakeOpenAI(_judge) as server:
        first = run_ltrl("grpo", "--data", str(tmp / "train.jsonl"), "--model", str(tiny_model), "-o", str(out),
                         "--config", str(tmp / "tiny.yaml"), "--max-steps", "2", "--prompts-per-step", "2",
                         "--judge", "llm", "--judge-base-url", server.base_url, "--judge-model", "fake-judge",
                         "--lora-r", "8", "--lora-alpha", "16", "--gradient-checkpointing",
                         "--eval-data", str(tmp / "lb.jsonl"), "--eval-benchmark", "longbench-v2", "--eval-every", "2")
    assert first.returncode == 0, first.stderr.decode()[-3000:]
    checkpoint_settings = load(out / "checkpoint-2" / CONFIG_NAME)
    # Resume needs only the run folder; here on 2 ranks, 1 prompt x 4 per step, 2 per rank.
    # (its evaluation is turned off: the saved settings would evaluate again at step 4)
    second = run_ltrl("grpo", "-o", str(out), "--resume", "--max-steps", "4", "--nproc-per-node", "2",
                      "--prompts-per-step", "1", "--per-device-batch-size", "2", "--judge", "contains",
                      "--punish-ill-formed", "--set", "eval_strategy=no")
    assert second.returncode == 0, second.stderr.decode()[-3000:]
    return SimpleNamespace(first=first, second=second, out=out, checkpoint_settings=checkpoint_settings)


def test_metrics_are_jsonl_one_record_per_step(runs):
    records = jsonl(runs.first.stdout)  # every stdout line is a JSON object: logs went to stderr
    assert [r["step"] for r in records] == [1, 2]
    assert STEP_KEYS <= set(records[0])
    assert all(math.isfinite(r["loss"]) and r["world_size"] == 1 and r["tokens_per_s"] > 0 for r in records)
    assert all(r["ill_formed"] == 0 and r["cut_at_total"] == 0 for r in records)  # punish_ill_formed: false


def test_evaluation_on_an_ltrl_eval_benchmark_runs_at_its_step(runs):
    # LongBench v2's owners' prompt and letter grading; the random model never answers a letter
    assert b"evaluating 2 prompts every 2 steps" in runs.first.stderr
    assert b"grpo: evaluation at step 2: ltrl/outcome_accuracy 0, reward 0" in runs.first.stderr
    assert b"evaluation at step" not in runs.second.stderr


def test_prompts_over_the_length_limit_are_dropped_and_counted(runs):
    assert b"dropped 1 of 5 prompts longer than max_prompt_length 512" in runs.first.stderr
    assert b"4 prompts" in runs.first.stderr


def test_checkpoint_holds_the_settings_it_was_trained_with(runs):
    assert (runs.out / "checkpoint-2" / "adapter_model.safetensors").is_file()  # LoRA: the adapter is saved
    assert runs.checkpoint_settings.judge == "llm" and runs.checkpoint_settings.trl["max_steps"] == 2
    assert runs.checkpoint_settings.lora_r == 8


def test_no_verdict_is_excluded_and_counted(runs):
    # Two steps of 2 prompts cover all four; two of them never get a verdict.
    assert sum(r["excluded"] for r in jsonl(runs.first.stdout)) >= 1
    rows = [row for row in _rows(runs.out / "rewards" / "rank-0.jsonl") if row["step"] <= 2]
    for row in rows:
        if row["prompt_id"] in ("q1", "q2") and row["text"].strip():
            assert row["excluded"] and row["reward"] is None and row["judge_error"]
    assert any(not row["excluded"] for row in rows)


def test_resume_continues_the_step_count_on_two_ranks(runs):
    records = jsonl(runs.second.stdout)
    assert [r["step"] for r in records] == [3, 4]  # rank 0 alone writes records
    assert all(r["world_size"] == 2 for r in records)
    assert b"resuming from" in runs.second.stderr and (runs.out / "checkpoint-4").is_dir()


def test_a_finished_two_rank_run_exits_0_on_every_rank(runs):
    # Each rank leaves through os._exit after training (recipe.run_and_exit): a normal
    # interpreter exit let gloo's worker thread abort a finished rank about 1 run in 20.
    assert runs.second.returncode == 0
    assert b"terminate called" not in runs.second.stderr and b"SIGABRT" not in runs.second.stderr
    assert b"done at step 4" in runs.second.stderr  # rank 0's last line reached stderr before the exit
    assert (runs.out / "rewards" / "rank-1.jsonl").is_file()  # rank 1 trained too


def test_a_failed_two_rank_run_exits_non_zero(tiny_model, tmp_path):
    from tests.conftest import to_jsonl

    (tmp_path / "train.jsonl").write_bytes(to_jsonl(RECORDS))
    no_tokenizer = tmp_path / "model"
    no_tokenizer.mkdir()  # a folder (so the launcher starts torchrun) where every rank fails to load
    result = run_ltrl("grpo", "--data", str(tmp_path / "train.jsonl"), "--model", str(no_tokenizer),
                      "-o", str(tmp_path / "run"), "--nproc-per-node", "2", "--prompts-per-step", "1",
                      "--per-device-batch-size", "2", "--num-generations", "4")
    assert result.returncode == 1, result.stderr.decode()[-3000:]
    # the rank that fails first says why; torchrun then stops the other (either may be first)
    assert re.search(rb"\[rank [01]\] cannot load the tokenizer", result.stderr), result.stderr.decode()[-3000:]
    assert result.stdout == b""


def test_groups_split_across_ranks_are_shaped_as_one(runs):
    rank0 = [row for row in _rows(runs.out / "rewards" / "rank-0.jsonl") if row["step"] > 2]
    rank1 = _rows(runs.out / "rewards" / "rank-1.jsonl")
    assert rank0 == rank1 and len(rank0) == 8  # both ranks computed the same rewards for the whole batch
    by_id = {r["id"]: r for r in RECORDS}
    for step in (3, 4):
        group = [row for row in rank0 if row["step"] == step]
        assert len({row["prompt_id"] for row in group}) == 1  # one prompt's 4 completions, 2 from each rank
        record = by_id[group[0]["prompt_id"]]
        # --punish-ill-formed: a truncated completion scores 0 and the others are shaped among themselves
        assert all(bool(row["ill_formed"]) == row["truncated"] for row in group)
        assert all(row["reward"] == 0.0 and row["rubric_reward_normalized"] == 0.0 for row in group if row["truncated"])
        kept = [row for row in group if not row["truncated"]]
        outcomes = [float(contains_match(row["text"], record["label"])) for row in kept]
        want = R.score_group([row["text"] for row in kept], outcomes, record["metadata"]["rubrics"],
                             mode="neg-only", thinking=False, truncated=[False] * len(kept))
        assert [row["reward"] for row in kept] == [w.reward for w in want]
        assert [row["rubric_reward_normalized"] for row in kept] == [w.rubric_reward_normalized for w in want]
    ill = [r["ill_formed"] for r in jsonl(runs.second.stdout)]
    assert ill == [sum(bool(row["ill_formed"]) for row in rank0 if row["step"] == step) for step in (3, 4)]
