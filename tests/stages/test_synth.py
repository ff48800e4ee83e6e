"""The synth stage on hand-made KILT pages, the demo corpus and Wikispeedia: writers, parsing, checks."""

from __future__ import annotations

import gzip
import itertools
import json
import random
from urllib.parse import unquote

import orjson
import pytest

from ltrl_cli.backends.base import MemoryIndex, title_key
from ltrl_cli.llm.base import ChatResponse
from ltrl_cli.stages.synth import prepare, synth
from ltrl_cli.synth.prompt import LLMWriter, build_prompt
from ltrl_cli.synth.questions import SynthOptions, contains, names_entity
from ltrl_cli.synth.template import TEMPLATE_MODEL, TemplateWriter, write_question


def page(pid: str, title: str, paragraphs: list[str], links: list[tuple[str, int]] = ()) -> dict:
    """A KILT page; `links` are (anchor text, paragraph number in `paragraphs`)."""
    text = [title + "\n"] + [p + "\n" for p in paragraphs]
    anchors = []
    for anchor, number in links:
        start = text[number + 1].index(anchor)
        anchors.append({"text": anchor, "href": anchor.replace(" ", "%20"), "paragraph_id": number + 1,
                        "start": start, "end": start + len(anchor)})
    return {"wikipedia_id": pid, "wikipedia_title": title, "text": text, "anchors": anchors}


PAGES = [
    page("1", "Ada Quill", ["Ada Quill was a poet of the northern coast, known for her sea ballads.",
                            "Born: 3 May 1801", "Quill spent her youth in Lowmere and wrote about its harbour."],
         [("Lowmere", 2)]),
    page("2", "Lowmere", ["Lowmere is a fishing town on the estuary of the Sable.", "Population: 12,345",
                          "The Sable Press was founded in Lowmere by local printers."], [("Sable Press", 2)]),
    page("3", "Sable Press", ["The Sable Press is a small publisher of maps and poetry.", "Founded: 1820",
                              "Its best known book is the Iron Atlas."], [("Iron Atlas", 2)]),
    page("4", "Iron Atlas", ["Iron Atlas is a book of coastal charts printed on heavy paper.", "Published: 1833",
                             "Pages: 412", "The atlas covers two hundred miles of shoreline."]),
    page("5", "Harbour lights", ["Harbour lights guide ships into port at night.", "Many towns keep them."]),
    page("6", "Ballad", ["A ballad is a poem that tells a story, often set to music."]),
]
INDEX = MemoryIndex(PAGES)


def walk(ids=("1", "2", "3", "4"), record_id="w1", **extra) -> dict:
    path = []
    for number, pid in enumerate(ids):
        hop = {"id": pid, "title": INDEX.title(pid) if pid in ("1", "2", "3", "4", "5", "6") else "Nowhere"}
        if number:
            source = INDEX.page(ids[number - 1])
            for anchor in source["anchors"]:
                if anchor["text"] == hop["title"]:
                    hop["anchor"] = {"text": anchor["text"], "paragraph_id": anchor["paragraph_id"],
                                     "paragraph": source["text"][anchor["paragraph_id"]].strip()}
        path.append(hop)
    return {"id": record_id, "path": path, **extra}


class ScriptedLLM:
    """An LLM that answers from a script and keeps every request it was sent."""

    name = "scripted"
    model = "script-1"

    def __init__(self, *replies):
        self.replies = list(replies)
        self.requests = []

    async def chat(self, request):
        self.requests.append(request)
        reply = self.replies.pop(0)
        return reply if isinstance(reply, ChatResponse) else ChatResponse(content=reply)


def run(records, writer, **options):
    searcher = INDEX if options.get("shortcut_check") else None
    return list(synth(records, pages=INDEX, writer=writer, searcher=searcher, options=SynthOptions(**options)))


GOOD = json.dumps({"question": "The publisher founded in the fishing town where a ballad poet grew up printed "
                               "a book of charts. In what year was that book published?",
                   "answer": "1833", "gold_entities": ["Ada Quill", "Lowmere", "Sable Press", "Somebody Else"]})


# ---------------------------------------------------------------- template


def test_template_question_masks_the_chain_and_asks_an_attribute_of_the_final_page():
    [out] = run([walk(extra_key=1)], TemplateWriter())
    info = out["synth"]
    assert (info["backend"], info["model"]) == ("template", TEMPLATE_MODEL)
    assert info["accepted"] and all(check["passed"] for check in info["checks"].values())
    assert out["extra_key"] == 1 and out["path"] == walk()["path"]  # input keys pass through
    assert out["gold_entities"] == ["Ada Quill", "Lowmere", "Sable Press"]
    assert out["answer"] in ("1833", "412")
    question = out["question"]
    for title in ("Ada Quill", "Lowmere", "Sable Press", "Iron Atlas", "Quill"):
        assert title not in question
    assert question.startswith("[E1] was a poet of the northern coast")
    assert '[E1]\'s page says: "[E1] spent her youth in [E2] and wrote about its harbour."' in question
    assert "[E4]" in question and out["answer"] not in question
    assert info["final_entity"] == "Iron Atlas"


def test_template_describes_only_the_first_entity_and_relates_the_rest():
    [out] = run([walk()], TemplateWriter())
    question = out["question"]
    # [E2] and [E3] are reached only through the sentence that links to them: no lead sentence
    assert "fishing town" not in question and "small publisher" not in question
    assert '[E2]\'s page says: "The [E3] was founded in [E2] by local printers."' in question


def test_template_writes_a_surname_link_as_the_next_entity_and_hides_numbers():
    from ltrl_cli.synth.questions import Chain, ChainPage
    from ltrl_cli.synth.template import Masker, relation

    hop = ChainPage("9", "Arlo Venmoor", {}, evidence="In 1642 Venmoor wrote about Lowmere in the 1630s.",
                    anchor="Venmoor")
    chain = Chain("w", [ChainPage("2", "Lowmere", {}), hop])
    assert relation(hop, 1, Masker(chain, "x")) == "In [...] [E2] wrote about [E1] in the [...]."


def test_needs_chain_rejects_a_question_a_later_sentence_enters():
    [out] = list(synth([walk()], pages=INDEX, writer=TemplateWriter(), searcher=INDEX, options=SynthOptions()))
    check = out["synth"]["checks"]["needs_chain"]
    # "...founded in [E2] by local printers" is a sentence only Lowmere's page has: a way in
    assert out["synth"]["reason"] == "needs_chain" and not check["passed"]
    assert check["entity"] in ("E2", "E3", "E4") and check["rank"] >= 1 and check["query"]
    from ltrl_cli.synth.checks import needs_chain

    chain = prepare(walk(), INDEX, SynthOptions())[1]
    fine = needs_chain("[E1] was a poet. [E1]'s page says: \"Many towns keep them.\" Guide ships at night?",
                       chain, INDEX)
    assert fine["passed"] and fine["searches"] == 3
    unchecked = list(synth([walk()], pages=INDEX, writer=TemplateWriter(), searcher=INDEX,
                           options=SynthOptions(chain_check=False)))
    assert "needs_chain" not in unchecked[0]["synth"]["checks"] and unchecked[0]["synth"]["accepted"]


def test_template_is_deterministic_and_labels_itself():
    first = run([walk()], TemplateWriter())
    assert run([walk()], TemplateWriter()) == first
    assert "not an LLM" in first[0]["synth"]["model"]


def test_template_falls_back_to_a_cloze_and_reports_pages_without_attributes():
    chain = prepare(walk(("1", "2", "3", "4")), INDEX, SynthOptions())[1]
    chain.final.page = page("4", "Iron Atlas", ["Iron Atlas is a book of charts first printed in 1833 in a port."])
    draft = write_question(chain)
    assert draft.answer == "1833" and "____" in draft.question and draft.notes["attribute"] == "cloze"
    chain.final.page = page("4", "Iron Atlas", ["Iron Atlas is a book of coastal charts."])
    assert write_question(chain).problem == "no_attribute"


# ---------------------------------------------------------------- the LLM writer


def test_prompt_carries_each_hops_evidence_and_the_final_page():
    chain = prepare(walk(), INDEX, SynthOptions())[1]
    prompt = build_prompt(chain, SynthOptions())
    evidence = "Quill spent her youth in Lowmere and wrote about its harbour."
    assert f'2. Lowmere (linked from Ada Quill: "{evidence}")' in prompt
    assert "4. Iron Atlas (linked from Sable Press" in prompt
    assert "Final page: Iron Atlas\nIron Atlas is a book of coastal charts" in prompt and "Pages: 412" in prompt


def test_llm_answer_in_a_code_fence_with_trailing_commas_is_repaired():
    llm = ScriptedLLM(ChatResponse(content="Here you go:\n```json\n" + GOOD[:-1] + ",}\n```", reasoning="hmm",
                                   cached=True))
    [out] = run([walk()], LLMWriter(llm, SynthOptions()), keep_think=True)
    info = out["synth"]
    assert info["accepted"] and (info["backend"], info["model"]) == ("scripted", "script-1")
    assert out["answer"] == "1833"
    # names the model gave that are not chain entities (or are the final one) are dropped
    assert out["gold_entities"] == ["Ada Quill", "Lowmere", "Sable Press"] and info["gold_source"] == "model"
    assert (info["attempts"], info["cached"], info["reasoning"]) == (1, True, "hmm")
    request = llm.requests[0]
    assert request.cache_key == ("w1", "synth", 1) and request.temperature == 0.7
    assert [m["role"] for m in request.messages] == ["system", "user"]


def test_llm_gets_one_retry_when_its_json_cannot_be_read():
    llm = ScriptedLLM("I think the question is about maps.", GOOD)
    [out] = run([walk()], LLMWriter(llm, SynthOptions()))
    assert out["synth"]["accepted"] and out["synth"]["attempts"] == 2
    retry = llm.requests[1]
    assert retry.messages[-2] == {"role": "assistant", "content": "I think the question is about maps."}
    assert "JSON object" in retry.messages[-1]["content"] and retry.cache_key == ("w1", "synth", 2)

    [failed] = run([walk()], LLMWriter(ScriptedLLM("nope", '{"question": "only a question"}'), SynthOptions()))
    assert not failed["synth"]["accepted"] and failed["synth"]["reason"] == "unparseable"
    assert "question" not in failed


@pytest.mark.parametrize("question, answer, reason", [
    ("In what year was the atlas of the press published?", "1901", "answer_in_page"),
    ("Was the atlas published in 1833?", "1833", "answer_not_in_question"),
    ("In what year was the Iron Atlas published?", "1833", "final_entity_hidden"),
    ("When was the book of the Atlas kind published?", "1833", "final_entity_hidden"),
])
def test_each_check_rejects_what_it_should(question, answer, reason):
    reply = json.dumps({"question": question, "answer": answer, "gold_entities": []})
    [out] = run([walk()], LLMWriter(ScriptedLLM(reply), SynthOptions()))
    assert not out["synth"]["accepted"] and out["synth"]["reason"] == reason
    assert out["synth"]["checks"][reason]["passed"] is False
    assert out["gold_entities"] == ["Ada Quill", "Lowmere", "Sable Press"]  # the chain, when the model names none


def test_a_prompt_the_endpoint_refuses_rejects_only_that_walk():
    from ltrl_cli.llm.base import RequestRejected

    class Refusing(ScriptedLLM):
        async def chat(self, request):
            if request.cache_key[0] == "w0":
                raise RequestRejected("endpoint x rejected the request (HTTP 400): too long", 400)
            return await super().chat(request)

    outs = run([walk(record_id="w0"), walk(record_id="w1")], LLMWriter(Refusing(GOOD), SynthOptions()))
    assert [o["synth"]["accepted"] for o in outs] == [False, True]
    assert outs[0]["synth"]["reason"] == "request_rejected" and "HTTP 400" in outs[0]["synth"]["error"]


def test_shortcut_check_rejects_a_question_its_own_search_answers():
    leaky = json.dumps({"question": "Which book of coastal charts printed on heavy paper covers two hundred miles "
                                    "of shoreline, and when was it published?", "answer": "1833"})
    [out] = run([walk()], LLMWriter(ScriptedLLM(leaky), SynthOptions()), shortcut_check=True)
    assert out["synth"]["reason"] == "shortcut"
    assert out["synth"]["checks"]["shortcut"] == {"passed": False, "top_hit": "Iron Atlas"}
    [fine] = run([walk()], LLMWriter(ScriptedLLM(GOOD), SynthOptions()), shortcut_check=True)
    assert fine["synth"]["checks"]["shortcut"]["passed"]


def test_missing_pages_and_short_paths_are_rejected_with_a_reason():
    outs = run([walk(("1", "2", "99"), record_id="a"), {"id": "b", "path": [{"id": "1", "title": "Ada Quill"}]}],
               TemplateWriter())
    assert [o["synth"]["reason"] for o in outs] == ["page_missing", "short_path"]
    assert [o["id"] for o in outs] == ["a", "b"]


def test_a_path_that_is_not_pages_is_bad_input():
    from ltrl_cli.errors import BadInput

    with pytest.raises(BadInput, match=r"record 'w9': path\[1\] is not a page"):
        run([{"id": "w9", "path": [{"id": "1", "title": "Ada Quill"}, "Lowmere"]}], TemplateWriter())


def test_many_records_keep_their_order_under_concurrency():
    records = [walk(record_id=f"w{i}") for i in range(30)]
    outs = run(records, TemplateWriter(), concurrency=8)
    assert [o["id"] for o in outs] == [f"w{i}" for i in range(30)]


def test_contains_and_names_entity():
    assert contains("Population: 12,345", "12,345") and not contains("123456", "12,345")
    assert names_entity("Who printed the atlas of IRON ATLAS fame?", "Iron Atlas")
    assert not names_entity("Who printed the atlas?", "Iron Atlas")


# ---------------------------------------------------------------- real corpora


def test_template_on_the_demo_corpus_passes_its_checks(demo_index):
    from ltrl_cli.backends.index import open_index
    from ltrl_cli.stages.walk import walk as take_walks

    index = open_index(demo_index)
    try:
        walks = list(take_walks(None, index=index, n=40, hops=6, seed=3))
        outs = list(synth(walks, pages=index, writer=TemplateWriter(), searcher=index,
                          options=SynthOptions(shortcut_check=True)))
    finally:
        index.close()
    assert [o["id"] for o in outs] == [w["id"] for w in walks]
    accepted = [o for o in outs if o["synth"]["accepted"]]
    # On 400 pages a stock sentence sometimes brings a chain page up by chance: needs_chain
    # rejects those (about 1 in 10 on the 3,000-page demo).
    reasons = [o["synth"].get("reason") for o in outs if not o["synth"]["accepted"]]
    assert len(accepted) >= 0.6 * len(outs) and set(reasons) <= {"needs_chain", "shortcut"}, reasons
    for out in accepted:
        assert set(out["synth"]["checks"]) == {"answer_in_page", "answer_not_in_question", "final_entity_hidden",
                                               "shortcut", "needs_chain"}
        assert all(check["passed"] for check in out["synth"]["checks"].values())
        assert out["gold_entities"] == [hop["title"] for hop in out["path"][:-1]]
        assert out["synth"]["backend"] == "template"


def wikispeedia_chains(path, n_chains: int, hops: int, seed: int = 0,
                       limit: int = 1500) -> tuple[list[dict], list[dict]]:
    """Walk records over the first `limit` Wikispeedia pages, following anchors placed in the text."""
    pages = {}
    with gzip.open(path, "rb") as lines:
        for line in itertools.islice(lines, limit):
            record = orjson.loads(line)
            pages[record["wikipedia_id"]] = record
    by_title = {title_key(p["wikipedia_title"]): pid for pid, p in pages.items()}
    rng = random.Random(seed)
    ids = sorted(pages)
    walks = []
    while len(walks) < n_chains:
        path = [rng.choice(ids)]
        hops_taken = []
        while len(path) <= hops:
            source = pages[path[-1]]
            options = [a for a in source["anchors"]
                       if by_title.get(title_key(unquote(a["href"]))) not in (None, *path)]
            if not options:
                break
            anchor = rng.choice(options)
            path.append(by_title[title_key(unquote(anchor["href"]))])
            hops_taken.append({"text": anchor["text"], "paragraph_id": anchor["paragraph_id"],
                               "paragraph": source["text"][anchor["paragraph_id"]].strip()})
        if len(path) == hops + 1:
            walk_path = [{"id": path[0], "title": pages[path[0]]["wikipedia_title"]}]
            walk_path += [{"id": pid, "title": pages[pid]["wikipedia_title"], "anchor": hop}
                          for pid, hop in zip(path[1:], hops_taken)]
            walks.append({"id": f"ws-{len(walks)}", "path": walk_path})
    used = {hop["id"] for w in walks for hop in w["path"]}
    return walks, [pages[pid] for pid in sorted(used)]


def test_template_on_wikispeedia_passes_its_checks(wikispeedia):
    walks, used_pages = wikispeedia_chains(wikispeedia, n_chains=30, hops=4)
    index = MemoryIndex(used_pages)
    # The index holds only the walks' own pages (~150), where any search finds a chain page:
    # needs_chain means nothing there (it is measured on the demo's 3,000-page index).
    outs = list(synth(walks, pages=index, writer=TemplateWriter(), searcher=index,
                      options=SynthOptions(shortcut_check=True, chain_check=False)))
    accepted = [o for o in outs if o["synth"]["accepted"]]
    reasons = [o["synth"]["reason"] for o in outs if not o["synth"]["accepted"]]
    # real pages: some final pages have neither an attribute line nor a usable number
    assert len(accepted) >= 0.75 * len(outs), reasons
    assert set(reasons) <= {"no_attribute", "shortcut"}
    for out in accepted:
        assert all(check["passed"] for check in out["synth"]["checks"].values())
        final = out["path"][-1]["title"]
        assert not names_entity(out["question"], final)
        assert contains(" ".join(index.page(out["path"][-1]["id"])["text"]), out["answer"])
