"""A corpus without hyperlinks, ids or clean text, through the whole pipeline.

The demo encyclopedia rewritten as a 2WikiMultihopQA-like corpus: `{id, title, text}` with
the text one string, no anchors at all, and KILT markup (`Section::::...`, `BULLET::::- `)
in it. index (--link-mentions) -> walk -> synth (template) -> search-agent (lexical) ->
tier -> assemble, each a subprocess reading the previous one's stdout.
"""

from __future__ import annotations

import pytest

from tests.conftest import jsonl, run_ltrl, to_jsonl
from tests.test_tokenize import train_tokenizer


def linkless(page: dict, number: int) -> dict:
    body = [p.strip() for p in page["text"][1:] if p.strip()]
    marked = [body[0], "Section::::Background.", *body[1:2], "BULLET::::- " + body[-1]] + body[2:-1]
    return {"id": f"doc-{number}", "title": page["wikipedia_title"], "text": "\n".join(marked)}


def stage(*args: str, input: bytes = b"") -> tuple[bytes, str]:
    result = run_ltrl(*args, input=input)
    assert result.returncode == 0, f"ltrl {args[0]} failed: {result.stderr.decode()[-2000:]}"
    jsonl(result.stdout)
    return result.stdout, result.stderr.decode()


@pytest.fixture(scope="module")
def linkless_index(demo_pages, tmp_path_factory):
    root = tmp_path_factory.mktemp("linkless")
    source = root / "corpus.jsonl"
    source.write_bytes(to_jsonl([linkless(p, n) for n, p in enumerate(demo_pages[:150])]))
    _, stderr = stage("index", str(source), "-o", str(root / "idx"), "--link-mentions", "--threads", "1")
    assert "inferred links" in stderr and "0 links resolved" not in stderr
    return root / "idx"


def test_linkless_corpus_through_the_pipeline(linkless_index, demo_pages, tmp_path):
    index = str(linkless_index)
    walks, _ = stage("walk", "--index", index, "-n", "6", "--hops", "3", "--seed", "1")
    records = jsonl(walks)
    assert len(records) == 6
    inferred = [hop["anchor"] for r in records for hop in r["path"][1:]]
    assert inferred and all(a["inferred"] and a["text"] in a["paragraph"] for a in inferred)
    questions, _ = stage("synth", "--index", index, "--backend", "template", input=walks)
    trajectories, _ = stage("search-agent", "--index", index, "--backend", "lexical", "-k", "2", input=questions)
    tiered, _ = stage("tier", "--keep-unsolved", input=trajectories)
    tokenizer = tmp_path / "tok.json"
    train_tokenizer(["\n".join(p["text"]) for p in demo_pages[:80]], vocab_size=600).save(str(tokenizer))
    assembled, _ = stage("assemble", "--index", index, "--tokenizer", str(tokenizer), "--target-tokens", "12000",
                         input=tiered)
    assert len(jsonl(assembled)) == len(jsonl(tiered)) > 0
    for output in (walks, questions, trajectories, tiered, assembled):
        assert b"::::" not in output  # no markup reaches a question, an observation or a context
    assert b"## Background" in assembled  # headings are kept as headings in the contexts
