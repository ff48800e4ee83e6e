"""`ltrl index` on real-shaped corpora: KILT markup, pages without ids or links, counts, retries."""

from __future__ import annotations

import orjson
import pytest

from ltrl_cli.backends.index import open_index
from ltrl_cli.backends.mentions import MentionLinker
from ltrl_cli.backends.pages import PageReader, derived_id
from ltrl_cli.errors import BadInput
from tests.conftest import run_ltrl, to_jsonl


def kilt_anchor(text: list[str], pid: int, words: str, href: str) -> dict:
    start = text[pid].index(words)
    return {"text": words, "href": href, "paragraph_id": pid, "start": start, "end": start + len(words)}


# A page as the real KILT file writes it: title line, heading paragraphs, list items, anchors
# whose offsets count the markup.
TOLKIEN_TEXT = [
    "J. R. R. Tolkien\n",
    "John Ronald Reuel Tolkien was an English writer, poet and philologist.\n",
    "Section::::Biography.\n",
    "Section::::Biography:::Early life.\n",
    "Tolkien was born in Bloemfontein in the Orange Free State.\n",
    "Section::::Works.\n",
    "BULLET::::- The Hobbit (1937), set in Middle-earth\n",
    "BULLET::::- The Lord of the Rings (1954)\n",
    "Section::::References.\n",
]
TOLKIEN = {
    "_id": "3", "wikipedia_id": "3", "wikipedia_title": "J. R. R. Tolkien", "text": TOLKIEN_TEXT,
    "anchors": [kilt_anchor(TOLKIEN_TEXT, 4, "Bloemfontein", "Bloemfontein"),
                kilt_anchor(TOLKIEN_TEXT, 6, "The Hobbit", "The%20Hobbit"),
                kilt_anchor(TOLKIEN_TEXT, 7, "The Lord of the Rings", "The_Lord_of_the_Rings"),
                kilt_anchor(TOLKIEN_TEXT, 3, "Early life", "Early%20life")],
}
HOBBIT_TEXT = ["The Hobbit\n", "The Hobbit is a novel by J. R. R. Tolkien.\n", "Section::::Setting.\n",
               "It is set in Middle-earth, before The Lord of the Rings.\n"]
HOBBIT = {"_id": "4", "wikipedia_id": "4", "wikipedia_title": "The Hobbit", "text": HOBBIT_TEXT,
          "anchors": [kilt_anchor(HOBBIT_TEXT, 1, "J. R. R. Tolkien", "J.%20R.%20R.%20Tolkien"),
                      kilt_anchor(HOBBIT_TEXT, 3, "The Lord of the Rings", "The%20Lord%20of%20the%20Rings"),
                      {"text": "Shire", "href": "The%20Shire", "paragraph_id": 40, "start": 0, "end": 5},
                      {"text": "novel", "paragraph_id": 1, "start": 15, "end": 20}]}
RINGS = {"_id": "5", "wikipedia_id": "5", "wikipedia_title": "The Lord of the Rings",
         "text": ["The Lord of the Rings\n", "An epic by J. R. R. Tolkien, sequel to The Hobbit.\n"],
         "anchors": []}
BLOEM = {"_id": "6", "wikipedia_id": "6", "wikipedia_title": "Bloemfontein",
         "text": ["Bloemfontein\n", "Bloemfontein is a city in South Africa.\n"], "anchors": []}


def test_kilt_markup_becomes_text_and_anchors_still_point_at_their_words():
    page = PageReader().normalise(TOLKIEN)
    assert page["text"][2:8] == ["## Biography\n", "## Early life\n",
                                 "Tolkien was born in Bloemfontein in the Orange Free State.\n", "## Works\n",
                                 "- The Hobbit (1937), set in Middle-earth\n", "- The Lord of the Rings (1954)\n"]
    assert not any("::::" in p or ":::" in p for p in page["text"])
    for anchor in page["anchors"]:
        assert page["text"][anchor["paragraph_id"]][anchor["start"]:anchor["end"]] == anchor["text"]
    assert len(page["anchors"]) == 4  # the anchor inside the nested heading moved with it


def test_anchors_out_of_range_and_without_target_are_counted():
    reader = PageReader()
    page = reader.normalise(HOBBIT)
    assert reader.counts["anchors_out_of_range"] == 1 and reader.counts["anchors_no_target"] == 1
    assert page["unplaced_links"] == ["The%20Shire"]  # the link stays, without evidence
    assert [a["text"] for a in page["anchors"]] == ["J. R. R. Tolkien", "The Lord of the Rings"]


def test_corpus_shapes_ids_titles_and_text():
    reader = PageReader()
    page = reader.normalise({"title": "Oslo", "text": "Oslo is a city.\n\nIt is in Norway."})
    assert reader.id_field == "title" and page["wikipedia_id"] == derived_id("Oslo") == derived_id("oslo")
    assert page["text"] == ["Oslo\n", "Oslo is a city.\n", "It is in Norway.\n"]
    reader = PageReader()
    page = reader.normalise({"id": 7, "title": "Oslo", "paragraphs": [{"paragraph_text": "A city."}]})
    assert (reader.id_field, page["wikipedia_id"], page["text"]) == ("id", "7", ["Oslo\n", "A city."])
    with pytest.raises(BadInput, match="line 2: no page id in field 'id'.*--id-field title"):
        reader.normalise({"title": "Bergen", "text": "x"}, line=2, source="c.jsonl")
    with pytest.raises(BadInput, match="no text: expected a field 'text' or 'paragraphs'"):
        PageReader().normalise({"title": "Bergen"})
    # anchors of a page without a title line move down with the text
    page = PageReader().normalise({"_id": "1", "title": "T", "text": ["See Oslo."],
                                   "anchors": [{"text": "Oslo", "href": "Oslo", "paragraph_id": 0,
                                                "start": 4, "end": 8}]})
    assert page["text"] == ["T\n", "See Oslo."] and page["anchors"][0]["paragraph_id"] == 1


def test_mention_rules():
    linker = MentionLinker(["New York", "New York City", "Solar energy", "Photosynthesis", "Mercury (planet)",
                            "Adolf Hitler", "About", "BBC", "1879", "List of cities", "Paris", "Paris"])
    text = ("In New York City, solar energy, photosynthesis about Mercury; Parisian, adolf hitler, Paris and "
            "Paris, 1879, mercury.")
    page = {"wikipedia_title": "Oslo", "text": ["Oslo\n", "## Paris\n", text]}
    found = [(a["text"], a["href"]) for a in linker.anchors(page)]
    assert found == [("New York City", "New%20York%20City"), ("solar energy", "Solar%20energy"),
                     ("Mercury", "Mercury%20%28planet%29"), ("Paris", "Paris")]
    for anchor in linker.anchors(page):
        assert anchor["inferred"] and page["text"][2][anchor["start"]:anchor["end"]] == anchor["text"]
    assert linker.anchors({"wikipedia_title": "Paris", "text": ["Paris\n", "Paris, capital."]}) == []


# A 2Wiki-like corpus: ids under `id`, titles under `title`, text one string, no links at all.
LINKLESS = [
    {"id": "w1", "title": "Ada Lovelace", "text": "Ada Lovelace worked with Charles Babbage on the Analytical Engine. She was born in London."},
    {"id": "w2", "title": "Charles Babbage", "text": "Charles Babbage designed the Analytical Engine and lived in London. He knew Ada Lovelace."},
    {"id": "w3", "title": "Analytical Engine", "text": "The Analytical Engine was designed by Charles Babbage; Ada Lovelace wrote its first program. It was never built in London."},
    {"id": "w4", "title": "London", "text": "London is the capital of England. Charles Babbage and Ada Lovelace lived there, near the Analytical Engine workshop."},
]


def test_linkless_corpus_infers_links_by_default_with_a_notice(tmp_path):
    source = tmp_path / "linkless.jsonl"
    source.write_bytes(to_jsonl(LINKLESS))
    result = run_ltrl("index", str(source), "-o", str(tmp_path / "idx"), "--threads", "1")
    assert result.returncode == 0, result.stderr
    stderr = result.stderr.decode()
    assert "none of the first 1,000 pages has a hyperlink; inferring links" in stderr
    assert "page ids are taken from the field 'id'" in stderr
    index = open_index(tmp_path / "idx")
    try:
        assert index.info["inferred_links"] == index.info["resolved"] == 12  # each page names the other three
        evidence = index.anchor_evidence("w1", "w2")
        assert evidence["inferred"] and evidence["text"] == "Charles Babbage"
        assert "Charles Babbage" in evidence["paragraph"]
    finally:
        index.close()


def test_no_links_warns_and_a_failed_build_does_not_block_the_retry(tmp_path):
    source = tmp_path / "linkless.jsonl"
    source.write_bytes(to_jsonl(LINKLESS))
    out = tmp_path / "idx"
    result = run_ltrl("index", str(source), "-o", str(out), "--threads", "1", "--no-link-mentions")
    assert result.returncode == 0
    assert "no links resolved among 4 pages" in result.stderr.decode()
    assert "--link-mentions" in result.stderr.decode()
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(to_jsonl(LINKLESS[:2]) + b'{"id": "w9", "title": "X", "text": "\xff\xfe"}\n')
    fresh = tmp_path / "fresh"
    result = run_ltrl("index", str(bad), "-o", str(fresh))
    assert result.returncode == 1
    assert result.stderr.decode().strip() == f"ltrl index: {bad}: line 3: not valid UTF-8 (byte 37 of the line)"
    assert not fresh.exists()
    (fresh / "graph").mkdir(parents=True)  # what a SIGKILLed build leaves: our mark, no COMPLETE
    (fresh / ".ltrl-index").write_text("ltrl index directory\n")
    result = run_ltrl("index", str(source), "-o", str(fresh), "--threads", "1")
    assert result.returncode == 0, result.stderr
    assert b"holds an unfinished build; replacing it" in result.stderr


def test_repeated_titles_and_dropped_anchors_are_counted(tmp_path):
    pages = [TOLKIEN, HOBBIT, RINGS, BLOEM, {**BLOEM, "_id": "7", "wikipedia_id": "7"}]
    source = tmp_path / "kilt.jsonl"
    source.write_bytes(to_jsonl(pages))
    result = run_ltrl("index", str(source), "-o", str(tmp_path / "idx"), "--threads", "1")
    assert result.returncode == 0, result.stderr
    stderr = result.stderr.decode()
    assert "1 anchor(s) name a paragraph their page does not have" in stderr
    assert "dropped 1 anchor(s) without an href" in stderr
    assert "1 page(s) have a title an earlier page already had" in stderr
    info = orjson.loads((tmp_path / "idx" / "COMPLETE").read_bytes())
    assert (info["repeated_titles"], info["anchors_out_of_range"], info["anchors_no_target"]) == (1, 1, 1)
    index = open_index(tmp_path / "idx")
    try:
        text = index.page("3")["text"]
        assert "## Early life\n" in text and not any("::::" in p for p in text)
        hits = index.search("Tolkien Hobbit", 5)
        assert hits and not any("::::" in h.snippet for h in hits)
    finally:
        index.close()


def test_a_directory_is_not_a_corpus(tmp_path):
    result = run_ltrl("index", str(tmp_path), "-o", str(tmp_path / "idx"))
    assert result.returncode == 1 and b"is a directory, not a corpus file" in result.stderr


def test_walk_that_finds_nothing_exits_1_and_says_why(tmp_path):
    source = tmp_path / "linkless.jsonl"
    source.write_bytes(to_jsonl(LINKLESS))
    bare, linked = tmp_path / "bare", tmp_path / "linked"
    assert run_ltrl("index", str(source), "-o", str(bare), "--no-link-mentions", "--threads", "1").returncode == 0
    assert run_ltrl("index", str(source), "-o", str(linked), "--threads", "1").returncode == 0
    result = run_ltrl("walk", "--index", str(bare), "-n", "5")
    assert result.returncode == 1 and result.stdout == b""
    assert "no walk found: the index has no links (4 pages, 0 links)" in result.stderr.decode()
    assert "--link-mentions" in result.stderr.decode()
    result = run_ltrl("walk", "--index", str(linked), "-n", "5", "--hops", "6")
    assert result.returncode == 1
    assert "no path of 6 links passes the filters" in result.stderr.decode()
    assert "--hops 3 finds walks" in result.stderr.decode()  # four pages: at most three links
    result = run_ltrl("walk", "--index", str(linked), "-n", "5", "--hops", "2", "--min-out-degree", "9")
    assert result.returncode == 1
    stderr = result.stderr.decode()
    assert "no page passes the filters" in stderr and "the most links a page has is 3" in stderr
    assert "--min-out-degree 3 finds walks of 2 links" in stderr
    result = run_ltrl("walk", "--index", str(linked), "-n", "5", "--hops", "2")
    assert result.returncode == 0 and len(result.stdout.splitlines()) == 5
