"""How actions travel between the model and the tools: two protocols.

`tools`: OpenAI-style tool calling. The request carries the four tool schemas; the model
answers with `tool_calls`; each result goes back as a `tool` message with the call's id.
All calls of one turn run in order; the rollout ends at an accepted `answer`.

`tags`: text tags, for models without tool calling (a Qwen3 thinking model under vLLM, the
offline lexical policy). The grammar, which the system prompt repeats:

    <search>QUERY</search>             search (optional attribute k="N", results wanted)
    <open id="ID"/>                    read page 1 of a document
    <open id="ID" page="N"/>           read page N
    <cite>ID, ID, ...</cite>           cite opened documents that support the answer
    <answer>TEXT</answer>              the final answer; ends the rollout

A `<think>...</think>` block is reasoning and is never parsed for actions. Text outside the
tags is kept in the conversation but ignored. Tags run in order; a turn ends after the
first `search` or `open` (the model must see its result before going on), so
`<cite>3, 7</cite><answer>1879</answer>` works in one turn. Results come back as one user
message of `<observation>...</observation>` blocks.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from ltrl_cli.agent.tools import Action, Observation
from ltrl_cli.llm.base import ChatResponse

INTRO = """\
You answer a question by searching an encyclopedia and reading its pages.
The actions:
- search(query, k): a ranked list of page ids with titles and snippets.
- open(id, page): read a document, {page_words} words per page (page 1 first); only ids that a search
  returned can be opened.
- cite(ids): name the opened documents that support your answer.
- answer(text): your final answer, as short as possible (a name, date, number or place). This ends the task.
Search with short keyword queries, open the promising results, cite the documents you used, then answer.
You have at most {max_steps} turns."""

TAGS_GRAMMAR = """\
Reply with exactly one action per turn, written as a tag (you may think first inside <think>...</think>):
<search>QUERY</search>
<open id="ID"/>   or   <open id="ID" page="2"/>
<cite>ID, ID</cite>
<answer>TEXT</answer>
Only <cite> may be followed by another tag in the same turn, for example: <cite>12, 40</cite><answer>1879</answer>
Results come back inside <observation>...</observation>."""

TOOL_SCHEMAS = [
    {"type": "function", "function": {
        "name": "search", "description": "Search the encyclopedia; returns page ids with titles and snippets.",
        "parameters": {"type": "object", "properties": {
            "query": {"type": "string", "description": "a short keyword query"},
            "k": {"type": "integer", "description": "how many results (default 5)"}},
            "required": ["query"]}}},
    {"type": "function", "function": {
        "name": "open", "description": "Read a document that a search returned, one page of text at a time.",
        "parameters": {"type": "object", "properties": {
            "id": {"type": "string", "description": "a page id from the search results"},
            "page": {"type": "integer", "description": "which page of the document (default 1)"}},
            "required": ["id"]}}},
    {"type": "function", "function": {
        "name": "cite", "description": "Cite opened documents that support the answer.",
        "parameters": {"type": "object", "properties": {
            "ids": {"type": "array", "items": {"type": "string"}}}, "required": ["ids"]}}},
    {"type": "function", "function": {
        "name": "answer", "description": "Give the final answer (short); ends the task.",
        "parameters": {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}}},
]


@dataclass
class Turn:
    """One model reply, read: the message to keep in the conversation, and its actions."""

    message: dict[str, Any]
    actions: list[Action]
    reasoning: str | None = None  # the turn's thinking (never sent back to the model)


class ToolCallProtocol:
    """OpenAI-style tool calling."""

    name = "tools"
    tools = TOOL_SCHEMAS

    def system_prompt(self, *, page_words: int, max_steps: int) -> str:
        intro = INTRO.format(page_words=page_words, max_steps=max_steps)
        return intro + "\nUse the tools; do not answer in plain text."

    def read(self, response: ChatResponse, turn: int) -> Turn:
        calls = list(response.tool_calls)
        actions = [_action_of_call(call, f"call_{turn}_{i}") for i, call in enumerate(calls)]
        message: dict[str, Any] = {"role": "assistant", "content": response.content or ""}
        if actions:
            message["tool_calls"] = [
                {"id": a.call_id, "type": "function",
                 "function": {"name": call.get("name", ""), "arguments": _arguments_text(call)}}
                for a, call in zip(actions, calls)
            ]
        elif response.truncated:  # cut at max_tokens while thinking: say so, or the model repeats it
            actions = [Action("none", error="the reply was cut off at max_tokens before any tool call; think less "
                                            "and call one of search, open, cite, answer")]
        else:
            actions = [Action("none", error="no tool call: call one of search, open, cite, answer")]
        return Turn(message, actions, response.reasoning)

    def observation_messages(self, actions: list[Action], observations: list[Observation]) -> list[dict]:
        messages = []
        for action, observation in zip(actions, observations):
            if action.call_id:
                messages.append({"role": "tool", "tool_call_id": action.call_id, "content": observation.text})
            else:
                messages.append({"role": "user", "content": observation.text})
        return messages


class TextTagProtocol:
    """Actions as text tags (see the module docstring for the grammar)."""

    name = "tags"
    tools = None

    def system_prompt(self, *, page_words: int, max_steps: int) -> str:
        return INTRO.format(page_words=page_words, max_steps=max_steps) + "\n\n" + TAGS_GRAMMAR

    def read(self, response: ChatResponse, turn: int) -> Turn:
        content = response.content or ""  # the backend has already taken any <think> out
        actions = parse_tags(content)
        if not actions:
            actions = [Action("none", error=_no_tag_hint(response))]
        return Turn({"role": "assistant", "content": content}, actions, response.reasoning)

    def observation_messages(self, actions: list[Action], observations: list[Observation]) -> list[dict]:
        blocks = [f"<observation>\n{o.text}\n</observation>" for o in observations]
        return [{"role": "user", "content": "\n".join(blocks)}]


PROTOCOLS = {"tools": ToolCallProtocol, "tags": TextTagProtocol}


def make_protocol(name: str) -> ToolCallProtocol | TextTagProtocol:
    return PROTOCOLS[name]()


_TAG = re.compile(r"<(search|open|cite|answer)\b([^<>]*?)(/?)>", re.IGNORECASE)
_ATTR = re.compile(r"""(\w+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>/]+))""")
_TURN_ENDERS = ("search", "open", "answer")


def parse_tags(text: str) -> list[Action]:
    """The actions written as tags in `text`, in order, up to the first that ends the turn.

    >>> [(a.name, a.arguments) for a in parse_tags('ok <cite>3, 7</cite> <answer>1879</answer>')]
    [('cite', {'ids': '3, 7'}), ('answer', {'text': '1879'})]
    >>> [(a.name, a.arguments) for a in parse_tags('<open id="12" page="2"/> <search>x</search>')]
    [('open', {'id': '12', 'page': '2'})]
    >>> parse_tags('<search>never closed')[0].error
    '<search> is not closed with </search>'
    """
    actions: list[Action] = []
    pos = 0
    while match := _TAG.search(text, pos):
        name, attrs, closed = match.group(1).lower(), _attrs(match.group(2)), bool(match.group(3))
        body, pos = "", match.end()
        if not closed:
            end = re.compile(rf"</{name}\s*>", re.IGNORECASE).search(text, match.end())
            if end is not None:
                body, pos = text[match.end() : end.start()], end.end()
            elif name != "open":  # <open id="3"> without the slash is fine; others need a body
                actions.append(Action(name, error=f"<{name}> is not closed with </{name}>"))
                break
        actions.append(Action(name, _tag_arguments(name, attrs, body.strip())))
        if name in _TURN_ENDERS:
            break
    return actions


def _attrs(text: str) -> dict[str, str]:
    return {m.group(1).lower(): next(g for g in m.groups()[1:] if g is not None) for m in _ATTR.finditer(text)}


def _tag_arguments(name: str, attrs: dict[str, str], body: str) -> dict[str, Any]:
    if name == "search":
        return {"query": body, **({"k": attrs["k"]} if "k" in attrs else {})}
    if name == "open":
        args = {"id": attrs.get("id") or body}
        return {**args, "page": attrs["page"]} if "page" in attrs else args
    if name == "cite":
        return {"ids": body or attrs.get("ids", "")}
    return {"text": body}


def _no_tag_hint(response: ChatResponse) -> str:
    if response.truncated:
        return "the reply was cut off before any action; think less and act"
    return ('no action found; reply with one of <search>QUERY</search>, <open id="ID"/>, <cite>IDS</cite>, '
            '<answer>TEXT</answer>')


def _arguments_text(call: dict) -> str:
    args = call.get("arguments", "")
    return args if isinstance(args, str) else json.dumps(args)


def _action_of_call(call: dict, fallback_id: str) -> Action:
    name, call_id = str(call.get("name") or ""), str(call.get("id") or fallback_id)
    args = call.get("arguments") or {}
    if isinstance(args, str):
        try:
            args = json.loads(args) if args.strip() else {}
        except ValueError as exc:
            return Action(name, call_id=call_id, error=f"the arguments of {name!r} are not valid JSON ({exc})")
    if not isinstance(args, dict):
        return Action(name, call_id=call_id, error=f"the arguments of {name!r} must be a JSON object")
    return Action(name, args, call_id=call_id)
