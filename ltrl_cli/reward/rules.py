"""The method's reward rules as pure functions (no I/O): ltrl score, ltrl grpo and the
reward server all call these, so the three can never disagree.

The rules are METHOD.md "Reward" (what the authors' reward server computes):

1. A response splits at its last `</think>`: reasoning before, final content after.
   No final content means outcome 0.
2. The rubric reward is the fraction of gold entities whose normalised form is a substring
   of the normalised response (the content by default; reasoning or both on request).
3. Within a GRPO group the rubric reward is divided by the group's maximum (when > 0).
4. Outcome and rubric are combined by one of four modes with weight alpha.

    >>> [round(r.reward, 2) for r in score_group(
    ...     ["<think>x</think> Paris, via France", "<think>y</think> Lyon"],
    ...     [1.0, 0.0], ["France", "Europe"])]
    [1.0, 0.0]

Decisions the method leaves open, fixed here and documented in docs/score.md:
- an empty rubric list scores 0.0; an entity that normalises to the empty string is always
  found (the authors' server counts it so);
- a response with no verdict (outcome None: the judge failed) is *excluded*: its reward
  is None, and it does not take part in the group maximum. It is never scored as 0.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any, Sequence

from ltrl_cli import think
from ltrl_cli.think import THINK_CLOSE, THINK_OPEN  # noqa: F401  (re-exported)

MODES = ("positive-only", "pos-neg", "neg-only", "longrlvr")
RUBRIC_ON = ("content", "reasoning", "both")
DEFAULT_MODE = "positive-only"
DEFAULT_ALPHA = 0.3  # the paper's weight; 0.1 and 0.5 did worse


# One token is a run of ASCII word characters or a single ideograph of the CJK Unified
# Ideographs block (U+4E00..U+9FFF) and nothing else: the authors' server keeps exactly
# these, so an ideograph of Extension A or B, like any other script, is dropped. Chinese has
# no spaces, so each ideograph is its own token; then "北京" matches "北京市".
_TOKEN = re.compile(r"[a-z0-9_]+|[\u4e00-\u9fff]")


def normalize(text: str) -> str:
    """Lower-case, keep runs of `[a-z0-9_]` and single U+4E00..U+9FFF ideographs, join with spaces.

    >>> normalize("  The Eiffel-Tower (Paris)!! ")
    'the eiffel tower paris'
    >>> normalize("Zürich, 北京市")
    'z rich 北 京 市'
    >>> normalize("...") == normalize("Москва") == normalize("\U00020000") == ""
    True
    """
    return " ".join(_TOKEN.findall(text.lower()))


# Finding an entity without normalising the text. The normal form of a text is its tokens
# (maximal runs of [a-z0-9_], single ideographs) joined by one space, so an entity's normal
# form "t1 t2 ... tn" is a substring of it exactly when the lower-cased text holds t1, then
# t2 ... tn each after a run of separators (possibly empty next to an ideograph, which is a
# token of its own) -- t1 may end a longer token and tn may start one. A one-token entity
# is then a plain substring test. On a 12K-character final content this is several times
# faster than building the normal form (issue 17), with the same answer (tests check it).
_SEPARATOR = "[^a-z0-9_\u4e00-\u9fff]"


def _ideograph(token: str) -> bool:
    return len(token) == 1 and "\u4e00" <= token <= "\u9fff"


@lru_cache(maxsize=4096)
def _matcher(entity: str) -> Any:
    """A test `found(lowered_text) -> bool` for one normalised entity."""
    if not entity:
        return lambda lowered: True  # "" is a substring of every normal form
    tokens = entity.split(" ")
    if len(tokens) == 1:
        return lambda lowered: entity in lowered
    parts = [re.escape(tokens[0])]
    for before, token in zip(tokens, tokens[1:]):
        parts.append(_SEPARATOR + ("*" if _ideograph(before) or _ideograph(token) else "+"))
        parts.append(re.escape(token))
    search = re.compile("".join(parts)).search
    return lambda lowered: search(lowered) is not None


def rubric_entities(rubrics: Sequence[str]) -> list[str]:
    """The rubric's normalised entities, as `rubric_recall` searches for them (normalise once
    per group, not once per response)."""
    return [normalize(r) for r in rubrics]


def entity_recall(text: str, entities: Sequence[str]) -> float:
    """Fraction of already-normalised `entities` whose form is a substring of `normalize(text)`."""
    if not entities:
        return 0.0
    lowered = text.lower()
    return sum(1 for e in entities if _matcher(e)(lowered)) / len(entities)


def rubric_recall(text: str, rubrics: Sequence[str]) -> float:
    """Fraction of rubric entities whose normalised form is a substring of the normalised text.

    Found / listed, as the authors' server counts: duplicates count as often as they
    appear, and an entity that normalises to "" (Cyrillic, Greek, a dash) is a substring of
    any text, so it is always found. An empty list scores 0.0.

    >>> rubric_recall("He was born in New York City.", ["new york", "Boston", "--", "Москва"])
    0.75
    >>> rubric_recall("anything", [])
    0.0
    """
    return entity_recall(text, rubric_entities(rubrics))


class ResponseParts:
    """A response split at its last `</think>` (`ltrl_cli.think`).

    The reasoning is cut out only when it is read: scoring the final content of a
    32K-token response never copies the 30K tokens of thought before it.
    """

    __slots__ = ("text", "cut", "thinking", "content", "_reasoning")

    def __init__(self, text: str, thinking: bool = True):
        self.text = text
        self.thinking = thinking
        self.cut = think.think_cut(text, "last")
        unclosed = "reasoning" if thinking else "content"
        self.content = think.content_of(text, at="last", unclosed=unclosed)  # what the judge sees
        self._reasoning: str | None = None

    @property
    def reasoning(self) -> str:
        """Text before the last `</think>` (a leading `<think>` removed), stripped."""
        if self._reasoning is None:
            if self.cut >= 0:
                self._reasoning = think.reasoning_of(self.text[:self.cut])
            else:
                self._reasoning = think.reasoning_of(self.text.lstrip()) if self.thinking else ""
        return self._reasoning

    @property
    def think_closes(self) -> int:
        """How many `</think>` the text holds."""
        return self.text.count(THINK_CLOSE) if self.cut >= 0 else 0

    @property
    def malformed(self) -> bool:
        """Not exactly one `</think>` (with `thinking=False`: more than one)."""
        if self.cut < 0:
            return self.thinking
        return self.text.find(THINK_CLOSE) != self.cut  # a second, earlier one

    @property
    def empty_content(self) -> bool:
        """No final content: outcome 0 whatever the judge would say."""
        return not self.content

    def __repr__(self) -> str:
        return (f"ResponseParts(reasoning={self.reasoning!r}, content={self.content!r}, "
                f"think_closes={self.think_closes}, malformed={self.malformed}, empty_content={self.empty_content})")


def split_response(text: str, *, thinking: bool = True) -> ResponseParts:
    """Split at the last `</think>`; flag malformed thinking and empty content.

    With `thinking` (a reasoning model, the method's setting) a response without
    `</think>` never finished thinking: all of it is reasoning and the content is empty.
    With `thinking=False` (a model that does not think) all of it is content, and only more
    than one `</think>` is malformed.

    >>> split_response("<think>Paris is in France</think>\\n\\nParis")
    ResponseParts(reasoning='Paris is in France', content='Paris', think_closes=1, malformed=False, empty_content=False)
    >>> split_response("still thinking about it").empty_content
    True
    >>> split_response("a</think>b</think>c").content, split_response("a</think>b</think>c").malformed
    ('c', True)
    """
    return ResponseParts(text, thinking)


def rubric_source(parts: ResponseParts, on: str = "content") -> str:
    """The text the rubric is searched in: `content` (the paper), `reasoning`, or `both`.

    >>> rubric_source(split_response("<think>a</think>b"), "both")
    'a\\nb'
    """
    if on == "content":
        return parts.content
    if on == "reasoning":
        return parts.reasoning
    if on == "both":
        return f"{parts.reasoning}\n{parts.content}"
    raise ValueError(f"rubric_on must be one of {', '.join(RUBRIC_ON)}, got {on!r}")


def group_normalize(values: Sequence[float]) -> list[float]:
    """Divide by the group's maximum when it is > 0; otherwise leave the values unchanged.

    >>> group_normalize([0.25, 0.5, 0.0])
    [0.5, 1.0, 0.0]
    >>> group_normalize([0.0, 0.0])
    [0.0, 0.0]
    """
    top = max(values, default=0.0)
    if top <= 0:
        return [float(v) for v in values]
    return [v / top for v in values]


def combine(outcome: float, rubric: float, mode: str = DEFAULT_MODE, alpha: float = DEFAULT_ALPHA) -> float:
    """Combine the outcome reward r_out and the (group-normalised) rubric reward r_rub.

    - positive-only (the method): r_out if r_out == 0 else (1 - alpha) r_out + alpha r_rub
    - pos-neg: (1 - alpha) r_out + alpha r_rub
    - neg-only: r_out if r_out > 0 else alpha r_rub
    - longrlvr: r_out + alpha r_rub + (1 - alpha) r_out r_rub

    At evaluation alpha is 0, which leaves the outcome alone in the first three modes
    (longrlvr keeps its r_out * r_rub term, as its formula says).

    >>> combine(1.0, 0.5), combine(0.0, 0.5)
    (0.85, 0.0)
    >>> round(combine(0.0, 0.5, "neg-only"), 2), combine(1.0, 0.5, "longrlvr")
    (0.15, 1.5)
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    if mode == "positive-only":
        return outcome if outcome == 0 else (1 - alpha) * outcome + alpha * rubric
    if mode == "pos-neg":
        return (1 - alpha) * outcome + alpha * rubric
    if mode == "neg-only":
        return outcome if outcome > 0 else alpha * rubric
    if mode == "longrlvr":
        return outcome + alpha * rubric + (1 - alpha) * outcome * rubric
    raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")


@dataclass
class Reward:
    """One response's reward and how it was reached.

    `excluded` responses (no verdict) have reward, outcome_reward and
    rubric_reward_normalized None: a trainer must mask them, never treat them as 0.
    """

    reward: float | None
    outcome_reward: float | None
    rubric_reward: float  # raw recall in [0, 1]
    rubric_reward_normalized: float | None  # divided by the group max; None outside a group
    malformed: bool
    truncated: bool
    excluded: bool = False
    empty_content: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _check_outcome(outcome: float | None) -> float | None:
    if outcome is None:
        return None
    if not 0.0 <= outcome <= 1.0:
        raise ValueError(f"outcome must be in [0, 1] or None, got {outcome}")
    return float(outcome)


@dataclass(frozen=True)
class Measured:
    """What the group shaping needs of one response, and what the judge reads: small, so
    it can cross a process boundary instead of the response's whole text."""

    content: str
    recall: float
    malformed: bool
    empty_content: bool


def measure_group(responses: Sequence[str], rubrics: Sequence[str], rubric_on: str = "content",
                  thinking: bool = True) -> list[Measured]:
    """Split each response and find its rubric recall (the text work of `score_group`)."""
    if rubric_on not in RUBRIC_ON:
        raise ValueError(f"rubric_on must be one of {', '.join(RUBRIC_ON)}, got {rubric_on!r}")
    entities = rubric_entities(rubrics)
    measured = []
    for response in responses:
        p = split_response(response, thinking=thinking)
        recall = entity_recall(rubric_source(p, rubric_on), entities)
        measured.append(Measured(p.content, recall, p.malformed, p.empty_content))
    return measured


def shape_group(measured: Sequence[Measured], outcomes: Sequence[float | None], *, mode: str = DEFAULT_MODE,
                alpha: float = DEFAULT_ALPHA, truncated: Sequence[bool] | None = None) -> list[Reward]:
    """The group shaping of `score_group` over measured responses."""
    if len(outcomes) != len(measured):
        raise ValueError(f"{len(measured)} responses but {len(outcomes)} outcomes")
    if truncated is not None and len(truncated) != len(measured):
        raise ValueError(f"{len(measured)} responses but {len(truncated)} truncated flags")
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    outs = [0.0 if m.empty_content else _check_outcome(o) for m, o in zip(measured, outcomes)]
    # The group max is taken over the responses that are scored: an excluded response's
    # rubric must not rescale the others.
    kept = [i for i, o in enumerate(outs) if o is not None]
    normalized = dict(zip(kept, group_normalize([measured[i].recall for i in kept])))
    rewards = []
    for i, (m, out) in enumerate(zip(measured, outs)):
        norm = normalized.get(i)
        rewards.append(Reward(
            reward=None if out is None else combine(out, norm, mode, alpha),
            outcome_reward=out,
            rubric_reward=m.recall,
            rubric_reward_normalized=norm,
            malformed=m.malformed,
            truncated=bool(truncated[i]) if truncated is not None else False,
            excluded=out is None,
            empty_content=m.empty_content,
        ))
    return rewards


def score_group(
    responses: Sequence[str],
    outcomes: Sequence[float | None],
    rubrics: Sequence[str],
    *,
    mode: str = DEFAULT_MODE,
    alpha: float = DEFAULT_ALPHA,
    rubric_on: str = "content",
    truncated: Sequence[bool] | None = None,
    thinking: bool = True,
) -> list[Reward]:
    """Score one GRPO group: the responses to one prompt, with their judged outcomes.

    `outcomes[i]` is the judge's verdict (1.0 correct, 0.0 wrong) or None when no verdict
    could be obtained. A response with empty content gets outcome 0 whatever was passed
    (the judge need not be asked). A None outcome on a response with content excludes it:
    reward None, left out of the group maximum.

    >>> rs = score_group(["</think>A B", "</think>A", "</think>C"], [1, 1, 0], ["a", "b"])
    >>> [(r.reward, r.rubric_reward_normalized) for r in rs]
    [(1.0, 1.0), (0.85, 0.5), (0.0, 0.0)]
    """
    if len(outcomes) != len(responses):
        raise ValueError(f"{len(responses)} responses but {len(outcomes)} outcomes")
    measured = measure_group(responses, rubrics, rubric_on, thinking)
    return shape_group(measured, outcomes, mode=mode, alpha=alpha, truncated=truncated)


def score_response(
    response: str,
    outcome: float | None,
    rubrics: Sequence[str],
    *,
    mode: str = DEFAULT_MODE,
    alpha: float = DEFAULT_ALPHA,
    rubric_on: str = "content",
    truncated: bool = False,
    thinking: bool = True,
) -> Reward:
    """Score one response on its own, with the raw rubric reward (no group shaping).

    This is what the paper's reward server answers per request; the trainer does the
    group shaping. `rubric_reward_normalized` is None.

    >>> score_response("<think>x</think> Paris, France", 1.0, ["France", "Europe"]).reward
    0.85
    """
    [reward] = score_group([response], [outcome], rubrics, mode=mode, alpha=alpha, rubric_on=rubric_on,
                           truncated=[truncated], thinking=thinking)
    if reward.excluded:
        return reward
    reward.rubric_reward_normalized = None
    reward.reward = combine(reward.outcome_reward, reward.rubric_reward, mode, alpha)
    return reward
