"""The train script's rules on one group: ill-formed completions score 0, and a completion
never runs past the total length."""

from __future__ import annotations

import pytest

from ltrl_cli.reward.judge import make_judge
from ltrl_cli.grpo import form, shaping
from ltrl_cli.grpo.config import GrpoSettings

SPECIAL = {1: "<|endoftext|>", 2: "<|im_end|>", 3: "<|im_start|>"}


class _QwenLikeTokenizer:
    """Ids are character codes, except Qwen3's three special tokens (1, 2, 3); <|im_end|> ends a turn."""

    eos_token_id, pad_token_id = 2, 1
    all_special_tokens = list(SPECIAL.values())

    def batch_decode(self, ids, skip_special_tokens=True):
        return ["".join("" if i in SPECIAL and skip_special_tokens else SPECIAL.get(i, chr(i)) for i in seq)
                for seq in ids]


class _CountingJudge:
    """The `contains` judge, counting what it was asked."""

    def __init__(self):
        self.inner, self.asked = make_judge("contains"), []

    async def judge(self, question, content, label):
        self.asked.append(content)
        return await self.inner.judge(question, content, label)


def ids(text: str, stop: int | None = 2) -> list[int]:
    """Plain text as ids, ended by `stop` (None: cut by the length limit)."""
    return [ord(c) for c in text] + ([stop] if stop is not None else [])


# One group of 8 for "Paris" with rubric [France, Europe]; the truncated one has the best text.
GROUP = [
    ("well formed, right, half the rubric", ids("hm\n</think>\n\nParis, France"), ()),
    ("truncated", ids("hm\n</think>\n\nParis, France, Europe", stop=None), ("truncated",)),
    ("wrong stop token", ids("hm</think>Paris, France, Europe", stop=1), ("wrong_stop",)),
    ("two </think>", ids("hm</think>x</think>Paris, France, Europe"), ("think_count",)),
    ("empty reasoning", ids("</think>Paris, France, Europe"), ("empty_reasoning",)),
    ("empty content", ids("Paris, France, Europe</think>\n"), ("empty_content",)),
    ("special token in content", ids("hm</think>Paris, France, Europe")[:-1] + [3, ord("x"), 2], ("special_token",)),
    ("well formed, wrong, whole rubric", ids("hm</think>Lyon, France, Europe"), ()),
]
INPUTS = [{"label": "Paris", "rubrics": ["France", "Europe"], "question": "Capital?", "prompt_id": "q"}] * len(GROUP)


def _scores(punish: bool):
    judge = _CountingJudge()
    reward = shaping.LtrlReward(GrpoSettings(judge="contains"), judge, _QwenLikeTokenizer())
    local = reward.local_scores(INPUTS, [g[1] for g in GROUP], stop_ids={1, 2}, punish=punish)
    return local, shaping.shape_batch(local, len(GROUP)), judge


def test_each_rule_names_its_completion():
    local, _, _ = _scores(punish=True)
    assert [c.ill_formed for c in local] == [g[2] for g in GROUP]


def test_ill_formed_score_zero_enter_the_max_as_zero_and_are_not_judged():
    local, rewards, judge = _scores(punish=True)
    assert [r.reward for r in rewards] == [pytest.approx(0.7 + 0.3 * 0.5)] + [0.0] * 7
    # the group max is the well-formed wrong answer's full recall, not the ill-formed ones'
    assert [r.rubric_reward_normalized for r in rewards] == [0.5, 0, 0, 0, 0, 0, 0, 1.0]
    assert all(r.outcome_reward == 0.0 and r.rubric_reward == 0.0 for r in rewards[1:7])
    assert len(judge.asked) == 2  # only the well-formed two went to the judge
    metrics = shaping.batch_metrics(rewards, local)
    assert (metrics["ill_formed"], metrics["ill_formed_fraction"]) == (6.0, 0.75)
    rows = shaping.reward_rows(1, local, rewards, len(GROUP))
    assert rows[1]["ill_formed"] == ["truncated"] and rows[1]["reward"] == 0.0


def test_without_the_rule_the_truncated_completion_wins_the_group():
    local, rewards, judge = _scores(punish=False)
    assert not any(c.ill_formed for c in local) and len(judge.asked) == 7  # empty content is never asked
    best = max(range(len(GROUP)), key=lambda i: rewards[i].reward)
    assert GROUP[best][0] == "truncated" and rewards[best].reward == 1.0


def test_the_rules_read_the_trainers_stop_ids():
    rules = form.StopTokens.of(_QwenLikeTokenizer(), {1, 2})
    assert (rules.end_of_turn, rules.stops) == (2, frozenset({1, 2}))
    assert form.problems(ids("a</think>b"), "a</think>b", rules) == []
    assert form.problems(ids("a</think>b"), "a</think>b", rules, thinking=False) == []
    assert form.problems(ids("ab"), "ab", rules, thinking=False) == []  # a model that does not think
    assert form.problems(ids("ab"), "ab", rules) == ["think_count", "empty_content"]


def test_a_completion_never_runs_past_the_total():
    prompts = [[7] * 90, [7] * 10, [7] * 100]
    completions = [[5] * 20, [5] * 20, [5] * 3]
    cut, logprobs, count = form.cut_to_total(prompts, completions, [[-0.5] * 20, [-0.5] * 20, [-0.5] * 3], 100)
    assert [len(c) for c in cut] == [10, 20, 0] and [len(lp) for lp in logprobs] == [10, 20, 0] and count == 2
    assert form.cut_to_total(prompts, completions, None, 100)[1] is None
    # a cut completion has no stop token: it is truncated, so scored 0 under punish_ill_formed
    rules = form.StopTokens.of(_QwenLikeTokenizer(), {1, 2})
    assert form.problems(cut[0], "", rules)[0] == "truncated"
    with pytest.raises(ValueError, match="2 prompts but 3 completions"):
        form.cut_to_total(prompts[:2], completions, None, 100)
