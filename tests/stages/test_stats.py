"""stages/stats.py and `ltrl stats` on a hand-made case whose figures are worked out below."""

from __future__ import annotations

import orjson
import pytest

from ltrl_cli.context.layout import DEFAULT_DOC_FORMAT, DEFAULT_TEMPLATE, Doc, render
from ltrl_cli.errors import BadInput
from ltrl_cli.records import READS
from ltrl_cli.stages.stats import compute_stats
from tests.conftest import jsonl, run_ltrl, to_jsonl


def assembled(rid: str, docs: list[tuple[str, str, str]], rubrics: list[str], strategy: str = "traj-tiered",
              tokens: int = 1000) -> dict:
    """An assembled record from (tier, title, text) triples, laid out as ltrl assemble does."""
    placed = [Doc(str(i), title, tier, text, len(text.split()), 0) for i, (tier, title, text) in enumerate(docs)]
    content, spans = render(DEFAULT_TEMPLATE, DEFAULT_DOC_FORMAT, "Where?", placed)
    return {
        "id": rid, "source": "longqa", "input_messages": [{"role": "user", "content": content}], "label": "Paris",
        "metadata": {
            "rubrics": rubrics, "question": "Where?", "tokens": tokens, "target_tokens": 1000, "strategy": strategy,
            "docs": [{"id": d.id, "title": d.title, "tier": d.tier, "tokens": d.tokens, "truncated": False,
                      "span": list(s)} for d, s in zip(placed, spans)],
        },
    }


CASE = [
    assembled("a", [
        ("gold", "Paris", "Paris is the capital of France."),
        ("tier1", "Lyon", "Lyon is a city south of PARIS."),            # mentions (case-free)
        ("tier1", "Methods", "A comparison of two methods."),           # "paris" inside a word: no
        ("tier2", "Towers", "The Eiffel-Tower is made of iron."),       # "eiffel tower" after normalising
        ("random", "Cats", "Cats sleep a lot."),
        ("random", "Dogs", "Dogs bark."),
    ], rubrics=["Paris", "Eiffel Tower"]),
    assembled("b", [
        ("gold", "Rome", "Rome is old."),
        ("tier1", "Milan", "Milan is north."),
        ("tier2", "Turin", "Turin has Rome road."),                     # mentions
    ], rubrics=["Rome"], tokens=800),
    assembled("c", [("gold", "X", "x"), ("tier1", "Y", "Paris")], rubrics=[], tokens=900),  # no rubric: not judged
]


def test_mention_rates_and_counts():
    figures = compute_stats(CASE)
    tiers = figures["tiers"]
    assert list(tiers) == ["gold", "tier1", "tier2", "random", "distractors"]
    assert tiers["tier1"]["docs"] == 4 and tiers["tier1"]["docs_per_record"] == pytest.approx(4 / 3, abs=0.01)
    assert tiers["tier1"]["mention_rate"] == pytest.approx(1 / 3, abs=1e-4)        # a: 1 of 2, b: 0 of 1
    assert tiers["tier1"]["mention_rate_macro"] == pytest.approx((1 / 2 + 0) / 2, abs=1e-4)
    assert tiers["tier2"]["mention_rate"] == 1.0 and tiers["random"]["mention_rate"] == 0.0
    assert tiers["gold"]["mention_rate"] == 1.0
    assert tiers["distractors"]["mention_rate"] == pytest.approx(3 / 7, abs=1e-4)  # a: 2 of 5, b: 1 of 2
    assert tiers["distractors"]["mention_rate_macro"] == pytest.approx((2 / 5 + 1 / 2) / 2, abs=1e-4)
    assert figures["records"] == 3 and figures["records_without_rubrics"] == 1
    assert figures["tokens"] == {"min": 800, "mean": 900.0, "median": 900, "max": 1000}
    assert figures["fill"]["max"] == 1.0
    assert list(figures["by_strategy"]) == ["traj-tiered"]


def test_by_strategy_separates_mixed_input():
    mixed = CASE[:2] + [assembled("r", [("gold", "Paris", "Paris."), ("random", "Cats", "Cats.")], ["Paris"],
                                  strategy="random")]
    figures = compute_stats(mixed)
    assert list(figures["by_strategy"]) == ["traj-tiered", "random"]
    assert set(figures["by_strategy"]["random"]["tiers"]) == {"gold", "random", "distractors"}
    assert figures["by_strategy"]["random"]["records"] == 1


def test_record_without_spans_is_rejected():
    record = orjson.loads(orjson.dumps(CASE[0]))
    del record["metadata"]["docs"][1]["span"]
    with pytest.raises(BadInput, match=r"missing field 'metadata.docs\[1\].span'"):
        READS["stats"].check(record)
    record["metadata"]["docs"][1]["span"] = [3]
    with pytest.raises(BadInput, match=r"field 'metadata.docs\[1\].span' must be a list of 2 integers, got a list of 1"):
        READS["stats"].check(record)
    with pytest.raises(BadInput, match="missing field 'input_messages'"):
        READS["stats"].check({"id": "x", "question": "q"})
    with pytest.raises(BadInput, match="field 'input_messages' must be a non-empty list of objects, got an empty list"):
        READS["stats"].check({"id": "x", "input_messages": [], "metadata": {"docs": []}})


def test_cli_prints_one_json_object_a_table_and_a_plot(tmp_path):
    plot = tmp_path / "stats.png"
    result = run_ltrl("stats", "--plot", str(plot), input=to_jsonl(CASE))
    assert result.returncode == 0, result.stderr.decode()
    (figures,) = jsonl(result.stdout)
    assert figures["tiers"]["tier2"]["mention_rate"] == 1.0 and "context_tokens" not in figures
    stderr = result.stderr.decode()
    assert "mention %" in stderr and "tier1" in stderr and "33.3%" in stderr
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_plot_writes_through_a_device_and_refuses_a_directory(tmp_path, char_device):
    import stat

    assert run_ltrl("stats", "--plot", str(char_device), input=to_jsonl(CASE)).returncode == 0
    assert stat.S_ISCHR(char_device.lstat().st_mode)
    folder = tmp_path / "plots"
    folder.mkdir()
    result = run_ltrl("stats", "--plot", str(folder), input=to_jsonl(CASE))
    assert result.returncode == 2 and f"{folder} is a directory".encode() in result.stderr


def test_cli_bad_line_names_it():
    result = run_ltrl("stats", input=to_jsonl(CASE[:1]) + b"{not json\n")
    assert result.returncode == 1 and result.stdout == b""
    assert "ltrl stats: line 2" in result.stderr.decode()
