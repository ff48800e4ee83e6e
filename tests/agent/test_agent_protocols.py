"""The two action protocols: text tags (with <think>) and OpenAI-style tool calls."""

from __future__ import annotations

import json

import orjson

from ltrl_cli.agent.protocols import (
    TOOL_SCHEMAS,
    TextTagProtocol,
    ToolCallProtocol,
    parse_tags,
)
from ltrl_cli.agent.tools import Action, Observation
from ltrl_cli.llm.base import ChatResponse
from ltrl_cli.llm.openai import parse_completion
from tests.fake_openai import completion


def tags(text: str) -> list[tuple]:
    return [(a.name, a.arguments, a.error) for a in parse_tags(text)]


def test_tag_grammar():
    assert tags("<search>Lake Venmoor</search>") == [("search", {"query": "Lake Venmoor"}, None)]
    assert tags('<search k="8">x</search>') == [("search", {"query": "x", "k": "8"}, None)]
    assert tags("<open id='12'/>") == [("open", {"id": "12"}, None)]
    assert tags('<open id="12" page="3" />') == [("open", {"id": "12", "page": "3"}, None)]
    assert tags("<open id=12>") == [("open", {"id": "12"}, None)]
    assert tags("<open>12</open>") == [("open", {"id": "12"}, None)]
    assert tags("<CITE>1, 2</CITE><Answer>Paris</Answer>") == [("cite", {"ids": "1, 2"}, None),
                                                             ("answer", {"text": "Paris"}, None)]


def test_a_turn_ends_at_the_first_search_or_open():
    invented = "<search>a</search> <observation>made up</observation> <answer>x</answer>"
    assert [a[0] for a in tags(invented)] == ["search"]
    assert [a[0] for a in tags('<cite>4</cite><open id="5"/><answer>x</answer>')] == ["cite", "open"]


def test_unclosed_tag_is_an_error_action():
    [(name, _, error)] = tags("I will answer: <answer>Paris")
    assert name == "answer" and "not closed" in error


def from_endpoint(content: str) -> ChatResponse:
    """A reply as the openai backend reads it from an endpoint."""
    return parse_completion(orjson.dumps(completion(content)))


def test_think_blocks_are_never_parsed_for_actions():
    protocol = TextTagProtocol()
    reply = "<think>maybe <answer>wrong</answer>?</think>\n<search>right</search>"
    turn = protocol.read(from_endpoint(reply), 1)  # the backend splits the reasoning off
    assert [(a.name, a.arguments) for a in turn.actions] == [("search", {"query": "right"})]
    assert "<think>" not in turn.message["content"] and turn.message["role"] == "assistant"


def test_no_tag_and_cut_off_replies_get_a_hint():
    protocol = TextTagProtocol()
    [plain] = protocol.read(ChatResponse(content="The answer is Paris."), 1).actions
    assert plain.error and "no action found" in plain.error
    [cut] = protocol.read(ChatResponse(content="<think>long thoughts", finish_reason="length"), 1).actions
    assert cut.error and "cut off" in cut.error


def test_tag_observations_come_back_as_one_user_message():
    protocol = TextTagProtocol()
    [message] = protocol.observation_messages([Action("cite"), Action("answer")],
                                              [Observation("cited: 1"), Observation("error: x", error="x")])
    assert message["role"] == "user"
    assert message["content"] == "<observation>\ncited: 1\n</observation>\n<observation>\nerror: x\n</observation>"


def test_system_prompts_state_the_grammar_and_budgets():
    text = TextTagProtocol().system_prompt(page_words=500, max_steps=7)
    for piece in ("<search>QUERY</search>", '<open id="ID"/>', "<cite>ID, ID</cite>", "<answer>TEXT</answer>",
                  "<think>", "500 words", "at most 7 turns"):
        assert piece in text
    assert TextTagProtocol.tools is None
    assert {t["function"]["name"] for t in ToolCallProtocol.tools} == {"search", "open", "cite", "answer"}
    assert all(t["type"] == "function" and t["function"]["parameters"]["required"] for t in TOOL_SCHEMAS)


def test_tool_calls_become_actions_with_call_ids():
    response = ChatResponse(content="", tool_calls=[
        {"id": "a1", "name": "search", "arguments": '{"query": "Venmoor"}'},
        {"id": "", "name": "open", "arguments": {"id": "3", "page": 2}},
    ])
    turn = ToolCallProtocol().read(response, 4)
    assert [(a.name, a.arguments, a.call_id) for a in turn.actions] == [
        ("search", {"query": "Venmoor"}, "a1"), ("open", {"id": "3", "page": 2}, "call_4_1")]
    calls = turn.message["tool_calls"]
    assert [c["id"] for c in calls] == ["a1", "call_4_1"]
    assert json.loads(calls[1]["function"]["arguments"]) == {"id": "3", "page": 2}


def test_bad_tool_arguments_and_missing_calls_are_error_actions():
    protocol = ToolCallProtocol()
    [bad] = protocol.read(ChatResponse(content="", tool_calls=[{"id": "x", "name": "search", "arguments": "{oops"}]),
                          1).actions
    assert bad.error and "not valid JSON" in bad.error and bad.call_id == "x"
    [listy] = protocol.read(ChatResponse(content="", tool_calls=[{"id": "y", "name": "cite", "arguments": "[1]"}]),
                            1).actions
    assert listy.error and "JSON object" in listy.error
    turn = protocol.read(ChatResponse(content="It is Paris."), 1)
    assert turn.actions[0].error and "no tool call" in turn.actions[0].error and "tool_calls" not in turn.message
    cut = protocol.read(ChatResponse(content="", reasoning="Let me think about", finish_reason="length"), 1)
    assert "cut off at max_tokens" in cut.actions[0].error


def test_tool_calls_left_in_the_text_are_recovered():
    content = '<tool_call>\n{"name": "answer", "arguments": {"text": "1879"}}\n</tool_call>'
    [action] = ToolCallProtocol().read(from_endpoint(content), 2).actions
    assert (action.name, action.arguments) == ("answer", {"text": "1879"})


def test_tool_observations_answer_each_call_id():
    protocol = ToolCallProtocol()
    actions = [Action("search", call_id="c1"), Action("none", error="no tool call")]
    messages = protocol.observation_messages(actions, [Observation("results"), Observation("error: no tool call")])
    assert messages == [{"role": "tool", "tool_call_id": "c1", "content": "results"},
                        {"role": "user", "content": "error: no tool call"}]

