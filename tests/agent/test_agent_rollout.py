"""Both protocols end to end against a fake OpenAI-compatible server with scripted replies:
malformed actions, a model that never answers, budgets, endpoint failures."""

from __future__ import annotations

import pytest

from ltrl_cli.agent.rollout import Budgets, trim_context
from ltrl_cli.backends.base import MemoryIndex
from ltrl_cli.reward.judge import make_judge
from ltrl_cli.llm.openai import OpenAIChat
from ltrl_cli.stages.search_agent import AgentOptions, search_agent
from ltrl_cli.stats import Stats
from tests.fake_openai import FakeOpenAI, Reply, completion

from .test_agent_tools import PAGES

QUESTION = {"id": "q1", "question": "When was the Vesterian astronomer of Venmoor born?", "answer": "1879",
            "path": [{"id": "3"}, {"id": "1"}], "gold_entities": ["Vesteria"]}


@pytest.fixture(scope="module")
def shared_server():
    # One server for the module: each FakeOpenAI costs half a second to shut down.
    with FakeOpenAI(lambda body: completion("")) as server:
        yield server


@pytest.fixture
def server(shared_server):
    shared_server.requests.clear()
    return shared_server


def turn_of(body: dict) -> int:
    """Which turn of its rollout a request is (requests of K rollouts interleave)."""
    return sum(m["role"] == "assistant" for m in body["messages"])


def scripted(replies: list[dict]):
    return lambda body: replies[min(turn_of(body), len(replies) - 1)]


def agent(server: FakeOpenAI, *, protocol: str, k: int = 1, budgets: Budgets = Budgets(max_steps=8),
          records=(QUESTION,), stats: Stats | None = None, retries: int = 0, keep_think=False) -> list[dict]:
    llm = OpenAIChat(server.base_url, "fake", max_retries=retries, backoff=0.01, timeout=10)
    options = AgentOptions(rollouts=k, protocol=protocol, budgets=budgets, concurrency=4, keep_think=keep_think)
    return list(search_agent(list(records), llm=llm, index=MemoryIndex(PAGES), judge=make_judge("contains"),
                             options=options, stats=stats))


def call(name: str, **arguments) -> dict:
    return {"name": name, "arguments": arguments}


def test_tool_calling_protocol_with_malformed_actions(server):
    replies = [
        completion(None, tool_calls=[call("search", query="Venmoor astronomer")]),
        completion(None, tool_calls=[call("fly", to="moon"), call("open", id="1")]),
        completion(None, tool_calls=[{"name": "cite", "arguments": "{not json"}]),
        completion("", tool_calls=[call("cite", ids=["1"]), call("answer", text="14 March 1879")]),
    ]
    server.handler = scripted(replies)
    [record] = agent(server, protocol="tools", k=2)
    assert record["agent"]["protocol"] == "tools" and record["agent"]["backend"] == "openai"
    for rollout in record["rollouts"]:
        assert [s["action"] for s in rollout["steps"]] == ["search", "fly", "open", "cite", "cite", "answer"]
        errors = [s.get("error") for s in rollout["steps"]]
        assert "unknown action 'fly'" in errors[1] and "not valid JSON" in errors[3]
        assert rollout["stop"] == "answered" and rollout["answer"] == "14 March 1879" and rollout["correct"] is True
        assert rollout["opened"] == ["1"] and rollout["cited"] == ["1"] and "1" in rollout["seen"]
        assert rollout["turns"] == 4 and rollout["tokens"] == {"prompt": 40, "completion": 20}
    bodies = server.requests
    assert all(b["tools"][0]["type"] == "function" for b in bodies)
    last = max(bodies, key=turn_of)["messages"]
    calls = [c["id"] for m in last if m["role"] == "assistant" for c in m.get("tool_calls", [])]
    answered = [m["tool_call_id"] for m in last if m["role"] == "tool"]
    assert answered == calls, "every tool call gets a tool message with its id"
    assert "error: unknown action 'fly'" in [m["content"] for m in last if m["role"] == "tool"][1]
    seeds = {b["seed"] for b in bodies}
    assert len(seeds) == 2, "each rollout has its own seed"


def test_text_tag_protocol_with_think_blocks_and_bad_actions(server):
    replies = [
        completion("<think>search first</think><search>Venmoor astronomer</search>"),
        completion('<open id="404"/>'),
        completion("I believe the answer is 1879."),
        completion("<open id='1'/>"),
        completion("<think>done</think>Found it. <cite>1</cite> <answer>14 March 1879</answer>"),
    ]
    server.handler = scripted(replies)
    [record] = agent(server, protocol="tags", keep_think=True)
    [rollout] = record["rollouts"]
    assert rollout["steps"][0]["reasoning"] == "search first" and "reasoning" not in rollout["steps"][1]
    assert [s["action"] for s in rollout["steps"]] == ["search", "open", "none", "open", "cite", "answer"]
    assert "only ids shown by a search" in rollout["steps"][1]["error"]
    assert "no action found" in rollout["steps"][2]["error"]
    assert rollout["correct"] is True and rollout["cited"] == ["1"]
    last = max(server.requests, key=turn_of)
    assert "tools" not in last
    observations = [m["content"] for m in last["messages"][2:] if m["role"] == "user"]
    assert all(o.startswith("<observation>") for o in observations) and "[id: 1]" in observations[0]
    replies_sent = [m["content"] for m in last["messages"] if m["role"] == "assistant"]
    assert replies_sent[0] == "<search>Venmoor astronomer</search>", "old reasoning is not sent back"


def test_a_model_that_never_answers_runs_out_of_steps(server):
    server.handler = lambda body: completion("<search>Venmoor</search>")
    [record] = agent(server, protocol="tags", budgets=Budgets(max_steps=3))
    [rollout] = record["rollouts"]
    assert rollout["stop"] == "step_budget" and rollout["answer"] is None
    assert rollout["correct"] is False and rollout["judge"]["skipped"] == "no answer"
    assert len(server.requests) == 3
    assert "One turn left" in server.requests[-1]["messages"][-1]["content"]


def test_token_budget_caps_each_turn_and_ends_the_rollout(server):
    reply = completion("<search>Venmoor</search>", completion_tokens=600)
    server.handler = lambda body: reply
    [record] = agent(server, protocol="tags", budgets=Budgets(max_rollout_tokens=1000, max_tokens_per_turn=800))
    assert record["rollouts"][0]["stop"] == "token_budget"
    assert [b["max_tokens"] for b in server.requests] == [800, 400]


def test_context_budget_trims_old_observations_first(server):
    queries = ["Venmoor", "Vesteria", "lake", "astronomer", "glassmaking"]
    replies = [completion(f"<search>{q}</search>") for q in queries] + [completion("<answer>1879</answer>")]
    server.handler = scripted(replies)
    [record] = agent(server, protocol="tags", budgets=Budgets(max_context_tokens=420, max_steps=10))
    assert record["rollouts"][0]["stop"] == "answered"
    last = server.requests[-1]["messages"]
    observations = [m["content"] for m in last[2:] if m["role"] == "user"]
    assert "[trimmed to save context]" in observations[0] and observations[0].startswith('search "Venmoor"')
    assert "[trimmed" not in observations[-1] and "[id:" in observations[-1]


def test_a_context_that_cannot_fit_stops_the_rollout(server):
    messages = [{"role": "system", "content": "x" * 4000}, {"role": "user", "content": "q"}]
    assert trim_context(messages, 100) is False
    server.handler = lambda body: completion("<search>Venmoor</search>")
    [record] = agent(server, protocol="tags", budgets=Budgets(max_context_tokens=300))
    assert record["rollouts"][0]["stop"] == "context_budget" and len(server.requests) <= 2


def test_endpoint_failure_marks_the_rollout_and_is_counted(server):
    def flaky(body):
        return Reply({"error": {"message": "overloaded"}}, status=503) if turn_of(body) == 1 else \
            completion("<search>Venmoor</search>")

    stats = Stats()
    server.handler = flaky
    [record] = agent(server, protocol="tags", k=2, stats=stats, retries=1)
    for rollout in record["rollouts"]:
        assert rollout["stop"] == "error" and "503" in rollout["error"] and rollout["correct"] is None
        assert [s["action"] for s in rollout["steps"]] == ["search"], "the steps before the failure are kept"
    assert record["agent"]["failed_rollouts"] == 2
    assert (stats["failed rollouts"], stats["failed questions"], stats["rollouts"]) == (2, 1, 2)


def test_a_prompt_over_the_endpoints_context_ends_that_rollout_only(server):
    # vLLM answers 400 when prompt + max_tokens exceed max_model_len: that rollout's end,
    # as at a budget, not a failure of the run (which would exit 1 after hours of work).
    def too_long_at_turn_2(body):
        if turn_of(body) == 1:
            return Reply({"object": "error", "type": "BadRequestError", "code": 400,
                          "message": "This model's maximum context length is 32768 tokens."}, status=400)
        return completion("<search>Venmoor</search>")

    stats = Stats()
    server.handler = too_long_at_turn_2
    [record] = agent(server, protocol="tags", stats=stats)
    rollout = record["rollouts"][0]
    assert rollout["stop"] == "rejected" and "maximum context length" in rollout["error"]
    assert rollout["correct"] is False and [s["action"] for s in rollout["steps"]] == ["search"]
    assert record["agent"]["failed_rollouts"] == 0 and not stats["failed rollouts"]


def test_retried_faults_are_invisible_in_the_record(server):
    failures = {"left": 2}

    def shaky(body):
        if failures["left"]:
            failures["left"] -= 1
            return Reply({"error": {"message": "busy"}}, status=500)
        return completion("<answer>1879</answer>")

    server.handler = shaky
    [record] = agent(server, protocol="tags", retries=3)
    assert record["rollouts"][0]["stop"] == "answered" and record["rollouts"][0]["correct"] is True


@pytest.mark.parametrize("missing", ["question", "answer"])
def test_records_without_question_or_answer_are_bad_input(missing):
    from ltrl_cli.errors import BadInput
    from ltrl_cli.records import READS

    record = {k: v for k, v in QUESTION.items() if k != missing}
    with pytest.raises(BadInput, match=f"missing field '{missing}'"):  # the command's reader refuses it
        READS["search-agent"].check(record)


def test_llm_judge_verdicts_and_failures_are_recorded(server):
    from ltrl_cli.agent.lexical import LexicalAgent

    verdicts = {"n": 0}

    def judge_endpoint(body):
        verdicts["n"] += 1
        if verdicts["n"] == 1:
            return completion("extracted_final_answer: 14 March 1879\nreasoning: same year\ncorrect: yes")
        return Reply({"error": {"message": "judge down"}}, status=500)

    server.handler = judge_endpoint
    judge = make_judge("llm", llm=OpenAIChat(server.base_url, "judge", max_retries=0, timeout=10))
    stats = Stats()
    options = AgentOptions(rollouts=2, protocol="tags", concurrency=1)
    [record] = search_agent([QUESTION], llm=LexicalAgent(), index=MemoryIndex(PAGES), judge=judge,
                            options=options, stats=stats)
    # which rollout reaches the judge first is up to scheduling
    first, second = sorted(record["rollouts"], key=lambda r: r["correct"] is not True)
    assert first["correct"] is True and first["judge"]["name"] == "llm" and "correct: yes" in first["judge"]["raw"]
    assert second["correct"] is None and "judge endpoint failed" in second["judge"]["error"]
    assert stats["judge errors"] == 1 and record["agent"]["correct_rollouts"] == 1
    assert "[id:" not in server.requests[0]["messages"][0]["content"], "the judge sees the answer, not the pages"
