"""`ltrl tier`: the tier rules on hand-made rollouts, their invariants, and the command."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ltrl_cli.errors import BadInput
from ltrl_cli.records import READS
from ltrl_cli.stages.tier import split_tiers, tier
from ltrl_cli.stats import Stats
from tests.conftest import jsonl, run_ltrl, to_jsonl


def rollout(seen, opened, cited, correct=True, stop="answered"):
    return {"seen": seen, "opened": opened, "cited": cited, "correct": correct, "stop": stop}


RECORD = {
    "id": "q1", "question": "?", "answer": "1879",
    "path": [{"id": "10", "title": "A"}, {"id": "11", "title": "B"}, {"id": "12", "title": "C"}],
    "rollouts": [
        rollout(["12", "1", "2", "3", "4", "5"], ["12", "1", "2"], ["12", "1"]),
        rollout(["2", "3", "6", "7"], ["2", "3"], ["3"]),
        rollout(["8", "9", "10"], ["8", "10"], ["8"], correct=False),  # wrong: its pages do not count
        rollout([], [], [], correct=None, stop="error"),
    ],
}


def test_tiers_follow_the_method():
    [out] = tier([RECORD])
    assert out["tiers"] == {
        "gold": ["10", "11", "12", "1", "3"],  # the chain, then what correct rollouts cited
        "tier1": ["2"],  # opened by correct rollouts, not cited, not gold
        "tier2": ["4", "5", "6", "7"],  # seen, never opened, not gold; "8" and "9" came from a wrong rollout
        "solved": True, "rollouts_used": 2,
    }
    assert {k: out[k] for k in RECORD} == RECORD, "every input key passes through unchanged"


def test_tiers_are_ordered_by_how_many_rollouts_touched_a_page():
    rollouts = [rollout(["5", "6", "7"], [], []), rollout(["7", "6"], [], []), rollout(["7"], [], [])]
    assert split_tiers([], rollouts)["tier2"] == ["7", "6", "5"]


def test_unsolved_questions_are_dropped_and_counted():
    unsolved = {**RECORD, "id": "q2", "rollouts": [rollout(["1", "2"], ["1"], ["1"], correct=False)]}
    stats = Stats()
    out = list(tier([RECORD, unsolved], stats=stats))
    assert [r["id"] for r in out] == ["q1"]
    assert stats["unsolved dropped"] == 1 and stats["gold docs"] == len(out[0]["tiers"]["gold"])


def test_keep_unsolved_flags_them_and_trusts_no_wrong_citation():
    unsolved = {**RECORD, "rollouts": [rollout(["1", "2", "10"], ["1"], ["1"], correct=False),
                                       rollout([], [], [], correct=None, stop="error")]}
    [out] = tier([unsolved], keep_unsolved=True)
    assert out["tiers"] == {"gold": ["10", "11", "12"], "tier1": ["1"], "tier2": ["2"], "solved": False,
                            "rollouts_used": 1}  # the failed rollout did nothing to learn from


@pytest.mark.parametrize("record, message", [
    ({"id": "x"}, "missing field 'rollouts' (record 'x')"),
    ({"id": "x", "rollouts": ["no"]}, "field 'rollouts[0]' must be an object, got a string (record 'x')"),
    ({"id": "x", "rollouts": [{"seen": "1,2", "correct": True}]},
     "field 'rollouts[0].seen' must be a list of strings or integers, got a string (record 'x')"),
    ({"id": "x", "path": 7, "rollouts": []}, "field 'path' must be a list of objects, got an integer (record 'x')"),
])
def test_bad_records_are_refused_at_the_entrance(record, message):
    with pytest.raises(BadInput) as caught:
        READS["tier"].check(record)
    assert caught.value.message == message


ids = st.lists(st.sampled_from([str(i) for i in range(30)]), max_size=12)


@st.composite
def rollouts(draw):
    seen = draw(ids)
    opened = draw(st.lists(st.sampled_from(seen), max_size=6)) if seen else []
    cited = draw(st.lists(st.sampled_from(opened), max_size=3)) if opened else []
    return rollout(seen, opened, cited, correct=draw(st.sampled_from([True, False, None])))


@settings(max_examples=150, deadline=None)
@given(chain=ids, runs=st.lists(rollouts(), max_size=5))
def test_tier_invariants(chain, runs):
    record = {"id": "q", "path": [{"id": i} for i in chain], "rollouts": runs}
    out = list(tier([record]))
    correct = [r for r in runs if r["correct"] is True]
    if not correct:
        assert out == []
        return
    tiers = out[0]["tiers"]
    gold, t1, t2 = set(tiers["gold"]), set(tiers["tier1"]), set(tiers["tier2"])
    cited = {i for r in correct for i in r["cited"]}
    opened = {i for r in correct for i in r["opened"]}
    seen = {i for r in correct for i in r["seen"]}
    assert gold == set(chain) | cited
    assert t1 == opened - cited - gold and t2 == seen - opened - gold
    assert not (gold & t1 or gold & t2 or t1 & t2), "tiers are disjoint"
    assert all(len(v) == len(set(v)) for v in (tiers["gold"], tiers["tier1"], tiers["tier2"])), "no repeats"


def test_tier_command_counts_on_stderr():
    unsolved = {**RECORD, "id": "q2", "rollouts": [rollout(["1"], [], [], correct=False)]}
    result = run_ltrl("tier", input=to_jsonl([RECORD, unsolved]))
    assert result.returncode == 0, result.stderr
    assert [r["id"] for r in jsonl(result.stdout)] == ["q1"]
    assert b"2 in, 1 out, 1 unsolved dropped, 5 gold docs, 1 tier1 docs, 4 tier2 docs" in result.stderr
    kept = run_ltrl("tier", "--keep-unsolved", input=to_jsonl([RECORD, unsolved]))
    assert [r["tiers"]["solved"] for r in jsonl(kept.stdout)] == [True, False]


def test_tier_command_names_the_bad_line():
    result = run_ltrl("tier", input=to_jsonl([RECORD]) + b'{"id": "q9"}\n')
    assert result.returncode == 1
    assert result.stderr.decode().strip().endswith("ltrl tier: line 2: missing field 'rollouts' (record 'q9')")
    assert len(jsonl(result.stdout)) == 1, "the good line before it was written whole"
