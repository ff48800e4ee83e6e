"""Reading what models write: reasoning blocks, tool calls written as text, JSON with faults.

The in-process backends (vllm, hf) get raw text back, so they find `<think>` and
`<tool_call>` blocks themselves; an OpenAI-compatible server usually does that for us.
`parse_json_object` is the forgiving JSON reader the question writer and judges use.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ltrl_cli.think import split_think


def split_reasoning(text: str) -> tuple[str | None, str]:
    """A backend's raw text -> (reasoning, content): `ltrl_cli.think.split_think` at the last
    `</think>`, and a text that opened `<think>` but never closed it (generation stopped
    mid-thought) is all reasoning.

    >>> split_reasoning("<think>a</think>b"), split_reasoning("<think>still thinking"), split_reasoning("plain")
    (('a', 'b'), ('still thinking', ''), (None, 'plain'))
    """
    return split_think(text, at="last", unclosed="opened")


_TOOL_CALL = re.compile(r"<tool_call>\s*(.*?)\s*</tool_call>", re.S)


def extract_tool_calls(text: str) -> tuple[str, list[dict[str, Any]]]:
    """Hermes/Qwen-style `<tool_call>{"name", "arguments"}</tool_call>` blocks -> tool calls.

    Returns the text without the blocks, and the calls as
    `{"id", "name", "arguments": str}` (arguments as a JSON string, as OpenAI gives them).

    >>> extract_tool_calls('ok <tool_call>{"name": "search", "arguments": {"q": "x"}}</tool_call>')
    ('ok', [{'id': 'call_0', 'name': 'search', 'arguments': '{"q": "x"}'}])
    """
    calls = []
    for number, block in enumerate(_TOOL_CALL.findall(text)):
        data = parse_json_object(block)
        if not data or "name" not in data:
            continue
        arguments = data.get("arguments", data.get("parameters", {}))
        if not isinstance(arguments, str):
            arguments = json.dumps(arguments, ensure_ascii=False)
        calls.append({"id": f"call_{number}", "name": data["name"], "arguments": arguments})
    if not calls:
        return text, []
    return _TOOL_CALL.sub("", text).strip(), calls


_FENCE = re.compile(r"```(?:json|JSON)?\s*(.*?)```", re.S)
_TRAILING_COMMA = re.compile(r",\s*([}\]])")


def parse_json_object(text: str) -> dict[str, Any] | None:
    """The JSON object in a model's answer, repaired when it can be; None when there is none.

    Repairs: code fences, prose around the object (the outermost {...} is taken), trailing
    commas, and Python-style quotes as a last resort.

    >>> parse_json_object('Sure! ```json\\n{"a": 1, "b": [2, 3,],}\\n```')
    {'a': 1, 'b': [2, 3]}
    >>> parse_json_object("no json here") is None
    True
    """
    fenced = _FENCE.search(text)
    candidates = [fenced.group(1)] if fenced else []
    candidates.append(text)
    for candidate in candidates:
        start, end = candidate.find("{"), candidate.rfind("}")
        if start < 0 or end <= start:
            continue
        found = _loads_forgiving(candidate[start:end + 1])
        if isinstance(found, dict):
            return found
    return None


def _loads_forgiving(blob: str) -> Any:
    attempts = [blob, _TRAILING_COMMA.sub(r"\1", blob)]
    attempts.append(attempts[-1].replace("'", '"'))  # {'a': 'b'} from a model imitating Python
    for attempt in attempts:
        try:
            return json.loads(attempt, strict=False)  # strict=False: raw newlines inside strings
        except ValueError:
            continue
    return None
