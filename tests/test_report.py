"""`ltrl report`: the page's content, read back from the HTML, and refusals of bad input."""

from __future__ import annotations

import re

from tests.conftest import run_ltrl, to_jsonl

CONTENT = "Read these.\n\nDocument 1: Ada Quill\nQuill wrote ballads.\n\nDocument 2: Lowmere\nA town.\n\nQuestion: Q?"


def _span(text: str) -> list[int]:
    start = CONTENT.index(text)
    return [start, start + len(text)]


TIERED = {
    "id": "w1", "question": "When was [E2] founded?", "answer": "1820", "gold_entities": ["Ada Quill"],
    "path": [{"id": "1", "title": "Ada Quill"},
             {"id": "2", "title": "Lowmere", "anchor": {"text": "Lowmere", "paragraph_id": 3,
                                                         "paragraph": "Quill spent her youth in Lowmere."}}],
    "synth": {"model": "template (offline question writer, not an LLM)", "accepted": True,
              "checks": {"needs_chain": {"passed": True}}},
    "rollouts": [{"steps": [
        {"turn": 1, "action": "search", "arguments": {"query": "ballad poet harbour"}, "result_ids": ["1", "7"]},
        {"turn": 2, "action": "open", "arguments": {"id": "7"}, "result_ids": ["7"]},
        {"turn": 3, "action": "cite", "arguments": {"ids": "1, 2"}, "result_ids": ["1", "2"]},
        {"turn": 3, "action": "answer", "arguments": {"text": "1820"}, "result_ids": []}],
        "seen": ["1", "7"], "opened": ["1", "2", "7"], "cited": ["1", "2"], "answer": "1820", "correct": True,
        "stop": "answered", "turns": 3}],
    "tiers": {"gold": ["1", "2"], "tier1": ["7"], "tier2": [], "solved": True},
}
TRAINING = {
    "id": "w1", "source": "longqa", "input_messages": [{"role": "user", "content": CONTENT}], "label": "1820",
    "metadata": {"rubrics": ["Ada Quill"], "question": "When was [E2] founded?", "strategy": "traj-tiered",
                 "tokens": 40, "target_tokens": 64,
                 "docs": [{"id": "1", "title": "Ada Quill", "tier": "gold", "tokens": 9, "truncated": False,
                           "span": _span("Document 1: Ada Quill\nQuill wrote ballads.")},
                          {"id": "7", "title": "Harbour", "tier": "tier1", "tokens": 5, "truncated": False,
                           "span": _span("Document 2: Lowmere\nA town.")}]},
}


def report(tmp_path, *records, args=()):
    source = tmp_path / "in.jsonl"
    source.write_bytes(to_jsonl(list(records)) if records and isinstance(records[0], dict) else b"".join(records))
    out = tmp_path / "report.html"
    return run_ltrl("report", str(source), "-o", str(out), *args), out


def test_the_page_shows_chain_rollouts_tiers_context_and_stats(tmp_path):
    result, out = report(tmp_path, TIERED, TRAINING)
    assert result.returncode == 0, result.stderr
    assert result.stdout == b""  # the page goes to the file; the summary to stderr
    assert b"1 questions, 1 contexts" in result.stderr
    html = out.read_text()
    question = html[html.index('<section id="q-w1"'):]
    assert "When was [E2] founded?" in question and "<b>Answer:</b> 1820" in question
    assert "<b>E2</b> Lowmere" in question and "<mark>Lowmere</mark>" in question  # the hop's anchor evidence
    assert "ballad poet harbour" in question and 'class="ok">correct' in question  # query, verdict
    assert "Harbour <span class=id>[7]</span>" in question  # a hit named by its title from the context
    assert "needs_chain passed" in question
    assert re.search(r"tier1 \(1\)</dt><dd>Harbour", question)
    strip = re.findall(r'<span class="doc t-(\w+)" style="flex-grow:(\d+)" title="([^"]*)"', question)
    assert strip == [("gold", "9", "Document 1: Ada Quill [1] — gold, 9 tokens"),
                     ("tier1", "5", "Document 2: Harbour [7] — tier1, 5 tokens")]
    overview = html[html.index('<section id="overview"'):html.index('<section id="q-w1"')]
    assert overview.count("<svg") == 2 and "tier1" in overview  # stats computed from the training record
    assert 'data-text="w1 when was [e2] founded? 1820 ada quill lowmere"' in html  # what the search box matches


def test_the_page_needs_no_network(tmp_path):
    result, out = report(tmp_path, TIERED, TRAINING)
    html = out.read_text()
    assert not re.search(r"<link|<img|src=|@import|url\(|https?://(?!www\.w3\.org/2000/svg)", html)


def test_stats_objects_and_stdout(tmp_path):
    stats = {"records": 1, "tiers": {"gold": {"docs": 1, "docs_per_record": 1.0, "token_share": 1.0,
                                              "mention_rate": 1.0, "mention_rate_macro": 1.0}}}
    source = tmp_path / "s.json"
    source.write_bytes(to_jsonl([stats]))
    result = run_ltrl("report", str(source), "-o", "-")
    assert result.returncode == 0 and result.stdout.startswith(b"<!DOCTYPE html>")
    assert b"0 questions" in result.stdout and b"<svg" in result.stdout


def test_bad_input_is_refused_with_one_line_and_no_file(tmp_path):
    cases = [
        ((b'{"id": "a", "question": "q"}\n', b"not json\n"), b"in.jsonl: line 2: not valid JSON"),
        ((b'{"hello": 1}\n',), b"in.jsonl: line 1: not a record ltrl writes"),
        ((b'{"id": "a", "rollouts": {"x": 1}}\n',), b"line 1: 'rollouts' must be a list"),
        ((b"\n",), b"nothing to report"),
    ]
    for lines, message in cases:
        result, out = report(tmp_path, *lines)
        assert result.returncode == 1 and result.stdout == b"", result.stderr
        assert result.stderr.count(b"\n") == 1 and message in result.stderr, result.stderr
        assert result.stderr.startswith(b"ltrl report: ") and not out.exists()
    missing = run_ltrl("report", str(tmp_path / "nope.jsonl"), "-o", str(tmp_path / "x.html"))
    assert missing.returncode == 1 and b"nope.jsonl" in missing.stderr and missing.stderr.count(b"\n") == 1
    assert run_ltrl("report", str(tmp_path / "in.jsonl")).returncode == 2  # -o is required
