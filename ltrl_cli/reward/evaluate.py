"""One reward request, scored exactly as the authors' reward server scores it.

This is METHOD.md "The authors' release, point by point", `POST /evaluate`, as ltrl's own
code: the server (server.py) answers with it, and `ltrl score --as-server` scores JSONL
with it. Per response, no group shaping (the trainer does that):

- `history` mode: a last message that is not the assistant's, or has no `content` key (a
  turn cut by the length limit), scores 0, 0, 0. Otherwise its `content` is judged.
- `response` mode: split at the FIRST `</think>` (reasoning, content); no `</think>`: all
  of it is content.
- outcome (only when eta < 1): the judged text after its LAST `</think>`, stripped; empty
  text scores 0 without asking the judge.
- rubric (only when eta > 0): searched in "\\n\\n" + the stripped `reasoning_content` and/or
  `content` of every assistant turn, as the two switches say; entity recall, or for
  `dataset_name` "longrlvr" the F-beta (beta 2) of the chunk ids in the last
  `<useful_chunks>` block.
- reward: longrlvr: outcome + eta F + (1 - eta) outcome F; otherwise (1 - eta) outcome + eta rubric.

Where their server answers 500 (a missing or mistyped field), `parse_request` raises
BadRequest with one line naming the field.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any, Sequence

from ltrl_cli import think
from ltrl_cli.reward import rules as R

LONGRLVR = "longrlvr"
BETA = 2.0  # F-beta of the longrlvr chunk reward: recall weighs four times precision

_USEFUL = re.compile(r"<useful_chunks>(.*?)</useful_chunks>", re.DOTALL | re.IGNORECASE)
_CHUNK = re.compile(r"<chunk[_\s]?(\d+)>", re.IGNORECASE)


class BadRequest(Exception):
    """A request body that cannot be scored (the server answers 400 with this line)."""


@dataclass
class Request:
    """A parsed `/evaluate` body. `zero` requests (a truncated last turn) score 0, 0, 0."""

    label: str = ""
    info: dict = field(default_factory=dict)  # extra_reward_info, read lazily as their server does
    judged: str = ""  # the text whose outcome is judged (before the last-`</think>` rule)
    turns: list[dict] = field(default_factory=list)  # the chat the rubric is searched in
    zero: bool = False

    @property
    def eta(self) -> float:
        return _eta(self.info)

    @property
    def longrlvr(self) -> bool:
        return self.info.get("dataset_name") == LONGRLVR

    @property
    def question(self) -> str:
        """Asked for only when eta < 1, as their server does."""
        question = _need(self.info, "question")
        if not isinstance(question, str):
            raise BadRequest("field 'extra_reward_info.question' must be a string")
        return question


# ---------------------------------------------------------------- parsing

def _need(info: dict, key: str) -> Any:
    if key not in info:
        raise BadRequest(f"missing field 'extra_reward_info.{key}'")
    return info[key]


def _eta(info: dict) -> float:
    eta = _need(info, "rubric_reward_ratio")
    if isinstance(eta, bool) or not isinstance(eta, (int, float)) or not math.isfinite(eta):
        raise BadRequest("field 'extra_reward_info.rubric_reward_ratio' must be a number")
    return float(eta)


def _label(body: dict) -> str:
    if "label" not in body:
        raise BadRequest("missing field 'label'")
    label = body["label"]
    if isinstance(label, bool) or not isinstance(label, (str, int, float)):
        raise BadRequest(f"field 'label' must be a string, got {type(label).__name__}")
    return str(label)


def parse_request(body: Any) -> Request:
    """Check a decoded `/evaluate` body as far as every request needs; the rest is checked
    when (and only when) the rules read it, so a body their server answers is answered."""
    if not isinstance(body, dict):
        raise BadRequest("body must be a JSON object")
    label = _label(body)
    if "extra_reward_info" not in body:
        raise BadRequest("missing field 'extra_reward_info'")
    info = body["extra_reward_info"]
    if not isinstance(info, dict):
        raise BadRequest("field 'extra_reward_info' must be a JSON object")
    if "history" in body:
        return _from_history(body["history"], label, info)
    if "response" in body:
        return from_response(body["response"], label, info)
    raise BadRequest("missing field 'history' (or 'response')")


def _from_history(history: Any, label: str, info: dict) -> Request:
    if not isinstance(history, list) or not history:
        raise BadRequest("field 'history' must be a non-empty list of chat messages")
    last = history[-1]
    if not isinstance(last, dict) or "role" not in last:
        raise BadRequest("the last message in 'history' must be an object with a 'role'")
    if last["role"] != "assistant" or "content" not in last:
        return Request(label, info, zero=True)  # a truncated turn (slime: `truncated_content`)
    if not isinstance(last["content"], str):
        raise BadRequest("the last message's 'content' must be a string")
    return Request(label, info, last["content"], history)


def from_response(response: Any, label: str, info: dict) -> Request:
    """`response` mode: the chat is one assistant turn, split at the first `</think>`."""
    if not isinstance(response, str):
        raise BadRequest("field 'response' must be a string")
    cut = think.think_cut(response, "first")
    if cut < 0:
        return Request(label, info, response, [{"role": "assistant", "content": response}])
    reasoning = think.reasoning_of(response[:cut])
    content = response[cut + len(think.THINK_CLOSE):].strip()
    return Request(label, info, content, [{"role": "assistant", "reasoning_content": reasoning, "content": content}])


# ---------------------------------------------------------------- the rules

def outcome_text(judged: str) -> str:
    """What the judge reads: after the last `</think>` (stripped) when there is one.

    >>> outcome_text("a</think>b</think> Paris "), outcome_text(" Paris ")
    ('Paris', 'Paris')
    """
    return think.content_of(judged, at="last")


def _switch(info: dict, key: str) -> bool:
    value = _need(info, key)
    if not isinstance(value, (bool, int)):
        raise BadRequest(f"field 'extra_reward_info.{key}' must be a boolean")
    return bool(value)


def _part(turn: dict, key: str, number: int) -> str:
    value = turn[key]
    if not isinstance(value, str):
        raise BadRequest(f"history[{number}].{key} must be a string")
    return "\n\n" + value.strip()


def rubric_text(turns: Sequence[Any], *, reasoning: bool, content: bool) -> str:
    """Every assistant turn's reasoning and/or content, in order, each after a blank line.

    >>> rubric_text([{"role": "assistant", "reasoning_content": " r ", "content": "c"}, {"role": "user",
    ...              "content": "u"}], reasoning=True, content=True)
    '\\n\\nr\\n\\nc'
    """
    parts = []
    for number, turn in enumerate(turns):
        if not isinstance(turn, dict) or "role" not in turn:
            raise BadRequest(f"history[{number}] must be an object with a 'role'")
        if turn["role"] != "assistant":
            continue
        if reasoning and "reasoning_content" in turn:
            parts.append(_part(turn, "reasoning_content", number))
        if content and "content" in turn:
            parts.append(_part(turn, "content", number))
    return "".join(parts)


def chunk_ids(text: str) -> set[int]:
    """The `<CHUNK_n>` ids in the last `<useful_chunks>` block (also `<CHUNK n>`, `<chunkn>`).

    >>> sorted(chunk_ids("<useful_chunks><CHUNK_1></useful_chunks> <USEFUL_CHUNKS><chunk 2><CHUNK3></useful_chunks>"))
    [2, 3]
    """
    blocks = _USEFUL.findall(text)
    return {int(n) for n in _CHUNK.findall(blocks[-1])} if blocks else set()


def chunk_fbeta(text: str, rubrics: Sequence[Any], beta: float = BETA) -> float:
    """F-beta of the predicted chunk ids against the rubric's ids.

    >>> chunk_fbeta("<useful_chunks><CHUNK_1><CHUNK_2></useful_chunks>", [1, 3])
    0.5
    """
    predicted, gold = chunk_ids(text), set(rubrics)
    hits = len(predicted & gold)
    precision = hits / len(predicted) if predicted else 0.0
    recall = hits / len(gold) if gold else 0.0
    if precision + recall <= 0:
        return 0.0
    return (1 + beta ** 2) * precision * recall / (beta ** 2 * precision + recall)


def _rubrics(info: dict, longrlvr: bool) -> list:
    rubrics = info.get("rubrics", [])
    if not isinstance(rubrics, list):
        raise BadRequest("field 'extra_reward_info.rubrics' must be a list")
    kinds = (str, int, float) if longrlvr else (str,)
    if not all(isinstance(r, kinds) and not isinstance(r, bool) for r in rubrics):
        raise BadRequest("field 'extra_reward_info.rubrics' must be a list of "
                         + ("chunk ids" if longrlvr else "strings"))
    return rubrics


def rubric_reward(request: Request) -> float:
    """The rubric reward of a request whose eta is > 0."""
    info = request.info
    reasoning, content = _switch(info, "rubric_use_reasoning_content"), _switch(info, "rubric_use_content")
    rubrics = _rubrics(info, request.longrlvr)
    if not rubrics:
        return 0.0
    text = rubric_text(request.turns, reasoning=reasoning, content=content)
    return chunk_fbeta(text, rubrics) if request.longrlvr else R.rubric_recall(text, rubrics)


def final_reward(outcome: float, rubric: float, eta: float, longrlvr: bool) -> float:
    """The reply's `reward`.

    >>> final_reward(1.0, 0.5, 0.3, False), final_reward(1.0, 0.5, 0.3, True)
    (0.85, 1.5)
    """
    if longrlvr:
        return outcome + eta * rubric + (1 - eta) * outcome * rubric
    return (1 - eta) * outcome + eta * rubric


@dataclass
class Plan:
    """What a request needs before the judge is asked: the rubric (already computed), the
    text to judge (None: outcome 0 without asking) and the question."""

    eta: float
    longrlvr: bool
    rubric: float
    judged: str | None
    question: str | None


def plan(request: Request) -> Plan:
    """Everything but the verdict; raises BadRequest for a field the rules need and lack."""
    eta = request.eta
    _need(request.info, "dataset_name")  # their server reads it for every request
    rubric = rubric_reward(request) if eta > 0 else 0.0
    judged = question = None
    if eta < 1:
        question = request.question
        judged = outcome_text(request.judged) or None
    return Plan(eta, request.longrlvr, rubric, judged, question)


def answer(p: Plan, outcome: float) -> dict[str, float]:
    """The reply: outcome_reward, rubric_reward, reward."""
    return {"outcome_reward": outcome, "rubric_reward": p.rubric,
            "reward": final_reward(outcome, p.rubric, p.eta, p.longrlvr)}


ZERO = {"outcome_reward": 0.0, "rubric_reward": 0.0, "reward": 0.0}
