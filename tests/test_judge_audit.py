"""`ltrl judge-audit` against a local judge server that reports usage.

The fake judge is deliberately naive: it says yes whenever the gold answer appears in the
response, and its first reply to every third distinct prompt holds no verdict. So the
figures are known: it passes the refusal and the hedge probes, fails the empty and the
question probes, and a third of its asks need a second reply.
"""

from __future__ import annotations

import orjson
import pytest

from tests.conftest import jsonl, run_ltrl, to_jsonl
from tests.fake_openai import FakeOpenAI, completion

ANSWERS = ["1879", "Paris", "Ada Lovelace", "42 km", "blue", "1802"]


def naive_judge(body: dict) -> dict:
    prompt = body["messages"][0]["content"]
    label = prompt.split("[correct_answer]: ", 1)[1].split("\n", 1)[0]
    response = prompt.split("[response]: ", 1)[1].rsplit("\n\nReply with", 1)[0]
    said = "yes" if label.lower() in response.lower() else "no"
    return completion(f"extracted_final_answer: {response[:40]}\nreasoning: compared\ncorrect: {said}",
                      prompt_tokens=40, completion_tokens=8)


def flaky(fail_every: int):
    """The naive judge, whose first reply to every n-th prompt it sees has no verdict."""
    first_seen: dict[str, int] = {}

    def handler(body: dict) -> dict:
        prompt = body["messages"][0]["content"]
        position = first_seen.setdefault(prompt, len(first_seen))
        if position % fail_every == 0 and not handler.asked.get(prompt):
            handler.asked[prompt] = True
            return completion("I think so.", prompt_tokens=40, completion_tokens=3)
        return naive_judge(body)

    handler.asked = {}
    return handler


def scored_lines() -> list[dict]:
    """Score output: one response a line, a verdict each (some the judge got wrong)."""
    lines = []
    for i, answer in enumerate(ANSWERS):
        right = {"id": f"q{i}", "index": 0, "question": f"What is fact {i}?", "label": answer,
                 "response": f"<think>...</think>The answer is {answer}.",
                 "reward": {"reward": 1.0, "judge": {"name": "llm", "correct": True, "attempts": 1}}}
        wrong = {"id": f"q{i}", "index": 1, "question": f"What is fact {i}?", "label": answer,
                 "response": "<think>...</think>I could not find it.",
                 "reward": {"reward": 0.0, "judge": {"name": "llm", "correct": i == 0, "attempts": 2}}}
        lines += [right, wrong]
    return lines


def audit(*args: str, records: list[dict], **kwargs):
    return run_ltrl("judge-audit", *args, input=to_jsonl(records), **kwargs)


def test_agreement_with_the_rules_and_hand_labels_offline(tmp_path):
    labels = tmp_path / "hand.jsonl"
    labels.write_bytes(to_jsonl([{"id": f"q{i}", "index": k, "correct": k == 0} for i in range(6) for k in (0, 1)]))
    result = audit("--labels", str(labels), "--probes", "0", "--stability", "0", records=scored_lines())
    assert result.returncode == 0, result.stderr
    [report] = jsonl(result.stdout)
    assert report["cases"] == report["judged"] == 12
    contains = report["agreement"]["contains"]
    assert contains["judge_yes_rule_no"] == 1 and contains["judge_no_rule_yes"] == 0  # q0's wrong yes
    assert contains["examples"]["judge_yes_rule_no"][0]["id"] == "q0"
    judge = report["labels"]["judge"]
    assert judge["accuracy"]["value"] == pytest.approx(11 / 12, abs=1e-4)
    assert judge["precision"]["value"] == pytest.approx(6 / 7, abs=1e-4) and judge["recall"]["value"] == 1.0
    assert judge["kappa"]["value"] == pytest.approx(0.8333, abs=1e-3)
    assert judge["accuracy"]["low"] <= judge["accuracy"]["value"] <= judge["accuracy"]["high"]
    assert report["labels"]["contains"]["accuracy"]["value"] == 1.0
    assert report["recorded_invalid"] == {"replies": 18, "invalid": 6, "rate": pytest.approx(6 / 18, abs=1e-4)}
    assert "judge endpoint" in result.stderr.decode() and "probes" not in report
    assert b"vs labels judge" in result.stderr


def test_probes_stability_and_invalid_replies_against_a_judge_endpoint(tmp_path):
    handler = flaky(3)
    with FakeOpenAI(handler) as server:
        result = audit("--judge-base-url", server.base_url, "--judge-model", "j", "--cache", str(tmp_path / "c.sqlite"),
                       "--probes", "6", "--stability", "6", "--usage", str(tmp_path / "u.json"),
                       records=scored_lines())
        asked = len(server.requests)
    assert result.returncode == 0, result.stderr
    [report] = jsonl(result.stdout)
    kinds = report["probes"]["kinds"]
    assert set(kinds) == {"empty", "question", "refusal", "hedge", "wrong_final"}
    assert all(row["asked"] == 6 for row in kinds.values())
    assert kinds["empty"]["rate"] == 0.0 and kinds["question"]["rate"] == 0.0
    assert kinds["refusal"]["rate"] == 1.0 and kinds["hedge"]["rate"] == 1.0 and kinds["wrong_final"]["rate"] == 1.0
    assert kinds["refusal"]["examples"][0]["probe"].startswith("I cannot answer")
    stability = report["stability"]
    assert stability["both_verdicts"] == 6 and stability["rate"] == 1.0
    invalid = report["invalid_replies"]
    assert invalid["invalid"] > 0 and invalid["replies"] == asked
    assert invalid["rate"] == pytest.approx(invalid["invalid"] / asked, abs=1e-4)
    usage = orjson.loads((tmp_path / "u.json").read_bytes())
    assert usage["roles"]["judge"]["requests"] == asked and usage["roles"]["judge"]["prompt_tokens"] == 40 * asked
    assert b"probes judged correct (ideal 0%)" in result.stderr


def test_the_stability_asks_are_fresh_not_the_cached_verdicts(tmp_path):
    records = scored_lines()
    with FakeOpenAI(naive_judge) as server:
        args = ("--judge-base-url", server.base_url, "--judge-model", "j", "--cache", str(tmp_path / "c.sqlite"),
                "--probes", "0", "--stability", "4")
        first = audit(*args, records=records)
        assert len(server.requests) == 8  # two asks of four cases
        again = audit(*args, records=records)
        assert len(server.requests) == 8, "a rerun of the audit is answered by the cache"
    assert first.returncode == again.returncode == 0


def test_search_agent_and_eval_records_are_read_too():
    trajectory = {"id": "t", "question": "When?", "answer": "1879", "rollouts": [
        {"index": 0, "answer": "1879", "correct": True, "judge": {"name": "contains"}},
        {"index": 1, "answer": "maybe 1879 or 1880", "correct": True, "judge": {"name": "contains"}}]}
    evaluated = {"id": "e", "question": "Which?", "gold": "Paris", "samples": [
        {"index": 0, "content": "Paris", "judge": {"correct": True, "raw": "correct: yes", "attempts": 1}}]}
    result = audit("--judge", "exact", "--probes", "2", "--stability", "2", records=[trajectory, evaluated])
    assert result.returncode == 0, result.stderr
    [report] = jsonl(result.stdout)
    assert report["cases"] == 3 and report["recorded_judges"] == {"contains": 2, "llm": 1}
    assert report["agreement"]["exact"]["judge_yes_rule_no"] == 1
    assert report["judge"]["name"] == "exact" and report["probes"]["kinds"]["hedge"]["rate"] == 0.0


def test_records_without_verdicts_are_refused():
    bad = audit("--judge", "exact", records=[{"id": "x", "label": "a", "response": "a"}])
    assert bad.returncode == 1 and b"line 1" in bad.stderr and b"no judged response" in bad.stderr
    none = audit("--judge", "exact", records=[{"id": "x", "label": "a", "response": "a",
                                              "reward": {"judge": {"correct": None}}}])
    assert none.returncode == 1 and b"every verdict is missing" in none.stderr


def test_the_report_shows_an_audit_and_a_usage_summary(tmp_path):
    with FakeOpenAI(naive_judge) as server:
        audited = audit("--judge-base-url", server.base_url, "--judge-model", "j", "--no-cache", "--probes", "3",
                        "--stability", "2", "-o", str(tmp_path / "audit.json"), "--usage", str(tmp_path / "usage.json"),
                        records=scored_lines())
    assert audited.returncode == 0, audited.stderr
    (tmp_path / "scored.jsonl").write_bytes(to_jsonl(scored_lines()))
    result = run_ltrl("report", str(tmp_path / "scored.jsonl"), str(tmp_path / "audit.json"),
                      str(tmp_path / "usage.json"), "-o", str(tmp_path / "r.html"))
    assert result.returncode == 0, result.stderr
    html = (tmp_path / "r.html").read_text()
    assert '<h3 class="extra">Judge audit</h3>' in html and "12 of 12 responses judged" in html
    assert "<td>hedge</td><td>3</td><td>100.0%</td>" in html  # the naive judge is fooled by every hedge
    assert '<h3 class="extra">Model usage</h3>' in html and "<td>judge</td><td>19</td><td>0</td>" in html
    bad = tmp_path / "bad.json"
    bad.write_text('{"agreement": 1, "recorded_judges": {}, "cases": 2}\n')
    refused = run_ltrl("report", str(bad), "-o", str(tmp_path / "r2.html"))
    assert refused.returncode == 1 and b"a judge audit without" in refused.stderr
