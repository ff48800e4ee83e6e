"""Outcome judges: normalised matching, verdict parsing, and the LLM judge against a
scripted in-test LLM and a fake OpenAI-compatible server over real sockets."""

from __future__ import annotations

import asyncio
import doctest

import pytest

from ltrl_cli.reward import judge as J
from ltrl_cli.reward.judge import (
    LLMJudge, RuleJudge, Verdict, contains_match, exact_match, extract_answer, make_judge, normalize_answer,
    parse_extracted, parse_verdict,
)
from ltrl_cli.errors import BackendError, UsageError
from ltrl_cli.llm.base import ChatRequest, ChatResponse
from tests.fake_openai import FakeOpenAI, Reply, completion


def test_doctests_pass():
    assert doctest.testmod(J).failed == 0


# ---------------------------------------------------------------- rule judges

@pytest.mark.parametrize("answer, label, exact, contains", [
    ("Paris", "paris", True, True),
    ("The Beatles!", "beatles", True, True),
    ("  an   apple ", "Apple", True, True),
    ("Paris, France", "Paris", False, True),
    ("Parisian", "Paris", False, False),  # whole words only
    ("1,000", "1000", True, True),
    ("Jean-Paul Sartre", "jeanpaul sartre", True, True),  # punctuation removed, not spaced
    ("the theory", "theory", True, True),
    ("there", "here", False, False),
    ("", "x", False, False),
])
def test_exact_and_contains(answer, label, exact, contains):
    assert exact_match(answer, label) is exact
    assert contains_match(answer, label) is contains


def test_normalize_answer_unicode_punctuation_and_articles():
    assert normalize_answer("«An Élan» — the END…") == "élan end"


def test_extract_answer_prefers_boxed_then_answer_line():
    assert extract_answer("x \\boxed{1} then \\boxed{2}") == "2"
    assert extract_answer("Work.\nAnswer: 7\nFinal answer: **8**") == "8"
    assert extract_answer("  just this ") == "just this"


def test_rule_judge_verdicts():
    verdict = asyncio.run(RuleJudge("contains").judge(None, "Final answer: Paris, France", "paris"))
    assert verdict == Verdict(correct=True, answer="Paris, France")
    assert asyncio.run(RuleJudge("exact").judge("q", "Answer: Lyon", "Paris")).correct is False


def test_make_judge():
    assert make_judge("exact").name == "exact"
    assert make_judge("contains").name == "contains"
    with pytest.raises(UsageError, match="--judge llm needs a model"):
        make_judge("llm")
    with pytest.raises(UsageError, match="'vibes': choose one of exact, contains, llm"):
        make_judge("vibes")


# ---------------------------------------------------------------- the tolerant reading (--judge-parse tolerant)

@pytest.mark.parametrize("reply, expected", [
    ("extracted_final_answer: Paris\nreasoning: same\ncorrect: yes", True),
    ("correct: no", False),
    ("**correct:** yes", True),
    ("**Correct**: **YES**.", True),
    ("Correct: No.", False),
    ("- correct: [yes]", True),
    ("`correct: no`", False),
    ("correct：yes", True),  # full-width colon
    ("> **correct: yes**", True),
    ("correct: yes\nwait, the years differ.\ncorrect: no", False),  # the last verdict wins
    ("The answer is correct: it matches.", None),  # prose, not a verdict line
    ("incorrect: yes", None),
    ("correct: maybe", None),
    ("", None),
    ("extracted_final_answer: None\nreasoning: nothing given", None),
])
def test_parse_verdict(reply, expected):
    assert parse_verdict(reply) is expected


def test_parse_extracted():
    assert parse_extracted("extracted_final_answer: 42 km\ncorrect: yes") == "42 km"
    assert parse_extracted("**Extracted final answer:** `Paris`") == "Paris"
    assert parse_extracted("extracted_final_answer: None") is None
    assert parse_extracted("correct: yes") is None


# ---------------------------------------------------------------- LLM judge, scripted LLM

class ScriptedLLM:
    """An in-test LLM: answers from a list; an Exception item is raised instead."""

    name = "scripted"
    model = "scripted-judge"

    def __init__(self, replies):
        self.replies = list(replies)
        self.requests: list[ChatRequest] = []

    async def chat(self, request: ChatRequest) -> ChatResponse:
        self.requests.append(request)
        reply = self.replies.pop(0)
        if isinstance(reply, Exception):
            raise reply
        return ChatResponse(content=reply)


def run_judge(llm, question="Capital of France?", content="It is Paris.", label="Paris", **opts):
    return asyncio.run(LLMJudge(llm, **opts).judge(question, content, label))


def test_llm_judge_prompt_and_success():
    llm = ScriptedLLM(["extracted_final_answer: Paris\nreasoning: same city\n**correct: yes**"])
    verdict = run_judge(llm)
    assert (verdict.correct, verdict.answer, verdict.attempts, verdict.error) == (True, "Paris", 1, None)
    prompt = llm.requests[0].messages[0]["content"]
    for part in ("Capital of France?", "It is Paris.", "[correct_answer]: Paris", "margin"):
        assert part in prompt
    # The three fields are asked for in the authors' order.
    assert prompt.index("extracted_final_answer:") < prompt.index("reasoning:") < prompt.index("correct: yes")
    # Nothing but the model and the no-thinking switch: no sampling parameters of ours.
    payload = llm.requests[0].payload()
    assert set(payload) == {"messages", "chat_template_kwargs"}
    assert payload["chat_template_kwargs"] == {"enable_thinking": False}


def test_llm_judge_asks_again_with_a_new_cache_key():
    llm = ScriptedLLM(["I am not sure.", "extracted_final_answer: Lyon\ncorrect: no"])
    verdict = run_judge(llm)
    assert (verdict.correct, verdict.attempts) == (False, 2)
    first, retry = llm.requests
    assert first.payload() == retry.payload() and first.cache_key != retry.cache_key  # a cache cannot replay it


@pytest.mark.parametrize("no_think, extra", [("chat-template", {"chat_template_kwargs": {"enable_thinking": False}}),
                                             ("thinking-disabled", {"thinking": {"type": "disabled"}}),
                                             ("none", {})])
def test_llm_judge_no_think_switch_and_user_sampling(no_think, extra):
    llm = ScriptedLLM(["extracted_final_answer: x\ncorrect: yes"])
    run_judge(llm, no_think=no_think, temperature=0.2, max_tokens=64)
    payload = llm.requests[0].payload()
    assert payload == {"messages": payload["messages"], "temperature": 0.2, "max_tokens": 64, **extra}


# ---------------------------------------------------------------- the authors' parsing rule (strict, default)

@pytest.mark.parametrize("reply, expected", [
    ("extracted_final_answer: Paris\nreasoning: same\ncorrect: yes", (True, "Paris")),
    ("extracted_final_answer: Lyon\nreasoning: differs\nCORRECT: No", (False, "Lyon")),
    # bold: up to two * either side of the word `correct`, but not between the colon and the word
    ("**extracted_final_answer**: Paris\n**correct**: yes", (True, "Paris")),
    ("extracted_final_answer: Paris\n**correct:** yes", (None, "Paris")),
    ("**extracted_final_answer:** Paris\ncorrect: yes", (True, "Paris")),  # the value starts "** ": found
    # repeated: the FIRST verdict counts, whatever follows
    ("extracted_final_answer: Paris\ncorrect: yes\non reflection\ncorrect: no", (True, "Paris")),
    ("extracted_final_answer: A\nextracted_final_answer: B\ncorrect: no", (False, "A")),
    # `correct` inside another word still matches, as theirs does
    ("extracted_final_answer: x\nreasoning: it is incorrect: no match", (False, "x")),
    # missing fields: no verdict
    ("reasoning: same\ncorrect: yes", (None, None)),
    ("extracted_final_answer: Paris\nreasoning: same", (None, "Paris")),
    ("extracted_final_answer: Paris\ncorrect: maybe", (None, "Paris")),
    ("", (None, None)),
    # `None` is an extracted answer like any other: the verdict stands
    ("extracted_final_answer: None\nreasoning: nothing given\ncorrect: no", (False, "None")),
])
def test_parse_strict(reply, expected):
    assert J.parse_strict(reply) == expected


def test_strict_judge_asks_three_times_then_gives_up():
    llm = ScriptedLLM(["correct: yes", "**correct:** yes\nextracted_final_answer: x", "extracted_final_answer: x"])
    verdict = run_judge(llm)
    assert verdict.correct is None and verdict.attempts == 3 and "extracted_final_answer" in verdict.error


def test_tolerant_parser_behind_the_switch():
    llm = ScriptedLLM(["**Correct:** **Yes**."])
    assert run_judge(llm, parser="tolerant").correct is True


def test_custom_prompt_word_for_word():
    prompt = "Q={question} | A={correct_answer} | R={response} | {\"json\": 1}"
    llm = ScriptedLLM(["extracted_final_answer: x\ncorrect: no"])
    run_judge(llm, prompt=prompt, content="resp {question}")
    assert llm.requests[0].messages[0]["content"] == 'Q=Capital of France? | A=Paris | R=resp {question} | {"json": 1}'


def test_prompt_file_must_have_the_placeholders():
    assert J.check_prompt(J.JUDGE_PROMPT) == J.JUDGE_PROMPT
    with pytest.raises(UsageError, match=r"lacks the placeholder\(s\) \{correct_answer\}"):
        J.check_prompt("{question} {response} {label}")


def test_llm_judge_gives_up_after_three_garbage_replies():
    llm = ScriptedLLM(["hmm", "well", "**maybe**"])
    verdict = run_judge(llm)
    assert verdict.correct is None and verdict.outcome is None
    assert verdict.attempts == 3 and "3 judge replies" in verdict.error and verdict.raw == "**maybe**"
    assert len(llm.requests) == 3


def test_llm_judge_endpoint_failure_is_an_error_not_a_zero():
    llm = ScriptedLLM([BackendError("endpoint http://x unreachable after 7 tries: HTTP 500")])
    verdict = run_judge(llm)
    assert verdict.correct is None and "HTTP 500" in verdict.error and verdict.attempts == 1


# ---------------------------------------------------------------- LLM judge over real sockets

def openai_judge(server, **opts):
    from ltrl_cli.llm.openai import OpenAIChat

    llm = OpenAIChat(server.base_url, "fake-judge", timeout=opts.pop("timeout", 5), max_retries=opts.pop("retries", 1),
                     backoff=0.01)
    return LLMJudge(llm, **opts)


def judge_over_http(server, **opts):
    from ltrl_cli.concurrency import run_sync

    return run_sync(openai_judge(server, **opts).judge("Who?", "Ada Lovelace", "Ada Lovelace"))


def test_http_judge_success():
    with FakeOpenAI(lambda body: completion("extracted_final_answer: Ada Lovelace\ncorrect: yes")) as server:
        verdict = judge_over_http(server)
        assert verdict.correct is True
        assert server.requests[0]["model"] == "fake-judge"
        assert "Ada Lovelace" in server.requests[0]["messages"][0]["content"]


def test_http_judge_server_error_becomes_judge_error():
    with FakeOpenAI(lambda body: Reply({"error": {"message": "overloaded"}}, status=500)) as server:
        verdict = judge_over_http(server)
        assert verdict.correct is None and "500" in verdict.error and "overloaded" in verdict.error
        assert len(server.requests) == 2  # the LLM layer retried once (retries=1), then gave up


def test_http_judge_timeout_becomes_judge_error():
    with FakeOpenAI(lambda body: Reply(completion("correct: yes"), delay=1.0)) as server:
        verdict = judge_over_http(server, timeout=0.2, retries=0)
        assert verdict.correct is None and "0.2s" in verdict.error


def test_http_judge_garbage_verdicts_then_error():
    with FakeOpenAI(lambda body: completion("The response looks fine to me.")) as server:
        verdict = judge_over_http(server)
        assert verdict.correct is None and verdict.attempts == 3 and len(server.requests) == 3
        assert all("temperature" not in r and "seed" not in r for r in server.requests)


def test_http_judge_recovers_after_one_garbage_reply():
    replies = {1: completion("hmm"), 2: completion("extracted_final_answer: Ada\ncorrect: No")}
    with FakeOpenAI(lambda body, n: replies[n]) as server:
        verdict = judge_over_http(server)
        assert (verdict.correct, verdict.attempts) == (False, 2)
