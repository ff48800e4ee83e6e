"""`ltrl report`: the report's content, read back from its data, both layouts, refusals of
bad input, and the pure pieces (the step off the chain, why a question has no tiers).
tests/test_report_browser.py drives the page in Chromium."""

from __future__ import annotations

import json
import re

from tests.conftest import run_ltrl, to_jsonl

CONTENT = "Read these.\n\nDocument 1: Ada Quill\nQuill wrote ballads.\n\nDocument 2: Harbour\nA town.\n\nQuestion: Q?"


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
        "stop": "answered", "turns": 3},
        {"steps": [
            {"turn": 1, "action": "search", "arguments": {"query": "quill"}, "result_ids": ["1", "9"]},
            {"turn": 2, "action": "open", "arguments": {"id": "1"}, "result_ids": ["1"]},
            {"turn": 3, "action": "open", "arguments": {"id": "9"}, "result_ids": ["9"]},
            {"turn": 4, "action": "answer", "arguments": {"text": "1700"}, "result_ids": []}],
         "seen": ["1", "9"], "opened": ["1", "9"], "cited": [], "answer": "1700", "correct": False,
         "stop": "answered", "turns": 4}],
    "tiers": {"gold": ["1", "2"], "tier1": ["7"], "tier2": [], "solved": True},
}
TRAINING = {
    "id": "w1", "source": "longqa", "input_messages": [{"role": "user", "content": CONTENT}], "label": "1820",
    "metadata": {"rubrics": ["Ada Quill"], "question": "When was [E2] founded?", "strategy": "traj-tiered",
                 "tokens": 40, "target_tokens": 64,
                 "docs": [{"id": "1", "title": "Ada Quill", "tier": "gold", "tokens": 9, "truncated": False,
                           "span": _span("Document 1: Ada Quill\nQuill wrote ballads.")},
                          {"id": "7", "title": "Harbour", "tier": "tier1", "tokens": 5, "truncated": False,
                           "span": _span("Document 2: Harbour\nA town.")}]},
}
UNSOLVED = {"id": "w2", "question": "Who?", "answer": "x", "path": [{"id": "3", "title": "C"}],
            "rollouts": [{"steps": [], "seen": [], "opened": [], "cited": [], "correct": False, "turns": 1}]}


def report(tmp_path, *records, out="report.html", args=()):
    source = tmp_path / "in.jsonl"
    source.write_bytes(to_jsonl(list(records)) if records and isinstance(records[0], dict) else b"".join(records))
    target = tmp_path / out
    return run_ltrl("report", str(source), "-o", str(target), *args), target


def blocks(html: str, kind: str) -> dict:
    """The shards of a single-file report: {id: data} of its `kind` (q, d) JSON blocks."""
    found = {}
    for body in re.findall(rf'<script type="application/json" id="{kind}-\d+">(.*?)</script>', html, re.S):
        found.update(json.loads(body))
    return found


def rows(list_script: str) -> list[list]:
    start = list_script.index("LTRL.list(") + 10
    return json.loads(list_script[start:list_script.index("]);", start) + 1])


def test_one_file_holds_the_list_the_details_and_the_document_texts(tmp_path):
    result, out = report(tmp_path, TIERED, TRAINING, UNSOLVED)
    assert result.returncode == 0, result.stderr
    assert result.stdout == b""  # the page goes to the file; the summary to stderr
    assert b"2 questions, 1 contexts, 2 document texts" in result.stderr
    html = out.read_text()
    from ltrl_cli.report.question import COLUMNS

    listed = [dict(zip(COLUMNS, r)) for r in rows(html[html.index("<script>LTRL.list("):])]
    assert [(r["id"], r["solved"], r["k"], r["rollouts"], r["hops"], r["tier1"], r["reached"]) for r in listed] == \
        [("w1", 1, 1, 2, 1, 1, 2), ("w2", 0, 0, 1, 0, None, 0)]
    details = blocks(html, "q")
    w1 = details["w1"]
    assert w1["path"][1]["anchor"] == ["Quill spent her youth in ", "Lowmere", "."]  # the hop's evidence
    assert w1["titles"]["7"] == "Harbour"  # a hit named by its title from the context
    assert w1["rollouts"][0]["off"] is None  # correct: nothing flagged
    assert w1["rollouts"][1]["off"] == 2 and "opened 1 of 2 chain pages" in w1["rollouts"][1]["off_why"]
    assert [d[:4] for d in w1["contexts"][0]["docs"]] == [["1", "gold", 9, 0], ["7", "tier1", 5, 0]]
    texts = blocks(html, "d")
    assert sorted(texts.values()) == ["A town.", "Quill wrote ballads."]  # the header line left out
    assert "ltrl tier drops unsolved questions" in details["w2"]["why"] and details["w2"]["tiers"] is None
    overview = html[html.index('<section id="overview">'):html.index('<section id="detail"')]
    assert "rollout accuracy 1 of 3" in overview and "Hops per question" in overview
    assert 'href="#find/hops%3D1"' in overview  # a bar links to the list filtered by it
    assert "Share of context tokens per tier" in overview  # token shares from the training record's docs
    assert "give <code>ltrl stats</code> output" in overview  # mention rates only from ltrl stats


def test_a_folder_report_loads_its_data_as_scripts_and_is_replaced_whole(tmp_path):
    result, out = report(tmp_path, TIERED, TRAINING, UNSOLVED, out="rep")
    assert result.returncode == 0, result.stderr
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*"))
    assert files == [".ltrl-report", "data", "data/d-0.js", "data/list.js", "data/q-0.js", "index.html"]
    assert '<script src="data/list.js"></script>' in (out / "index.html").read_text()
    assert (out / "data/q-0.js").read_text().startswith('LTRL.shard("q",0,{"w1":')
    assert report(tmp_path, UNSOLVED, out="rep")[0].returncode == 0  # a rerun replaces the report
    assert "w1" not in (out / "data/list.js").read_text()
    assert not list(tmp_path.glob(".rep*")) and not list(tmp_path.glob(".ltrl-report-*"))  # no leftovers
    (tmp_path / "other").mkdir()
    refused = run_ltrl("report", str(tmp_path / "in.jsonl"), "-o", str(tmp_path / "other"))
    assert refused.returncode == 2 and b"is not a report folder" in refused.stderr


def test_the_report_needs_no_network(tmp_path):
    for name in ("report.html", "rep"):
        assert report(tmp_path, TIERED, TRAINING, out=name)[0].returncode == 0
    texts = [(tmp_path / "report.html").read_text()] + [p.read_text() for p in (tmp_path / "rep").rglob("*.*")]
    for text in texts:
        assert not re.search(r"<link|<img|@import|url\(|https?://(?!www\.w3\.org/2000/svg)", text)
        assert all(src == "data/list.js" for src in re.findall(r'src="([^"]*)"', text))


def test_stats_objects_and_stdout(tmp_path):
    stats = {"records": 1, "tiers": {"gold": {"docs": 1, "docs_per_record": 1.0, "token_share": 1.0,
                                              "mention_rate": 1.0, "mention_rate_macro": 1.0}}}
    source = tmp_path / "s.json"
    source.write_bytes(to_jsonl([stats]))
    result = run_ltrl("report", str(source), "-o", "-")
    assert result.returncode == 0 and result.stdout.startswith(b"<!DOCTYPE html>"), result.stderr
    assert b"0 questions" in result.stdout and b"Documents mentioning a gold entity" in result.stdout


def test_bad_input_is_refused_with_one_line_and_nothing_written(tmp_path):
    cases = [
        ((b'{"id": "a", "question": "q"}\n', b"not json\n"), b"in.jsonl: line 2: not valid JSON"),
        ((b'{"hello": 1}\n',), b"in.jsonl: line 1: not a record ltrl writes"),
        ((b'{"id": "a", "rollouts": {"x": 1}}\n',), b"line 1: 'rollouts' must be a list"),
        ((b"\n",), b"nothing to report"),
    ]
    for lines, message in cases:
        for out in ("report.html", "rep"):
            result, target = report(tmp_path, *lines, out=out)
            assert result.returncode == 1 and result.stdout == b"", result.stderr
            assert result.stderr.count(b"\n") == 1 and message in result.stderr, result.stderr
            assert result.stderr.startswith(b"ltrl report: ") and not target.exists()
            assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl"]  # no staging left behind
    missing = run_ltrl("report", str(tmp_path / "nope.jsonl"), "-o", str(tmp_path / "x.html"))
    assert missing.returncode == 1 and b"nope.jsonl" in missing.stderr and missing.stderr.count(b"\n") == 1
    assert run_ltrl("report", str(tmp_path / "in.jsonl")).returncode == 2  # -o is required


def test_the_step_off_the_chain():
    from ltrl_cli.report.question import off_chain

    def steps(*actions):
        return [{"action": a, "result_ids": [p] if p else []} for a, p in actions]

    chain = ["a", "b", "c"]
    # opened a, then b, then wandered to x: the open of x
    assert off_chain(steps(("search", "a"), ("open", "a"), ("open", "b"), ("search", "c"), ("open", "x")), chain)[0] == 4
    # never reached the chain: its first open
    assert off_chain(steps(("search", "q"), ("open", "x"), ("open", "y")), chain) == \
        (1, "had opened 0 of 3 chain pages; opened a page off the chain, E1 still to find")
    # every chain page opened, wrong answer: the answer
    assert off_chain(steps(("open", "a"), ("open", "b"), ("open", "c"), ("answer", None)), chain)[0] == 3
    # opened nothing off the chain after its last progress: the step after it
    assert off_chain(steps(("open", "a"), ("search", "q"), ("answer", None)), chain)[0] == 1
    assert off_chain(steps(("open", "a")), chain) == (None, "") and off_chain([], []) == (None, "")


def test_why_a_question_has_no_tiers():
    from ltrl_cli.report.question import no_tiers_reason

    assert no_tiers_reason({"tiers": {"gold": []}}) is None
    assert "--keep-unsolved" in no_tiers_reason({"tiers": {"solved": False}})
    assert no_tiers_reason({"question": "q"}).startswith("no rollouts in the input")
    assert "none of the 1 rollouts" in no_tiers_reason(UNSOLVED)
    assert no_tiers_reason({"rollouts": [{"correct": True}]}).startswith("no tiers in the input")


def test_an_extra_section_shows_the_objects_it_claims(tmp_path, monkeypatch):
    from ltrl_cli.report import sections
    from ltrl_cli.report.build import build_report
    from ltrl_cli.report.output import open_output
    from ltrl_cli.stats import Stats

    class Audit:
        title = "Judge audit"

        def __init__(self):
            self.n = 0

        def claims(self, record):
            return "audit" in record

        def add(self, record, where):
            self.n += 1

        def html(self):
            return f"<p>{self.n} audited</p>"

    monkeypatch.setattr(sections, "SECTIONS", [Audit])
    monkeypatch.setattr("ltrl_cli.report.build.SECTIONS", [Audit])
    out = open_output(str(tmp_path / "r.html"), tmp_path)
    build_report([("in", [TIERED, {"audit": 1}, {"audit": 2}], Stats())], out, tmp_path, title="t")
    html = (tmp_path / "r.html").read_text()
    assert '<h3 class="extra">Judge audit</h3><p>2 audited</p>' in html


def test_pages_no_context_holds_get_their_text_from_the_index(tmp_path):
    from ltrl_cli.report.build import build_report
    from ltrl_cli.report.output import open_output
    from ltrl_cli.stats import Stats

    class Pages:  # what `ltrl report --index` reads of an index
        def page(self, page_id):
            if page_id == "404":
                raise KeyError(page_id)
            return {"text": [f"Title {page_id}\n", f"Body of {page_id}.\n"]}

    failed = {**UNSOLVED, "rollouts": [{**UNSOLVED["rollouts"][0], "opened": ["8", "404"]}]}
    out = open_output(str(tmp_path / "r.html"), tmp_path)
    build_report([("in", [failed, TIERED, TRAINING], Stats())], out, tmp_path, title="t", pages=Pages())
    html = (tmp_path / "r.html").read_text()
    details, texts = blocks(html, "q"), blocks(html, "d")
    assert {p: texts[str(k)] for p, k in details["w2"]["texts"].items()} == {"3": "Body of 3.", "8": "Body of 8."}
    assert set(details["w1"]["texts"]) == {"2", "9"}  # 1 and 7 are in its context; 2 in the chain, 9 opened
