"""What a question writer works from and gives back (and the options it runs with), and the
text tests shared by the writers and the checks of `ltrl synth`.

A `Chain` is a walk with its pages looked up; a writer (`synth.prompt.LLMWriter`, or the
offline `synth.template.TemplateWriter`) turns it into a `Draft`. The text helpers compare
answers, questions and titles the way the rubric does (`reward.rules.normalize`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Protocol

from ltrl_cli.reward.rules import normalize


@dataclass
class ChainPage:
    id: str
    title: str
    page: dict
    evidence: str | None = None  # the sentence of the previous page that links here
    anchor: str | None = None  # the link's text in that sentence (the title, or a short form of it)


@dataclass
class Chain:
    """A walk with its pages looked up: what a writer needs."""

    record_id: str
    pages: list[ChainPage]

    @property
    def final(self) -> ChainPage:
        return self.pages[-1]

    @property
    def titles(self) -> list[str]:
        return [p.title for p in self.pages]


@dataclass
class Draft:
    """A writer's output; `problem` names why there is no usable question."""

    question: str = ""
    answer: str = ""
    gold_entities: list[str] = field(default_factory=list)
    problem: str | None = None
    attempts: int = 1
    cached: bool = False
    reasoning: str | None = None
    notes: dict[str, Any] = field(default_factory=dict)  # writer-specific facts, e.g. the attribute used


@dataclass(frozen=True)
class SynthOptions:
    """How questions are written and checked.

    Attributes:
        temperature, max_tokens: sampling for the LLM writer.
        page_chars: the final page's text is cut to this many characters in the prompt.
        evidence_chars: each hop's evidence sentence is cut to this many characters.
        shortcut_check: run the search check (needs a Searcher).
        chain_check: run the needs_chain check (when a Searcher is given).
        chain_check_k: how deep in the results a chain page counts as found.
        keep_think: keep the model's reasoning in `synth.reasoning`.
        concurrency, keep_order: as in bounded_map.
    """

    temperature: float = 0.7
    max_tokens: int | None = None
    page_chars: int = 8000
    evidence_chars: int = 400
    shortcut_check: bool = False
    chain_check: bool = True
    chain_check_k: int = 5
    keep_think: bool = False
    concurrency: int = 16
    keep_order: bool = True


class Writer(Protocol):
    name: str
    model: str

    async def write(self, chain: Chain) -> Draft: ...


# ---------------------------------------------------------------- text tests


def contains(text: str, phrase: str) -> bool:
    """Does `phrase` occur in `text` as whole words, after the rubric normalisation?

    >>> contains("Born: 4 March 1770", "4 March 1770"), contains("in 17705", "1770")
    (True, False)
    """
    needle = normalize(phrase)
    return bool(needle) and f" {needle} " in f" {normalize(text)} "


_STOP = {"The", "And", "For", "With", "From", "List", "History", "University", "College", "River", "Lake",
         "Mount", "Saint", "North", "South", "East", "West", "New", "Old"}


def name_tokens(title: str) -> list[str]:
    """The words of a title that identify it by themselves: capitalised, 4+ letters, not generic.

    >>> name_tokens("Canwand Randborne"), name_tokens("The Silent Garden"), name_tokens("River Thames")
    (['Canwand', 'Randborne'], ['Silent', 'Garden'], ['Thames'])
    """
    words = re.findall(r"[^\W\d_][\w'-]*", title)
    return [w for w in words if len(w) >= 4 and w[0].isupper() and w not in _STOP]


def names_entity(question: str, title: str) -> bool:
    """Does the question give the entity away: its full title, or a distinctive word of it?

    >>> names_entity("Who was Randborne's teacher?", "Canwand Randborne")
    True
    >>> names_entity("Which garden is silent?", "The Silent Garden")
    False
    """
    if contains(question, title):
        return True
    return any(re.search(rf"\b{re.escape(word)}\b", question) for word in name_tokens(title))


# ---------------------------------------------------------------- text helpers


def sentence_with(paragraph: str, phrase: str) -> str:
    """The sentence of `paragraph` that contains `phrase` (the whole paragraph if none does)."""
    for sentence in split_sentences(paragraph):
        if phrase and phrase in sentence:
            return sentence
    return paragraph.strip()


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"'(])")


def split_sentences(text: str) -> list[str]:
    """A plain sentence splitter (good enough for encyclopedia prose).

    >>> split_sentences("It rained. Then it stopped! Fine")
    ['It rained.', 'Then it stopped!', 'Fine']
    """
    return [s.strip() for s in _SENTENCE_END.split(text.strip()) if s.strip()]
