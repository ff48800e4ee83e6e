"""The `template` question writer: offline, deterministic, and labelled as not an LLM.

It writes what the LLM writer is asked to write, from the chain alone:

    [E1] was a Hevskandian architect working in architecture, active from about 1688.
    [E1]'s page says: "Contemporaries often compared [E1] with [E2]." [E2]'s page says:
    "Members of [E3] visited [E2] on several occasions." ... [E8]'s page says: "Records
    from [E9] mention the river several times." When was [E9] founded?

Each entity of the chain becomes a placeholder [Ek] (its title and the distinctive words
of its title are masked wherever they occur). Only the first entity is described on its
own, by its page's lead sentence; every later one is reachable only through the one
before it: the question quotes the sentence of page k that links to page k+1, with the
link's text as [Ek+1] and its numbers (years, counts) hidden as [...], so the quote is a
relation that many pages could hold, not a description that a search finds. The answer
is an infobox-style attribute line of the final page (`Founded: 1740`), or, failing
that, a date or number taken from a sentence of it (a cloze). `ltrl synth` checks by
searching that no sentence of the question, and not the question without its first
sentence, finds a page of the chain past the first (`needs_chain`).
"""

from __future__ import annotations

import re

from ltrl_cli.backends.base import clip
from ltrl_cli.io import stable_hash
from ltrl_cli.synth.questions import Chain, ChainPage, Draft, contains, name_tokens, names_entity, split_sentences

TEMPLATE_MODEL = "template (offline question writer, not an LLM)"

# Attribute line key -> the question that asks for it ({e} is the final entity's placeholder).
QUESTIONS = {
    "Born": "When was {e} born?", "Died": "When did {e} die?", "Born in": "Where was {e} born?",
    "Place of birth": "Where was {e} born?", "Occupation": "What was the occupation of {e}?",
    "Population": "What population is recorded for {e}?", "Area": "What is the area of {e}?",
    "Established": "In what year was {e} established?", "Founded": "When was {e} founded?",
    "Headquarters": "Where are the headquarters of {e}?", "Founder": "Who founded {e}?",
    "Members": "How many members does {e} have?", "Located in": "Where is {e} located?",
    "Length": "How long is {e}?", "Source": "Where does {e} rise?", "Elevation": "What is the elevation of {e}?",
    "Published": "When was {e} published?", "Completed": "When was {e} completed?",
    "Dimensions": "What are the dimensions of {e}?", "Duration": "How long does {e} last?",
    "Pages": "How many pages does {e} have?", "Author": "Who wrote {e}?", "Composer": "Who composed {e}?",
    "Painter": "Who painted {e}?", "Capital": "What is the capital of {e}?",
    "Currency": "What currency is used in {e}?", "Official languages": "What are the official languages of {e}?",
    "Released": "When was {e} released?", "Date": "On what date did {e} take place?",
    "Location": "Where is {e}?", "Country": "In which country is {e}?", "Genre(s)": "What genre is {e}?",
    "Language": "In what language is {e}?", "Mayor": "Who is the mayor of {e}?",
    "Independence": "When did {e} become independent?", "Reign": "When did {e} reign?",
    "Father": "Who was the father of {e}?", "Mother": "Who was the mother of {e}?",
    "Spouse": "Who was the spouse of {e}?", "Successor": "Who succeeded {e}?",
    "Predecessor": "Who preceded {e}?", "Nationality": "What was the nationality of {e}?",
    "Kingdom": "To which kingdom of life does {e} belong?", "Motto": "What is the motto of {e}?",
}
_ATTRIBUTE = re.compile(r"^([A-Z][A-Za-z()' ]{1,28}):\s+(\S.{0,59})$")
_NUMBER = re.compile(r"\b(?:1[0-9]{3}|20[0-9]{2}|\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?)\b")
_NUMBERS = re.compile(r"\b\d(?:[\d,.]*\d)?(?:s|st|nd|rd|th)?\b")  # 1642, 48,210, 1630s, 3rd
_LINK = "\x00"  # stands for the link's text while the rest of the sentence is masked
_BLANK = "____"
_HIDDEN = "[...]"


class TemplateWriter:
    """The offline question writer (`--backend template`)."""

    name = "template"
    model = TEMPLATE_MODEL

    async def write(self, chain: Chain) -> Draft:
        return write_question(chain)


def write_question(chain: Chain) -> Draft:
    """The template question for a chain, or a Draft whose `problem` says why there is none."""
    for answer, ask, note in answer_candidates(chain):
        mask = Masker(chain, answer)
        question = " ".join([*describe_chain(chain, mask), ask(mask)])
        if not contains(question, answer) and not names_entity(question, chain.final.title):
            gold = list(dict.fromkeys(chain.titles[:-1]))
            return Draft(question=question, answer=answer, gold_entities=gold, notes={"attribute": note})
    return Draft(problem="no_attribute")


def describe_chain(chain: Chain, mask: "Masker") -> list[str]:
    """The first page's description, then one relation per hop: the sentence of page k that
    links to page k+1, the link as [Ek+1], numbers hidden."""
    parts = [describe(chain.pages[0], 1, mask)]
    for number, following in enumerate(chain.pages[1:], start=1):
        if following.evidence:
            parts.append(f'{label(number)}\'s page says: "{relation(following, number, mask)}"')
        else:
            parts.append(f"{label(number)}'s page links to {label(number + 1)}.")
    return parts


def relation(following: ChainPage, number: int, mask: "Masker") -> str:
    """The evidence sentence of hop `number` -> `number + 1` as a relation.

    The link's own text becomes [Ek+1] even when it is not the title (a surname for a
    person), the other chain names are masked as everywhere, and numbers are hidden, since
    a year in a stock sentence is as good as a name to a search engine.
    """
    sentence, anchor = following.evidence or "", following.anchor or ""
    if anchor and anchor in sentence:
        sentence = sentence.replace(anchor, _LINK, 1)
    masked = _NUMBERS.sub(_HIDDEN, mask(sentence, own=number))
    return masked.replace(_LINK, label(number + 1))


def describe(page: ChainPage, number: int, mask: "Masker") -> str:
    """The page's lead sentence with names masked, as a statement about [Ek]."""
    sentence = lead_sentence(page.page)
    if not sentence:
        return f"{label(number)} is an entity of the chain."
    masked = mask(clip(sentence, 220), own=number)
    if masked.startswith(f"The {label(number)}"):
        masked = masked[len("The "):]
    if not masked.startswith(label(number)):
        masked = f"About {label(number)}: {masked}"
    return masked if masked.endswith((".", "…", "!", "?")) else masked + "."


def lead_sentence(page: dict) -> str:
    """The first sentence of the page's lead: the first prose paragraph, preferring one that
    names the page (Wikipedia leads open with the title; captions and infobox residue do not)."""
    title = page.get("wikipedia_title", "").lower()
    paragraphs = [p.strip() for p in (page.get("text") or [])[1:]]
    prose = [p for p in paragraphs if is_prose(p)]
    naming = [p for p in prose if title and title in p[:120].lower()]
    fallback = [p for p in paragraphs if len(p.split()) >= 5 and not _ATTRIBUTE.match(p)]
    for paragraph in naming[:1] or prose[:1] or fallback[:1]:
        sentences = split_sentences(paragraph)
        return sentences[0] if sentences else ""
    return ""


def is_prose(paragraph: str) -> bool:
    """Running text rather than a caption, a table row or an infobox line.

    >>> is_prose("Lowmere is a fishing town on the estuary of the river Sable."), is_prose("Area: 81 km²")
    (True, False)
    """
    words = paragraph.split()
    if len(words) < 8 or _ATTRIBUTE.match(paragraph) or "Enlarge" in words or not paragraph.endswith((".", '"')):
        return False
    wordy = sum(1 for w in words if re.fullmatch(r"[^\W\d_][\w'’-]*[,.;:]?|\(?\d[\d,.]*\)?[,.;:]?", w))
    return wordy >= 0.8 * len(words)


def answer_candidates(chain: Chain):
    """(answer, question-maker, note) for the final page, attribute lines first, then clozes.

    Values with a number (dates, counts, sizes) come before names: the answer must be
    unique and checkable (METHOD.md), and "painter" or a region's name is the answer of
    many pages, which a guess from a wrong chain would often hit. Within each group the
    order is rotated by a hash of the record id, so a corpus of chains asks for a mix of
    attributes, the same mix on every run.
    """
    final = chain.final
    usable = [(k, v) for k, v in attribute_lines(final.page) if usable_answer(v, chain)]
    lines = []
    for group in ([kv for kv in usable if _NUMBER.search(kv[1])], [kv for kv in usable if not _NUMBER.search(kv[1])]):
        start = stable_hash(chain.record_id) % len(group) if group else 0
        lines += group[start:] + group[:start]
    for key, value in lines:
        yield value, (lambda mask, key=key: QUESTIONS[key].format(e=label(len(chain.pages)))), f"{key}: {value}"
    for sentence, number in cloze_candidates(final.page):
        yield number, (lambda mask, s=sentence, n=number: _cloze_question(s, n, len(chain.pages), mask)), "cloze"


def attribute_lines(page: dict) -> list[tuple[str, str]]:
    """The page's `Key: value` lines whose key the template knows how to ask about."""
    found = []
    for paragraph in (page.get("text") or [])[1:]:
        match = _ATTRIBUTE.match(paragraph.strip())
        if match and match.group(1) in QUESTIONS:
            found.append((match.group(1), match.group(2).strip()))
    return found


def usable_answer(value: str, chain: Chain) -> bool:
    """A short value that is not itself an entity of the chain (that would be circular)."""
    if not 1 <= len(value) <= 60 or not re.search(r"\w", value):
        return False
    return not any(contains(value, title) or contains(title, value) for title in chain.titles)


def cloze_candidates(page: dict) -> list[tuple[str, str]]:
    """(sentence, number) pairs from the page's prose: the number occurs once in the page."""
    text = " ".join(p.strip() for p in (page.get("text") or [])[1:] if is_prose(p.strip()))
    found = []
    for sentence in split_sentences(text):
        for number in _NUMBER.findall(sentence):
            if text.count(number) == 1 and len(number) >= 2:
                found.append((clip(sentence, 300), number))
                break
    return found


def _cloze_question(sentence: str, number: str, final_number: int, mask: "Masker") -> str:
    blanked = mask(sentence.replace(number, _BLANK, 1))
    return f'The page of {label(final_number)} has the sentence "{blanked}" What goes in the blank?'


def label(number: int) -> str:
    return f"[E{number}]"


class Masker:
    """Replaces chain titles with [Ek], the distinctive words of titles with [...], the answer with ____.

    The last word of page k's title, alone in page k's own text ("Contemporaries often
    compared Randborne with ..."), is how pages refer to themselves (a surname), so there it
    becomes [Ek]; any other lone title word could be a namesake (the region that names an
    organisation), so it is only hidden.
    """

    def __init__(self, chain: Chain, answer: str):
        self.titles = list(enumerate(chain.titles, start=1))
        by_length = sorted(self.titles, key=lambda item: -len(item[1]))
        self.full = [(re.compile(rf"(?<!\w){re.escape(title)}(?!\w)", re.I), label(number))
                     for number, title in by_length]
        # each word with its derived forms: Hevskandia -> Hevskandian
        self.words = [(number, word == _last(title), re.compile(rf"\b{re.escape(word)}\w*"))
                      for number, title in by_length for word in name_tokens(title)]
        self.answer = re.compile(rf"(?<!\w){re.escape(answer)}(?!\w)") if answer else None

    def __call__(self, text: str, own: int | None = None) -> str:
        for pattern, replacement in self.full:
            text = pattern.sub(replacement, text)
        for number, last, pattern in sorted(self.words, key=lambda item: not (item[0] == own and item[1])):
            text = pattern.sub(label(number) if number == own and last else _HIDDEN, text)
        if self.answer is not None:
            text = self.answer.sub(_BLANK, text)
        return text


def _last(title: str) -> str | None:
    words = name_tokens(title)
    return words[-1] if words else None

