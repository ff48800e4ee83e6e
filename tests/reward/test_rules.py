"""The reward rules (METHOD.md "Reward"): normalisation, recall, the </think> split, group
normalisation and the four combination modes, against hand-computed cases and properties."""

from __future__ import annotations

import doctest
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ltrl_cli.reward import rules as R
from ltrl_cli.reward.rules import (
    combine, group_normalize, normalize, rubric_recall, rubric_source, score_group, score_response, split_response,
)

# Text with the characters that matter: ASCII letters/digits/underscore, punctuation, white
# space, accented Latin, CJK ideographs, kana (not CJK ideographs: separators), emoji.
ALPHABET = st.sampled_from(list("abcXYZ019_ -.,!?'\"\n\t") + ["é", "ß", "İ", "北", "京", "の", "😀", "Ω"])
TEXT = st.text(ALPHABET, max_size=40)
ASCII = st.text(st.sampled_from(list("abcdeXYZ0129_ -.,!?")), max_size=40)
# No deadline: the suite runs on a shared 2-core machine where one slow example is not a bug.
PROPERTY = settings(deadline=None, max_examples=100)
TOKEN_RE = re.compile(r"^([a-z0-9_]+|[\u4e00-\u9fff])$")


def test_doctests_pass():
    assert doctest.testmod(R).failed == 0


# ---------------------------------------------------------------- normalize

@pytest.mark.parametrize("text, expected", [
    ("Hello,  World!", "hello world"),
    ("New-York_City 2024", "new york_city 2024"),
    ("北京大学 Peking", "北 京 大 学 peking"),
    ("Zürich", "z rich"),  # non-ASCII letters are separators, on both sides alike
    ("", ""),
    ("?!", ""),
    ("<think>x</think>", "think x think"),
])
def test_normalize_cases(text, expected):
    assert normalize(text) == expected


@PROPERTY
@given(TEXT)
def test_normalize_output_is_tokens_joined_by_single_spaces(text):
    out = normalize(text)
    assert out == out.strip() and "  " not in out
    assert all(TOKEN_RE.match(token) for token in out.split(" ")) if out else True


@PROPERTY
@given(TEXT)
def test_normalize_is_idempotent(text):
    assert normalize(normalize(text)) == normalize(text)


@PROPERTY
@given(TEXT, TEXT)
def test_normalize_of_joined_text_joins_normalized_parts(a, b):
    expected = " ".join(part for part in (normalize(a), normalize(b)) if part)
    assert normalize(f"{a} {b}") == expected


@PROPERTY
@given(ASCII)
def test_normalize_ignores_ascii_case(text):
    assert normalize(text.upper()) == normalize(text.lower()) == normalize(text)


# ---------------------------------------------------------------- rubric_recall

def test_recall_hand_cases():
    text = "The film was shot in New York City by Kurosawa; 北京 was not involved."
    assert rubric_recall(text, ["New York", "Kurosawa", "Tokyo", "北京"]) == 0.75
    assert rubric_recall(text, ["new-york city"]) == 1.0  # same normal form
    assert rubric_recall(text, ["York Cit"]) == 1.0  # a substring of the normal form counts (the method's rule)
    assert rubric_recall(text, ["Yorkshire"]) == 0.0


def test_recall_empty_rubric_and_empty_entities():
    # The authors' server: an entity that normalises to "" is a substring of any text, so found.
    assert rubric_recall("anything at all", []) == 0.0
    assert rubric_recall("anything at all", ["!!", "  "]) == 1.0
    assert rubric_recall("anything at all", ["!!", "nothing"]) == 0.5
    assert rubric_recall("", ["Москва", "Ελλάδα", "—"]) == 1.0  # no ASCII word, no U+4E00..U+9FFF ideograph


def test_normalize_keeps_only_the_unified_cjk_block():
    assert normalize("北京") == "北 京"
    assert normalize("\u3400\U00020000\uf900") == ""  # Extension A, B and Compatibility: dropped, as theirs


def test_recall_counts_duplicates_as_given():
    assert rubric_recall("alpha", ["alpha", "alpha", "beta"]) == pytest.approx(2 / 3)


@PROPERTY
@given(TEXT, st.lists(TEXT, max_size=6))
def test_recall_is_a_fraction_of_listed_entities(text, rubrics):
    value = rubric_recall(text, rubrics)
    assert 0.0 <= value <= 1.0
    if rubrics:
        assert value * len(rubrics) == pytest.approx(round(value * len(rubrics)))
        assert value >= sum(1 for r in rubrics if not normalize(r)) / len(rubrics)  # "" entities are found
    else:
        assert value == 0.0


@PROPERTY
@given(st.lists(TEXT, min_size=1, max_size=6))
def test_a_text_made_of_the_entities_finds_them_all(rubrics):
    assert rubric_recall(" ".join(rubrics), rubrics) == 1.0


@settings(deadline=None, max_examples=1000)
@given(TEXT, TEXT)
def test_recall_without_normalising_the_text_is_the_normal_form_rule(text, entity):
    # rubric_recall searches the lower-cased text; the rule is a substring of normal forms.
    assert rubric_recall(text, [entity]) == float(normalize(entity) in normalize(text))
    inside = f"x{text}{entity}{text}y"
    assert rubric_recall(inside, [entity]) == 1.0


@PROPERTY
@given(TEXT, TEXT, st.lists(TEXT, max_size=5))
def test_recall_never_drops_when_text_is_added(text, more, rubrics):
    assert rubric_recall(f"{text} {more}", rubrics) >= rubric_recall(text, rubrics)


@PROPERTY
@given(TEXT, st.lists(TEXT, max_size=5))
def test_recall_ignores_case_and_punctuation_of_entities(text, rubrics):
    loud = [f"¡{r.upper()}!" if r.isascii() else r for r in rubrics]
    assert rubric_recall(text, loud) == rubric_recall(text, rubrics)


# ---------------------------------------------------------------- split_response / rubric_source

def test_split_at_the_last_think_close():
    parts = split_response("<think>a</think>b</think>  final ")
    assert (parts.reasoning, parts.content, parts.think_closes) == ("a</think>b", "final", 2)
    assert parts.malformed and not parts.empty_content


def test_split_well_formed_and_empty_content():
    ok = split_response("reasoning here\n</think>\n\nParis")
    assert (ok.reasoning, ok.content, ok.malformed, ok.empty_content) == ("reasoning here", "Paris", False, False)
    empty = split_response("<think>thought</think>   ")
    assert empty.empty_content and not empty.malformed


def test_split_without_think_close():
    thinking = split_response("<think>never finished")
    assert (thinking.reasoning, thinking.content, thinking.malformed, thinking.empty_content) == \
        ("never finished", "", True, True)
    plain = split_response("Paris", thinking=False)
    assert (plain.reasoning, plain.content, plain.malformed, plain.empty_content) == ("", "Paris", False, False)
    assert split_response("a</think>b</think>c", thinking=False).malformed


def test_rubric_source_parts():
    parts = split_response("<think>Seine</think>France")
    assert rubric_source(parts) == "France"
    assert rubric_source(parts, "reasoning") == "Seine"
    assert rubric_source(parts, "both") == "Seine\nFrance"
    with pytest.raises(ValueError):
        rubric_source(parts, "everything")


# ---------------------------------------------------------------- group_normalize

@pytest.mark.parametrize("values, expected", [
    ([0.2, 0.4, 0.0, 0.1], [0.5, 1.0, 0.0, 0.25]),
    ([0.0, 0.0, 0.0], [0.0, 0.0, 0.0]),  # all-zero group: unchanged (no division by zero)
    ([1.0, 1.0], [1.0, 1.0]),
    ([], []),
    ([0.3], [1.0]),
])
def test_group_normalize(values, expected):
    assert group_normalize(values) == pytest.approx(expected)


@PROPERTY
@given(st.lists(st.floats(0, 1), max_size=8))
def test_group_normalize_properties(values):
    out = group_normalize(values)
    assert len(out) == len(values)
    if values and max(values) > 0:
        assert max(out) == pytest.approx(1.0) and all(0 <= v <= 1 for v in out)
    else:
        assert out == values


# ---------------------------------------------------------------- combine

# (mode, outcome, rubric, alpha, expected) worked out by hand from METHOD.md.
COMBINE_CASES = [
    ("positive-only", 1, 0.5, 0.3, 0.7 + 0.15),
    ("positive-only", 0, 0.5, 0.3, 0.0),
    ("positive-only", 1, 0.0, 0.3, 0.7),
    ("positive-only", 1, 1.0, 0.3, 1.0),
    ("positive-only", 1, 0.4, 0.1, 0.9 + 0.04),
    ("pos-neg", 1, 0.5, 0.3, 0.85),
    ("pos-neg", 0, 0.5, 0.3, 0.15),
    ("pos-neg", 0, 0.0, 0.3, 0.0),
    ("neg-only", 1, 0.5, 0.3, 1.0),
    ("neg-only", 0, 0.5, 0.3, 0.15),
    ("neg-only", 0, 1.0, 0.5, 0.5),
    ("longrlvr", 1, 0.5, 0.3, 1 + 0.15 + 0.35),
    ("longrlvr", 0, 0.5, 0.3, 0.15),
    ("longrlvr", 1, 0.0, 0.3, 1.0),
    ("longrlvr", 1, 1.0, 0.3, 2.0),
]


@pytest.mark.parametrize("mode, outcome, rubric, alpha, expected", COMBINE_CASES)
def test_combine_hand_cases(mode, outcome, rubric, alpha, expected):
    assert combine(outcome, rubric, mode, alpha) == pytest.approx(expected)


@pytest.mark.parametrize("mode", ["positive-only", "pos-neg", "neg-only"])
@given(outcome=st.sampled_from([0.0, 1.0]), rubric=st.floats(0, 1))
@settings(max_examples=30, deadline=None)
def test_eval_mode_is_the_outcome_alone(mode, outcome, rubric):
    assert combine(outcome, rubric, mode, alpha=0.0) == outcome


def test_every_mode_has_a_case_and_bad_arguments_raise():
    assert {case[0] for case in COMBINE_CASES} == set(R.MODES)
    with pytest.raises(ValueError, match="mode"):
        combine(1, 0, "sum")
    with pytest.raises(ValueError, match="alpha"):
        combine(1, 0, alpha=1.5)


# ---------------------------------------------------------------- score_group / score_response

def test_score_group_positive_only_end_to_end():
    responses = ["<think>x</think>Paris, France, Seine", "<think>x</think>Paris, France", "<think>x</think>Lyon",
                 "<think>no close"]
    rewards = score_group(responses, [1.0, 1.0, 0.0, 1.0], ["France", "Seine", "Louvre", "Europe"])
    assert [r.rubric_reward for r in rewards] == [0.5, 0.25, 0.0, 0.0]
    assert [r.rubric_reward_normalized for r in rewards] == [1.0, 0.5, 0.0, 0.0]
    assert [r.outcome_reward for r in rewards] == [1.0, 1.0, 0.0, 0.0]  # no content: outcome 0 whatever was passed
    assert [r.reward for r in rewards] == pytest.approx([1.0, 0.85, 0.0, 0.0])
    assert [r.malformed for r in rewards] == [False, False, False, True]
    assert rewards[3].empty_content and not rewards[3].excluded


def test_score_group_excluded_responses_leave_the_group_max_alone():
    responses = ["</think>A B C D", "</think>A B", "</think>A"]
    rewards = score_group(responses, [None, 1.0, 0.0], ["a", "b", "c", "d"], mode="pos-neg")
    assert rewards[0].excluded and rewards[0].reward is None and rewards[0].outcome_reward is None
    assert rewards[0].rubric_reward == 1.0 and rewards[0].rubric_reward_normalized is None
    # The max over the scored responses is 0.5 (not the excluded 1.0).
    assert [r.rubric_reward_normalized for r in rewards[1:]] == [1.0, 0.5]
    assert [r.reward for r in rewards[1:]] == pytest.approx([0.7 + 0.3, 0.15])


def test_score_group_all_zero_rubric_and_flags():
    rewards = score_group(["</think>x", "</think>y"], [1, 0], ["z"], mode="neg-only", truncated=[True, False])
    assert [r.rubric_reward_normalized for r in rewards] == [0.0, 0.0]
    assert [r.reward for r in rewards] == [1.0, 0.0]
    assert [r.truncated for r in rewards] == [True, False]


def test_score_group_rubric_on_reasoning_and_both():
    responses = ["<think>Seine</think>France"]
    assert score_group(responses, [1], ["Seine", "France"], rubric_on="reasoning")[0].rubric_reward == 0.5
    assert score_group(responses, [1], ["Seine", "France"], rubric_on="both")[0].rubric_reward == 1.0


def test_score_group_rejects_bad_arguments():
    with pytest.raises(ValueError, match="outcomes"):
        score_group(["</think>a"], [1, 0], [])
    with pytest.raises(ValueError, match="outcome"):
        score_group(["</think>a"], [2.0], [])
    with pytest.raises(ValueError, match="mode"):
        score_group(["</think>a"], [1], [], mode="max")
    with pytest.raises(ValueError, match="rubric_on"):
        score_group(["</think>a"], [1], [], rubric_on="all")


def test_score_response_uses_the_raw_rubric():
    reward = score_response("</think>France", 1.0, ["France", "Seine"])
    assert reward.rubric_reward == 0.5 and reward.rubric_reward_normalized is None
    assert reward.reward == pytest.approx(0.7 + 0.15)  # not normalised to 1.0 as a group of one would be
    assert score_response("</think>France", None, ["France"]).excluded
