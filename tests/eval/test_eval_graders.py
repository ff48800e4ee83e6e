"""Graders against hand-computed cases: MRCR's prefix rule and ratio, LongBench v2's
official extraction and its fallback, option letters through markdown and case, the
judges' verdict parsers, truncation, and the summary arithmetic."""

from __future__ import annotations

import asyncio
from difflib import SequenceMatcher

import pytest

from ltrl_cli.eval import aa_lcr, frames, longbench_v2, longreason, mrcr
from ltrl_cli.eval.common import Graders, Item, extract_letter
from ltrl_cli.eval.summary import summarize
from ltrl_cli.eval.truncate import cut_middle, fit_messages


def grade(module, item, content):
    return asyncio.run(module.grade(item, content, None))


# ---------------------------------------------------------------- MRCR


@pytest.mark.parametrize("response,expected", [
    ("aB3xHello there", 1.0),  # exact
    ("Hello there", 0.0),  # no prefix: 0 whatever the rest
    ("xaB3Hello there", 0.0),  # prefix not at the start
    ("ab3xHello there", 0.0),  # the prefix is case-sensitive
    ("aB3xHello", 2 * 5 / (5 + 11)),  # ratio = 2M / T: 5 matching chars of 5 + 11
    ("aB3x", 0.0),  # the prefix alone: nothing of the rest matches
])
def test_mrcr_prefix_rule_and_ratio(response, expected):
    item = Item("m", [], "aB3xHello there", grading={"random_string_to_prepend": "aB3x"})
    assert grade(mrcr, item, response).score == pytest.approx(expected)


def test_mrcr_strips_the_prefix_from_both_sides_before_the_ratio():
    # Were the prefix kept, the ratio would rise: the shared prefix would count as matching.
    rest, gold = "The cat sat", "A dog ran far"
    expected = SequenceMatcher(None, rest, gold).ratio()
    assert mrcr.score("QQ" + rest, "QQ" + gold, "QQ") == pytest.approx(expected)
    assert expected < SequenceMatcher(None, "QQ" + rest, "QQ" + gold).ratio()


# ---------------------------------------------------------------- LongBench v2


@pytest.mark.parametrize("response,letter,rule", [
    ("The correct answer is (C)", "C", "official"),
    ("**The correct answer is (C)**", "C", "official"),  # the owners drop '*' first
    ("The correct answer is D.", "D", "official"),  # the fallback without parentheses
    ("The correct answer is (A) ... no wait, The correct answer is (B)", "A", "official"),  # owners: first match
    ("the correct answer is (c)", "C", "tolerant"),  # lower case: only our fallback reads it
    ("The correct answer is __(b)__", "B", "tolerant"),
    ("Answer: **d**", "D", "tolerant"),
    ("The correct answer is a mix of both", None, None),  # the article "a" is not option A
    ("I cannot decide.", None, None),
])
def test_longbench_v2_extraction(response, letter, rule):
    assert longbench_v2.extract(response) == (letter, rule)


def test_longbench_v2_grade():
    item = Item("x", [], "C")
    assert grade(longbench_v2, item, "The correct answer is (C)").score == 1.0
    assert grade(longbench_v2, item, "The correct answer is (B)").score == 0.0
    assert grade(longbench_v2, item, "no idea").score == 0.0 and grade(longbench_v2, item, "no idea").extracted is None


# ---------------------------------------------------------------- LongReason / option letters


@pytest.mark.parametrize("text,letter", [
    ("The final answer is (C)", "C"),
    ("The final answer is **B**.", "B"),
    ("final answer: c", "C"),
    ("Therefore the answer is \\boxed{D}", "D"),
    ("Options (A) and (B) fail.\n\nAnswer: (b)", "B"),
    ("The answer is A. Wait, re-checking... The answer is D.", "D"),  # the last commitment wins
    ("C", "C"),
    ("**(a)**", "A"),
    ("I think the answer is a tricky one", None),
    ("The answer is E", None),  # not an option of this question
])
def test_extract_letter(text, letter):
    assert extract_letter(text, "ABCD") == letter


def test_longreason_grade_uses_the_options_the_prompt_lists():
    item = Item("r", [], "E", grading={"letters": longreason.options("Q\n(A) a\n(B) b\n(C) c\n(D) d\n(E) e")})
    assert item.grading["letters"] == "ABCDE"
    assert grade(longreason, item, "The final answer is (E).").score == 1.0
    assert grade(longreason, item, "The final answer is (D).").score == 0.0


# ---------------------------------------------------------------- judges


@pytest.mark.parametrize("reply,verdict", [
    ("CORRECT", True), ("INCORRECT", False), ("**Correct**", True), ("incorrect.", False),
    ("The candidate is CORRECT, not INCORRECT. Final: INCORRECT", False), ("unsure", None), ("", None),
])
def test_aa_lcr_verdict(reply, verdict):
    assert aa_lcr.parse_verdict(reply) is verdict


@pytest.mark.parametrize("reply,verdict", [
    ('Explanation: ok\nDecision: "TRUE"', True), ("**Decision:** FALSE", False), ("decision: true", True),
    ("TRUE", True), ("Explanation: it is not TRUE.\nDecision: FALSE", False), ("maybe", None),
])
def test_frames_verdict(reply, verdict):
    assert frames.parse_verdict(reply) is verdict


def test_frames_substring_match():
    assert frames.substring_match("So the answer is **The Jane Ballou**!", "Jane Ballou") == 1.0
    assert frames.substring_match("Jane B.", "Jane Ballou") == 0.0


def test_judge_prompts_fill_in():
    filled = aa_lcr.JUDGE_PROMPT.format(question="Q?", response="cand", label="gold")
    assert "The OFFICIAL ANSWER: gold\nCANDIDATE ANSWER TO ASSESS: cand" in filled
    assert filled.endswith("Reply only with CORRECT or INCORRECT.")
    filled = frames.JUDGE_PROMPT.format(question="Q?", response="cand", label="gold")
    assert "- Question: Q?\n- Predicted Answer: cand\n- Ground Truth Answer: gold" in filled


def test_an_empty_final_answer_is_0_without_asking_the_judge():
    item = Item("a", [], "Paris", question="Capital?")
    result = asyncio.run(aa_lcr.grade(item, "   ", Graders()))  # no judge model: it must not be needed
    assert result.score == 0.0 and result.judge["skipped"] == "empty final answer"


# ---------------------------------------------------------------- truncation and summary


class Chars:
    name = "chars"

    def encode(self, text):
        return list(text)

    def prefix(self, text, n):
        return text[:n]


def test_cut_middle_keeps_both_ends():
    assert cut_middle("0123456789", Chars(), 5) == ("0156789"[:2] + "789", 10)


def test_fit_messages_drops_middle_turns_in_pairs():
    chat = [{"role": "user" if i % 2 == 0 else "assistant", "content": f"m{i}xxxxxxxx"} for i in range(7)]
    fitted, info = fit_messages(chat, Chars(), 45)
    assert fitted[-1] == chat[-1] and fitted[0] == chat[0]
    roles = [m["role"] for m in fitted]
    assert all(a != b for a, b in zip(roles, roles[1:]))  # still alternating
    assert info["truncated"] and info["dropped_messages"] == 4 and info["kept_tokens"] <= 45
    untouched, info = fit_messages(chat, Chars(), 1000)
    assert untouched == chat and info == {"tokenizer": "chars", "max_context": 1000, "tokens": 70, "truncated": False}


def test_fit_messages_with_tiktoken(shared_data):
    from ltrl_cli.backends.tokenize import load_tokenizer

    tok = load_tokenizer("tiktoken:cl100k_base")
    text = "START " + "lorem ipsum dolor " * 500 + " END"
    [message], info = fit_messages([{"role": "user", "content": text}], tok, 100)
    assert message["content"].startswith("START") and message["content"].endswith(" END")
    assert info["tokens"] > 1000 and 95 <= info["kept_tokens"] <= 102


def test_summary_is_avg_at_k_in_percent_with_breakdowns():
    records = [
        {"score": 1.0, "buckets": {"difficulty": "easy"}, "samples": [{"score": 1.0}, {"score": 1.0}]},
        {"score": 0.5, "buckets": {"difficulty": "hard"}, "samples": [{"score": 1.0}, {"score": 0.0}]},
        {"score": 0.0, "buckets": {"difficulty": "hard"}, "samples": [{"score": 0.0}, {"score": None}],
         "prompt": {"truncated": True}},
        {"score": None, "buckets": {"difficulty": "hard"}, "samples": [{"score": None}, {"score": None}]},
    ]
    result = summarize(records, "longbench-v2", ("difficulty",))
    assert result["score"] == 50.0 and result["n"] == 4 and result["metric"] == "avg@2"
    assert result["breakdowns"]["difficulty"] == {"easy": {"n": 1, "score": 100.0}, "hard": {"n": 2, "score": 25.0}}
    assert result["ungraded_samples"] == 3 and result["unscored_items"] == 1 and result["truncated_prompts"] == 1
