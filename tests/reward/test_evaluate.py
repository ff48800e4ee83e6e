"""POST /evaluate's rules (the authors' server, point by point), in-process, on bodies whose
numbers are worked out by hand in the comments. The HTTP side is test_server.py."""

from __future__ import annotations

import asyncio
import json

import pytest

from ltrl_cli.reward.evaluate import BadRequest
from ltrl_cli.reward.judge import RuleJudge, Verdict
from ltrl_cli.reward.scoring import ScoreOptions
from ltrl_cli.reward.service import JudgeFailed, RewardService


class Recording:
    """A judge that says "correct" when the label is in the text, and records what it was shown."""

    name = "recording"

    def __init__(self, verdict: Verdict | None = None):
        self.seen: list[tuple] = []
        self.verdict = verdict

    async def judge(self, question, content, label):
        self.seen.append((question, content, label))
        if self.verdict is not None:
            return self.verdict
        return await RuleJudge("contains").judge(question, content, label)


def evaluate(body, judge=None, on_judge_error="error"):
    service = RewardService(judge or Recording(), ScoreOptions(), on_judge_error=on_judge_error)
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return asyncio.run(service.evaluate(raw))


def info(**overrides):
    base = {"question": "Which city?", "rubrics": ["France", "Seine"], "rubric_reward_ratio": 0.3,
            "rubric_use_content": True, "rubric_use_reasoning_content": False, "dataset_name": "longqa"}
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not ...}


def body(response=None, history=None, **extra):
    out = {"label": "Paris", "extra_reward_info": info(**extra)}
    if history is not None:
        out["history"] = history
    else:
        out["response"] = response
    return out


def numbers(reply):
    return reply["outcome_reward"], reply["rubric_reward"], reply["reward"]


# ---------------------------------------------------------------- response mode

def test_response_split_at_the_first_think():
    judge = Recording()
    reply = evaluate(body("<think>by the Seine</think>Paris, in France"), judge)
    # judged: "Paris, in France" -> 1; rubric in content only: France yes, Seine no -> 0.5
    # reward = 0.7 * 1 + 0.3 * 0.5
    assert numbers(reply) == pytest.approx((1.0, 0.5, 0.85))
    assert judge.seen == [("Which city?", "Paris, in France", "Paris")]


def test_response_without_think_is_all_content_and_judged_whole():
    judge = Recording()
    reply = evaluate(body("  Paris, France, by the Seine  "), judge)
    assert numbers(reply) == pytest.approx((1.0, 1.0, 1.0))
    assert judge.seen[0][1] == "Paris, France, by the Seine"


def test_two_thinks_content_after_the_first_judged_after_the_last():
    judge = Recording()
    response = "<think>Seine</think>Lyon, France</think> Paris"
    reply = evaluate(body(response, rubrics=["Lyon", "think", "Seine"]), judge)
    # content (after the FIRST </think>): "Lyon, France</think> Paris" -> normalised
    # "lyon france think paris": Lyon yes, think yes, Seine (in the reasoning) no -> 2/3
    # judged: after the LAST </think>: "Paris" -> 1; reward 0.7 + 0.3 * 2/3 = 0.9
    assert numbers(reply) == pytest.approx((1.0, 2 / 3, 0.9))
    assert judge.seen[0][1] == "Paris"
    reasoning = evaluate(body(response, rubrics=["Seine"], rubric_use_content=False,
                              rubric_use_reasoning_content=True))
    assert reasoning["rubric_reward"] == 1.0  # reasoning: before the first </think>, <think> removed


def test_empty_content_scores_zero_without_asking():
    judge = Recording()
    reply = evaluate(body("<think>Paris, France, Seine</think>   "), judge)
    assert numbers(reply) == (0.0, 0.0, 0.0) and judge.seen == []


# ---------------------------------------------------------------- eta 0 and 1

def test_eta_zero_skips_the_rubric_entirely():
    # Rubrics malformed and the switches missing: never read when eta is 0.
    reply = evaluate(body("</think>Paris", rubric_reward_ratio=0, rubrics="not a list",
                          rubric_use_content=..., rubric_use_reasoning_content=...))
    assert numbers(reply) == (1.0, 0.0, 1.0)


def test_eta_one_skips_the_judge_and_the_question():
    judge = Recording()
    reply = evaluate(body("</think>Lyon, France", rubric_reward_ratio=1, question=...), judge)
    # outcome never computed (0); rubric 0.5; reward = 0 * 0 + 1 * 0.5
    assert numbers(reply) == (0.0, 0.5, 0.5) and judge.seen == []


def test_linear_blend_not_positive_only():
    reply = evaluate(body("</think>Lyon, France"))
    # wrong answer, rubric 0.5: (1 - 0.3) * 0 + 0.3 * 0.5 = 0.15 (positive-only would give 0)
    assert numbers(reply) == pytest.approx((0.0, 0.5, 0.15))


# ---------------------------------------------------------------- history mode

HISTORY = [
    {"role": "system", "content": "Seine"},  # not the assistant's: never searched
    {"role": "user", "content": "long context about France and the Seine"},
    {"role": "assistant", "reasoning_content": " thinking of the Louvre ", "content": "let me search"},
    {"role": "tool", "content": "France"},
    {"role": "assistant", "reasoning_content": "Europe", "content": "<think>x</think> It is Paris."},
]


@pytest.mark.parametrize("use_reasoning, use_content, expected", [
    (False, True, 0.0),  # contents: "let me search", "<think>x</think> It is Paris." -> none of the four
    (True, False, 0.5),  # reasoning of both turns: Louvre, Europe
    (True, True, 0.5),
    (False, False, 0.0),
])
def test_history_rubric_over_every_assistant_turn(use_reasoning, use_content, expected):
    judge = Recording()
    reply = evaluate(body(history=HISTORY, rubrics=["Louvre", "Europe", "Seine", "France"],
                          rubric_use_reasoning_content=use_reasoning, rubric_use_content=use_content), judge)
    assert reply["rubric_reward"] == expected
    assert judge.seen[0][1] == "It is Paris."  # the last content, after its last </think>
    assert reply["reward"] == pytest.approx(0.7 + 0.3 * expected)


@pytest.mark.parametrize("last", [
    {"role": "assistant", "truncated_content": "Paris, France, Seine"},  # slime's cut turn: no `content`
    {"role": "user", "content": "Paris"},
    {"role": "tool", "content": "Paris"},
])
def test_truncated_or_foreign_last_turn_scores_zeros(last):
    judge = Recording()
    # Not even extra_reward_info's fields are needed: their server answers before reading them.
    request = {"label": "Paris", "extra_reward_info": {}, "history": [{"role": "user", "content": "q"}, last]}
    assert evaluate(request, judge) == {"outcome_reward": 0.0, "rubric_reward": 0.0, "reward": 0.0}
    assert judge.seen == []


# ---------------------------------------------------------------- the normaliser

@pytest.mark.parametrize("rubrics, expected", [
    (["—", "Москва", "Ελλάδα"], 1.0),  # normalise to "": a substring of anything, so found
    (["\u3400", "\U00020000"], 1.0),  # CJK Extension A and B: not kept, so "" and found
    (["北京"], 1.0),  # U+4E00..U+9FFF kept one by one: found in 北京市
    (["北京", "上海"], 0.5),
    ([], 0.0),  # an empty list scores 0
    (["Zürich"], 1.0),  # "z rich": ü is a separator, in the entity and in "z-rich" alike
])
def test_normaliser(rubrics, expected):
    reply = evaluate(body("</think>Paris 北京市 z-rich", rubrics=rubrics))
    assert reply["rubric_reward"] == expected


# ---------------------------------------------------------------- longrlvr

def test_longrlvr_fbeta_over_the_last_useful_chunks_block():
    response = ("</think><useful_chunks><CHUNK_3></useful_chunks> so Paris "
                "<USEFUL_CHUNKS><chunk 1> <CHUNK2></useful_chunks>")
    reply = evaluate(body(response, rubrics=[1, 3], dataset_name="longrlvr"))
    # last block: {1, 2}; gold {1, 3}: P = 1/2, R = 1/2, F2 = 5 * 1/4 / (4 * 1/2 + 1/2) = 0.5
    # reward = outcome + eta F + (1 - eta) outcome F = 1 + 0.15 + 0.35
    assert numbers(reply) == pytest.approx((1.0, 0.5, 1.5))
    wrong = evaluate(body(response.replace("Paris", "Lyon"), rubrics=[1, 3], dataset_name="longrlvr"))
    assert numbers(wrong) == pytest.approx((0.0, 0.5, 0.15))  # 0 + 0.3 * 0.5 + 0
    none = evaluate(body("</think>Paris", rubrics=[1], dataset_name="longrlvr"))
    assert numbers(none) == (1.0, 0.0, 1.0)  # no block: F = 0


# ---------------------------------------------------------------- missing and mistyped fields

@pytest.mark.parametrize("request_body, message", [
    (b"{nope", "not valid JSON"),
    (b"[1]", "body must be a JSON object"),
    ({"extra_reward_info": info(), "response": "x"}, "missing field 'label'"),
    ({"label": "x", "response": "x"}, "missing field 'extra_reward_info'"),
    ({"label": "x", "extra_reward_info": info()}, "missing field 'history' (or 'response')"),
    (body("x", rubric_reward_ratio=...), "missing field 'extra_reward_info.rubric_reward_ratio'"),
    (body("x", dataset_name=...), "missing field 'extra_reward_info.dataset_name'"),
    (body("x", question=...), "missing field 'extra_reward_info.question'"),
    (body("x", rubric_use_content=...), "missing field 'extra_reward_info.rubric_use_content'"),
    (body("x", rubric_use_reasoning_content=...), "rubric_use_reasoning_content"),
    (body("x", rubric_reward_ratio="0.3"), "rubric_reward_ratio' must be a number"),
    (body("x", rubrics="France"), "rubrics' must be a list"),
    (body("x", rubrics=[1]), "list of strings"),
    ({"label": ["a"], "extra_reward_info": info(), "response": "x"}, "field 'label' must be a string"),
    ({"label": "x", "extra_reward_info": [], "response": "x"}, "'extra_reward_info' must be a JSON object"),
    (body(1), "field 'response' must be a string"),
    (body(history=[]), "non-empty list"),
    (body(history=[{"content": "x"}]), "with a 'role'"),
    (body(history=[{"role": "assistant", "content": None}]), "'content' must be a string"),
    (body(history=[{"role": "assistant", "content": 5, "reasoning_content": "r"},
                   {"role": "assistant", "content": "Paris"}]), "history[0].content must be a string"),
])
def test_bad_bodies_are_one_line_errors(request_body, message):
    with pytest.raises(BadRequest) as caught:
        evaluate(request_body)
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_unused_fields_may_be_missing():
    assert evaluate(body("</think>Paris, France", question=..., rubric_reward_ratio=1))["reward"] == 0.5
    minimal = {"label": 3, "extra_reward_info": {"rubric_reward_ratio": 0, "dataset_name": None, "question": "q"},
               "response": "3"}
    assert numbers(evaluate(minimal)) == (1.0, 0.0, 1.0)  # a numeric label is its text


# ---------------------------------------------------------------- a judge without a verdict

def test_judge_failure_is_an_error_by_default_and_never_names_the_endpoint():
    failed = Verdict(None, error="judge endpoint failed: endpoint http://10.1.2.3:8001/v1/chat/completions "
                                 "unreachable after 7 tries: Cannot connect to host 10.1.2.3:8001")
    with pytest.raises(JudgeFailed) as caught:
        evaluate(body("</think>Paris"), Recording(failed))
    assert "unreachable" in str(caught.value) and "10.1.2.3" not in str(caught.value)
    assert "8001" not in str(caught.value)


def test_judge_failure_zero_is_counted():
    service = RewardService(Recording(Verdict(None, error="no verdict")), ScoreOptions(), on_judge_error="zero")
    reply = asyncio.run(service.evaluate(json.dumps(body("</think>Paris, France")).encode()))
    assert numbers(reply) == pytest.approx((0.0, 0.5, 0.15))
    assert service.counts["judge_failures_zeroed"] == 1
