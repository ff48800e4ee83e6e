"""The offline lexical policy: what it may see, how it reads, and how well it does on real indexes."""

from __future__ import annotations

import asyncio
import json

from ltrl_cli.agent.clues import answer_kind, asked_keys, best_attribute, queries_for
from ltrl_cli.agent.lexical import MODEL, LexicalAgent
from ltrl_cli.backends.base import MemoryIndex
from ltrl_cli.reward.judge import make_judge
from ltrl_cli.stages.search_agent import AgentOptions, search_agent

from .test_agent_tools import PAGES


class Spy:
    """Wraps the policy and keeps every request it was sent."""

    def __init__(self, inner):
        self.inner, self.name, self.model = inner, inner.name, inner.model
        self.requests = []

    async def chat(self, request):
        self.requests.append(request)
        return await self.inner.chat(request)


def run_agent(llm, records, index, k=3, protocol="tags", max_steps=16):
    from ltrl_cli.agent.rollout import Budgets

    budgets = Budgets(max_steps=max_steps, max_rollout_tokens=10**6)
    options = AgentOptions(rollouts=k, protocol=protocol, concurrency=8, budgets=budgets)
    return list(search_agent(records, llm=llm, index=index, judge=make_judge("contains"), options=options))


def test_the_policy_never_sees_the_answer_or_the_chain():
    pages = PAGES + [{"wikipedia_id": "9", "wikipedia_title": "Secret", "text": ["Secret", "Unrelated text."]}]
    record = {"id": "q1", "question": "When was the Vesterian astronomer of Venmoor born?",
              "answer": "ZZANSWER", "gold_entities": ["ZZGOLD"], "path": [{"id": "9", "title": "ZZPATH"}],
              "synth": {"note": "ZZSYNTH"}}
    spy = Spy(LexicalAgent())
    [out] = run_agent(spy, [record], MemoryIndex(pages))
    sent = json.dumps([r.messages for r in spy.requests])
    assert spy.requests and not any(secret in sent for secret in ("ZZANSWER", "ZZGOLD", "ZZPATH", "ZZSYNTH"))
    assert out["answer"] == "ZZANSWER" and all(r["correct"] is False for r in out["rollouts"])


def test_it_finds_the_attribute_the_question_asks_for():
    spy = Spy(LexicalAgent())
    record = {"id": "q1", "question": "When was the Vesterian astronomer of Venmoor born?", "answer": "1879"}
    [out] = run_agent(spy, [record], MemoryIndex(PAGES), k=2)
    assert out["agent"]["backend"] == "lexical" and out["agent"]["model"] == MODEL
    for rollout in out["rollouts"]:
        assert rollout["answer"] == "14 March 1879" and rollout["correct"] is True
        assert "1" in rollout["cited"] and set(rollout["cited"]) <= set(rollout["opened"]) <= set(rollout["seen"])
    assert all(r.seed is not None for r in spy.requests)


def test_it_speaks_the_tool_calling_protocol_too():
    record = {"id": "q1", "question": "How many people live in the region known for glassmaking?",
              "answer": "48,210"}
    [out] = run_agent(LexicalAgent(), [record], MemoryIndex(PAGES), k=1, protocol="tools")
    assert out["agent"]["protocol"] == "tools" and out["rollouts"][0]["correct"] is True


def test_rollouts_differ_by_seed_and_reruns_repeat():
    record = {"id": "q1", "question": "When was the Vesterian astronomer of Venmoor born near the lake?",
              "answer": "1879"}
    first = run_agent(LexicalAgent(), [record], MemoryIndex(PAGES), k=4)[0]["rollouts"]
    again = run_agent(LexicalAgent(), [record], MemoryIndex(PAGES), k=4)[0]["rollouts"]
    strip = lambda rs: [{k: v for k, v in r.items() if k != "time_s"} for r in rs]  # noqa: E731
    assert strip(first) == strip(again)
    assert len({json.dumps(r["steps"]) for r in first}) > 1, "K rollouts are not copies of one another"


def test_question_reading():
    assert answer_kind("In which year was it founded?") == "date"
    assert answer_kind("How long is the river?") == "number"
    assert answer_kind("Where is the guild headquartered?") == "place"
    assert asked_keys("What is the elevation of the mountain?") == ["elevation"]
    assert best_attribute(["Area: 12 km²", "Founded: 1820"], ["founded", "established"], "date") == \
        ["Founded", "1820", 3.0]
    assert best_attribute(["Just prose here."], ["born"], "date") is None
    queries = [q for _, q in queries_for("Which painter from Vesteria painted The Amber Tide?", None, 4)]
    assert "Vesteria" in queries and "Amber Tide" in queries


def test_chain_questions_are_read_into_clues():
    from ltrl_cli.agent.clues import fill, read_question

    question = ('[E1] is a river in Vesteria. [E1]\'s page says: "Members of [E2] visited the river." '
                '[E2] was a [...] astronomer. [E2]\'s page links to [E3]. '
                'The page of [E3] has the sentence "It had ____ members in [...] 1870." What goes in the blank?')
    reading = read_question(question)
    assert [(c.number, c.quote) for c in reading.clues] == [(1, "Members of [E2] visited the river."), (2, None)]
    assert reading.target == 3 and reading.cloze.fills == ["blank", None]
    assert fill(reading.clues[0], ["Members of Arlo Venmoor visited the river."]) == {"2": "Arlo Venmoor"}
    assert fill(reading.cloze, ["It had 4,210 members in early 1870."]) == {"blank": "4,210"}
    assert fill(reading.clues[0], ["Members of Arlo Venmoor visited the lake."]) is None


def test_notes_survive_trimmed_observations():
    from ltrl_cli.llm.base import ChatRequest

    async def turns():
        agent = LexicalAgent()
        messages = [{"role": "system", "content": "You have at most 6 turns."},
                    {"role": "user", "content": "Question: When was the astronomer of Venmoor born?"}]
        reply = await agent.chat(ChatRequest(messages=list(messages)))
        return reply.content

    content = asyncio.run(turns())
    assert content.startswith("<notes>") and "<search>" in content.split("</notes>", 1)[1]


# ---------------------------------------------------------------- through the real index


def pipeline_questions(index, *, n: int, hops: int, seed: int) -> list[dict]:
    """walk | synth --backend template, in-process, keeping the accepted questions."""
    from ltrl_cli.stages.synth import synth
    from ltrl_cli.stages.walk import walk
    from ltrl_cli.synth.template import TemplateWriter

    walks = list(walk(None, index=index, n=n, hops=hops, seed=seed))
    return [r for r in synth(walks, pages=index, writer=TemplateWriter()) if r["synth"]["accepted"]]


def check_rollouts(records: list[dict]) -> float:
    """Assert the tool invariants on every rollout; return the fraction of questions solved."""
    for record in records:
        assert record["agent"]["backend"] == "lexical" and record["agent"]["model"] == MODEL
        for rollout in record["rollouts"]:
            assert set(rollout["opened"]) <= set(rollout["seen"]), "opened ⊆ seen"
            assert set(rollout["cited"]) <= set(rollout["opened"]), "cited ⊆ opened"
            assert rollout["stop"] in ("answered", "step_budget") and rollout["correct"] in (True, False)
            if rollout["correct"]:
                assert rollout["cited"], "a correct rollout cites its support"
    return sum(r["agent"]["correct_rollouts"] > 0 for r in records) / len(records)


def test_lexical_agent_on_the_demo_corpus(demo_index):
    from ltrl_cli.backends.index import open_index
    from ltrl_cli.stages.tier import tier

    index = open_index(demo_index)
    try:
        questions = pipeline_questions(index, n=16, hops=8, seed=3)
        assert len(questions) >= 12
        records = run_agent(LexicalAgent(), questions, index, k=2, max_steps=60)
    finally:
        index.close()
    solved = check_rollouts(records)
    assert solved >= 0.4, f"only {solved:.0%} of the demo questions solved"
    tiered = list(tier(records))
    assert len(tiered) == round(solved * len(records))
    assert sum(len(r["tiers"]["tier1"]) for r in tiered) and sum(len(r["tiers"]["tier2"]) for r in tiered)


def test_lexical_agent_on_wikispeedia(wikispeedia, tmp_path):
    """A 300-page slice of the real Wikipedia pages, indexed by the real `ltrl index` code."""
    import gzip

    from ltrl_cli.backends.index import open_index
    from ltrl_cli.stages.index import build_index

    with gzip.open(wikispeedia, "rb") as source, open(tmp_path / "slice.jsonl", "wb") as out:
        for number, line in enumerate(source):
            if number == 300:
                break
            out.write(line)
    build_index(tmp_path / "slice.jsonl", tmp_path / "idx", threads=1)
    index = open_index(tmp_path / "idx")
    try:
        questions = pipeline_questions(index, n=10, hops=3, seed=1)
        assert len(questions) >= 6
        records = run_agent(LexicalAgent(), questions, index, k=2, max_steps=60)
    finally:
        index.close()
    solved = check_rollouts(records)
    # The questions need their whole chain now (no entering at the last clue), and on real
    # pages a link's text is often not its page's title, which the stand-in looks for: it
    # solves about one in ten here (it solved a quarter when it could take the shortcut).
    assert solved >= 0.1, f"only {solved:.0%} of the Wikispeedia questions solved"
