"""`ltrl eval --results`: a results file per run (lm-evaluation-harness layout), and
`ltrl eval --compare A.json B.json`: the runs side by side, written as markdown or JSON."""

from __future__ import annotations

import json

import pytest

from ltrl_cli.eval.results import bootstrap_stderr, compare, markdown
from ltrl_cli.provenance import command_line
from tests.eval.eval_fixtures import Oracle, invoke, write_benchmark
from tests.fake_openai import FakeOpenAI


def run(server, benchmark, data, mode_label, results, *args):
    return invoke("eval", "-b", benchmark, "--data", str(data), "--base-url", server.base_url, "--model", "fake",
                  "--samples", "2", "--concurrency", "4", "--no-cache", "--label", mode_label,
                  "--results", str(results), *args)


@pytest.fixture
def two_runs(tmp_path):
    """A 'base' run that answers wrong and a 'trained' one that answers right, on two benchmarks."""
    made = {}
    for label, mode in (("base", "wrong"), ("trained", "gold")):
        for benchmark in ("longbench-v2", "mrcr"):
            data, answers = write_benchmark(benchmark, tmp_path / f"data-{benchmark}")
            with FakeOpenAI(Oracle(benchmark, answers, mode)) as server:
                result = run(server, benchmark, data, label, tmp_path / label, "--temperature", "0.7")
            assert result.returncode == 0, result.stderr.decode()
        made[label] = tmp_path / label
    return made


def test_results_file_holds_what_a_comparison_needs(two_runs):
    [path] = sorted(two_runs["trained"].glob("results_longbench-v2_*.json"))
    results = json.loads(path.read_text())
    entry = results["results"]["longbench-v2"]
    assert entry["score"] == 100.0 and entry["n"] == 3 and entry["metric"] == "avg@2"
    assert entry["score_stderr"] == 0.0 and "breakdowns" in entry
    config = results["config"]
    assert config["label"] == "trained" and config["model"] == "fake" and config["endpoint"].startswith("127.0.0.1:")
    assert config["sampling"] == {"temperature": 0.7, "top_p": 0.95, "top_k": 20, "seed": 0}
    assert config["max_tokens"] == 32768 and config["samples"] == 2
    assert results["ltrl_version"] and results["date"].endswith("Z")
    assert results["command"].startswith("ltrl ")  # in-process the argv is pytest's; a user's shell gives theirs


def test_compare_prints_and_writes_the_before_after_table(two_runs, tmp_path):
    files = sorted(two_runs["base"].glob("*.json")) + sorted(two_runs["trained"].glob("*.json"))
    table = tmp_path / "cmp.md"
    result = invoke("eval", "--compare", *map(str, files), "--table", str(table))
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout == b""  # stdout is for records; the table goes to stderr and the file
    assert "trained" in result.stderr.decode() and "+100.0" in result.stderr.decode()
    text = table.read_text()
    assert text.splitlines()[0] == "| run | mrcr | longbench-v2 | average |"  # the paper's column order
    assert "| base | 0.0 ± 0.0 | 0.0 ± 0.0 | 0.0 |" in text
    assert "| change (trained - base) | +100.0 | +100.0 | +100.0 |" in text
    as_json = tmp_path / "cmp.json"  # folders stand for their files
    assert invoke("eval", "--compare", str(two_runs["base"]), str(two_runs["trained"]), "--table",
                  str(as_json)).returncode == 0
    data = json.loads(as_json.read_text())
    assert [r["label"] for r in data["rows"]] == ["base", "trained"] and data["rows"][1]["average"] == 100.0


def test_compare_reads_summary_files_and_refuses_other_json(tmp_path):
    (tmp_path / "s.json").write_text(json.dumps({"benchmark": "frames", "n": 2, "score": 50.0}))
    (tmp_path / "x.json").write_text(json.dumps({"hello": 1}))
    assert compare([tmp_path / "s.json"])["rows"][0]["scores"]["frames"]["score"] == 50.0
    result = invoke("eval", "--compare", str(tmp_path / "s.json"), str(tmp_path / "x.json"))
    assert result.returncode == 1 and "x.json: not an `ltrl eval` results file" in result.stderr.decode()
    bad = invoke("eval", "--compare", str(tmp_path / "s.json"), "--table", str(tmp_path / "t.txt"))
    assert bad.returncode == 2 and "name a .md (markdown) or .json file" in bad.stderr.decode()


def test_a_run_needs_a_benchmark_and_takes_no_files():
    result = invoke("eval", "--data", "x")
    assert result.returncode == 2 and "--benchmark is required" in result.stderr.decode()
    stray = invoke("eval", "-b", "mrcr", "--data", "x", "extra.json")
    assert stray.returncode == 2 and "unexpected argument 'extra.json'" in stray.stderr.decode()


def test_bootstrap_stderr_matches_the_analytic_one_roughly():
    values = [1.0] * 30 + [0.0] * 70  # p = 0.3, n = 100: sqrt(p(1-p)/n) = 4.58 points
    assert 4.0 < bootstrap_stderr(values) < 5.2
    assert bootstrap_stderr([1.0]) is None


def test_command_line_hides_credentials_in_urls():
    line = command_line(["eval", "--base-url", "http://u:secret@h:8000/v1", "--model", "m x"])
    assert line == "ltrl eval --base-url 'http://***@h:8000/v1' --model 'm x'"


def test_markdown_without_a_second_run_has_no_change_row():
    table = {"benchmarks": ["mrcr"], "rows": [{"label": "a", "scores": {"mrcr": {"score": 40.0}}, "average": 40.0}]}
    assert markdown(table) == "| run | mrcr | average |\n|---|---|---|\n| a | 40.0 | 40.0 |\n"


def test_paper_among_the_files_adds_the_papers_rows(two_runs, tmp_path):
    table = tmp_path / "with-paper.md"
    result = invoke("eval", "--compare", "paper", str(two_runs["base"]), str(two_runs["trained"]), "--table", str(table))
    assert result.returncode == 0, result.stderr.decode()
    lines = table.read_text().splitlines()
    # the paper's five columns; the runs' benchmarks they lack are "-" (and so their average)
    assert lines[0] == "| run | mrcr | aa-lcr | longreason | frames | longbench-v2 | average |"
    assert lines[2] == "| paper: Qwen3-4B-Thinking-2507 | 36.2 | 33.2 | 78.5 | 76.7 | 41.7 | 53.3 |"
    assert lines[3] == "| paper: Qwen3-4B-Thinking-2507 + LongTraceRL | 45.8 | 41.8 | 83.8 | 79.5 | 44.1 | 59.0 |"
    assert lines[5] == "| trained | 100.0 ± 0.0 | - | - | - | 100.0 ± 0.0 | - |"
    bad = invoke("eval", "--compare", "paper", str(two_runs["base"]), "--paper-model", "gpt")
    assert bad.returncode == 2 and "--paper-model 'gpt'" in bad.stderr.decode()


def test_the_papers_own_average_when_every_benchmark_is_there():
    table = compare(["paper"])
    assert [row["average"] for row in table["rows"]] == [53.3, 59.0]  # the paper's, not recomputed
