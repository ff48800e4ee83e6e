"""The reward glue: local judging, group shaping over a gathered batch, exclusions, data rows."""

from __future__ import annotations

import random

import pytest

from ltrl_cli.reward import rules as R
from ltrl_cli.reward.judge import make_judge
from ltrl_cli.errors import BadInput
from ltrl_cli.grpo import shaping
from ltrl_cli.grpo.data import load_rows, to_row
from tests.fake_openai import FakeOpenAI, completion


def _batch(seed: int, groups: int, size: int) -> list[shaping.Scored]:
    rng = random.Random(seed)
    words = ["alpha", "beta", "gamma", "delta", "paris"]
    out = []
    for g in range(groups):
        rubrics = rng.sample(words, 3)
        for _ in range(size):
            text = "<think>" + " ".join(rng.choices(words, k=3)) + "</think>" + " ".join(rng.choices(words, k=2))
            out.append(shaping.Scored(text, rng.choice([0.0, 1.0, None]), rng.random() < 0.2, rubrics, None, f"p{g}"))
    return out


@pytest.mark.parametrize("mode", R.MODES)
def test_shape_batch_is_score_group_per_group(mode):
    batch = _batch(seed=1, groups=3, size=4)
    got = shaping.shape_batch(batch, 4, mode=mode, alpha=0.3, rubric_on="both")
    for start in range(0, 12, 4):
        group = batch[start:start + 4]
        want = R.score_group([c.text for c in group], [c.outcome for c in group], group[0].rubrics, mode=mode,
                             alpha=0.3, rubric_on="both", truncated=[c.truncated for c in group])
        assert got[start:start + 4] == want


def test_group_max_spans_the_whole_group_not_a_ranks_half():
    # Rank 0 holds the two completions with recall 0.5, rank 1 the one with recall 1.0:
    # normalising each half alone would give 1.0 to rank 0's; the whole group gives 0.5.
    rank0 = [shaping.Scored("</think>a", 1.0, False, ["a", "b"]), shaping.Scored("</think>a", 1.0, False, ["a", "b"])]
    rank1 = [shaping.Scored("</think>a b", 1.0, False, ["a", "b"]), shaping.Scored("</think>x", 0.0, False, ["a", "b"])]
    rewards = shaping.shape_batch(rank0 + rank1, 4)
    assert [r.rubric_reward_normalized for r in rewards] == [0.5, 0.5, 1.0, 0.0]
    assert [r.reward for r in rewards] == [pytest.approx(0.85), pytest.approx(0.85), 1.0, 0.0]


def test_a_batch_must_hold_whole_groups():
    with pytest.raises(ValueError, match="groups of 4"):
        shaping.shape_batch(_batch(0, 1, 3), 4)


def test_no_verdict_is_excluded_and_counted_never_zero():
    batch = [shaping.Scored("</think>a", None, False, ["a"]), shaping.Scored("</think>a", 1.0, False, ["a"]),
             shaping.Scored("</think>b", 0.0, False, ["a"]), shaping.Scored("thinking...", None, True, ["a"])]
    rewards = shaping.shape_batch(batch, 4, thinking=True)
    assert rewards[0].excluded and rewards[0].reward is None
    assert not rewards[3].excluded and rewards[3].outcome_reward == 0.0  # no content: 0, the judge is not needed
    m = shaping.batch_metrics(rewards)
    assert m["excluded"] == 1.0 and m["excluded_fraction"] == 0.25
    assert m["outcome_accuracy"] == pytest.approx(1 / 3)
    assert m["truncated_fraction"] == 0.25 and m["empty_content_fraction"] == 0.25


def test_llm_judge_failures_become_exclusions():
    # The fake judge answers "correct: yes" for Paris, and never gives a verdict for Rome.
    def handler(body):
        prompt = body["messages"][0]["content"]
        return completion("extracted_final_answer: Paris\ncorrect: yes" if "Paris" in prompt.split("[response]:")[1]
                          else "I cannot decide.")

    from ltrl_cli.llm.openai import OpenAIChat

    with FakeOpenAI(handler) as server:
        judge = make_judge("llm", llm=OpenAIChat(server.base_url, "judge", max_retries=0))
        verdicts = shaping.judge_outcomes(judge, ["</think>Paris", "</think>Rome", "</think>"], ["Paris"] * 3,
                                          ["capital?"] * 3, concurrency=4)
    assert [v.correct for v in verdicts] == [True, None, False]
    assert "no 'correct: yes|no' verdict" in verdicts[1].error
    batch = [shaping.Scored(t, v.outcome, False, ["paris"], v.error)
             for t, v in zip(["</think>Paris", "</think>Rome", "</think>"], verdicts)]
    batch.append(shaping.Scored("</think>x", 0.0, False, ["paris"]))
    rewards = shaping.shape_batch(batch, 4)
    assert [r.excluded for r in rewards] == [False, True, False, False]
    rows = shaping.reward_rows(3, batch, rewards, 4)
    assert rows[1]["reward"] is None and rows[1]["judge_error"] and rows[1]["step"] == 3


def test_rows_from_the_assemble_layout(tmp_path):
    row = to_row({"id": 7, "input_messages": [{"role": "user", "content": "c"}], "label": 42,
                  "metadata": {"rubrics": ["A"]}})
    assert row == {"prompt": [{"role": "user", "content": "c"}], "label": "42", "rubrics": ["A"], "question": None,
                   "prompt_id": "7"}
    path = tmp_path / "t.jsonl"
    path.write_text('{"input_messages": [{"role": "user", "content": "c"}], "label": "x"}\n\n'
                    '{"input_messages": "text", "label": "x"}\n')
    with pytest.raises(BadInput) as info:
        load_rows(str(path))
    assert info.value.message == f"{path}: line 3: field 'input_messages' must be a list of objects, got a string"
    path.write_text('{"label": "x"}\n')
    with pytest.raises(BadInput, match="line 1: missing field 'input_messages'"):
        load_rows(str(path))


class _CharTokenizer:
    """Ids are character codes; 0 ends a completion. Enough for decoding and truncation."""

    eos_token_id, pad_token_id = 0, None

    def batch_decode(self, ids, skip_special_tokens=True):
        return ["".join(chr(i) for i in seq if i) for seq in ids]


def test_ltrl_reward_judges_its_ranks_share_and_flags_truncation():
    from ltrl_cli.grpo.config import GrpoSettings

    reward = shaping.LtrlReward(GrpoSettings(judge="contains"), make_judge("contains"), _CharTokenizer())
    ids = [[ord(c) for c in "<think>hm</think>Paris, France"] + [0], [ord(c) for c in "<think>still thinking"]]
    inputs = [{"label": "Paris", "rubrics": ["France", "Europe"], "question": "Q?", "prompt_id": "q1"}] * 2
    local = reward.local_scores(inputs, ids)
    assert [(c.outcome, c.truncated, c.prompt_id) for c in local] == [(1.0, False, "q1"), (0.0, True, "q1")]
    assert reward.local_scores(inputs, ids, stop_ids={ord("e")})[0].truncated  # the trainer's own stop ids win
    # Called as a plain TRL reward function: the ungrouped reward (raw rubric recall).
    columns = {k: [x[k] for x in inputs] for k in inputs[0]}
    assert reward(prompts=None, completions=None, completion_ids=ids, **columns) == [pytest.approx(0.85), 0.0]


def test_on_judge_error_zero_scores_a_missing_verdict_0_and_counts_it():
    from ltrl_cli.grpo.config import GrpoSettings
    from ltrl_cli.reward.judge import Verdict

    class NoVerdict:
        async def judge(self, question, content, label):
            return Verdict(correct=None, error="no verdict in 3 asks", answer=None)

    ids = [[ord(c) for c in "<think>hm</think>Paris"] + [0]] * 2
    inputs = [{"label": "Paris", "rubrics": ["Paris"], "question": "Q?", "prompt_id": "q"}] * 2
    for setting, outcome in (("exclude", None), ("zero", 0.0)):
        reward = shaping.LtrlReward(GrpoSettings(on_judge_error=setting), NoVerdict(), _CharTokenizer())
        local = reward.local_scores(inputs, ids)
        assert [c.outcome for c in local] == [outcome] * 2 and all(c.judge_error for c in local)
        rewards = shaping.shape_batch(local, 2)
        assert [r.excluded for r in rewards] == [outcome is None] * 2
        assert shaping.batch_metrics(rewards, local)["judge_errors"] == 2.0
