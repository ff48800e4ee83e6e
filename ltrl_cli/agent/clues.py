"""Reading questions and pages for the offline lexical policy: chain clues, the words and
the attribute a question asks for, and the attribute lines of a page.

Multi-hop questions written from a chain (the `template` writer's, and often a model's)
describe each entity through its page and quote the sentence that links onward, with the
entities masked:

    [E7] was a Visvrenian poet ... [E7]'s page says: "[E8] wrote about [E7] in 1642."
    [E8] is a river in ... [E8]'s page says: "Members of [E9] visited the river ..." When did [E9] die?

A quoted sentence is exact evidence: the page that contains it, with the masks filled in,
is the page of the entity that says it, and the words that fill `[E9]` are the next
entity's name. `read_question` cuts the question into such clues; `fill` matches a clue
against a page's paragraphs. Masks: `[Ek]` (an entity of the chain), `[...]` (a hidden
word) and `____` (the blank of a cloze question, whose filler is the answer).
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field

from ltrl_cli.backends.base import tokens

STOPWORDS = frozenset("""
a an the of in on at to for from by with and or but as is was were be been being are this that these those it its
which who whom whose what when where why how did does do done has have had not no into onto than then there their
they them he she his her him one ones about after before during under over also any some such same other another
name named called known person place thing entity page year work one whose whom whichever via per between later
first last many much most more very
""".split())

# Words of a question mapped to the attribute names (lower case, prefixes) they ask for.
KEY_HINTS = {
    "born": ("born",), "birth": ("born",), "died": ("died",), "death": ("died",), "die": ("died",),
    "founded": ("founded", "established"), "established": ("established", "founded"), "found": ("founded",),
    "population": ("population",), "inhabitants": ("population",), "people": ("population",),
    "members": ("members",), "membership": ("members",), "area": ("area",), "large": ("area",),
    "long": ("length", "duration"), "length": ("length",), "duration": ("duration",), "last": ("duration",),
    "elevation": ("elevation",), "high": ("elevation",), "tall": ("elevation",), "height": ("elevation",),
    "pages": ("pages",), "published": ("published",), "publication": ("published",),
    "completed": ("completed",), "painted": ("completed", "painter"), "dimensions": ("dimensions",),
    "headquarters": ("headquarters",), "headquartered": ("headquarters",), "based": ("headquarters",),
    "founder": ("founder",), "author": ("author",), "wrote": ("author",), "written": ("author",),
    "composer": ("composer",), "composed": ("composer",), "painter": ("painter",), "source": ("source",),
    "rises": ("source",), "located": ("located",), "occupation": ("occupation",), "profession": ("occupation",),
    "capital": ("capital",), "currency": ("currency",), "language": ("language",), "languages": ("language",),
    "spouse": ("spouse",), "married": ("spouse",), "nationality": ("nationality",),
}
DATE_WORDS = frozenset({"when", "year", "date", "born", "died", "founded", "established", "published", "completed"})
NUMBER_WORDS = frozenset({"many", "much", "population", "members", "area", "length", "long", "elevation", "high",
                          "tall", "pages", "duration", "size", "large", "number"})
PLACE_WORDS = frozenset({"where", "place", "town", "city", "village", "located", "headquarters", "based",
                         "headquartered", "source"})

_NAME_SPAN = re.compile(r"\b[A-Z][\w'’-]*(?:\s+(?:of|de|the|and|&|von|van|la|le)?\s*[A-Z][\w'’-]*)*")
_ATTRIBUTE = re.compile(r"^\s*([A-Z][^:\n]{0,40}?)\s*:\s*(.{1,120}?)\s*$")
_YEAR = re.compile(r"\b(1\d{3}|20\d{2})\b")
_NUMBER = re.compile(r"\d")
_MASK = re.compile(r"\[E(\d+)\]|\[\.\.\.\]|_{3,}")
_SAYS = re.compile(r"\[E(\d+)\]'s page (?:says: \"(.*?)\"(?=\s|$)|links to \[E\d+\]\.)", re.DOTALL)
_CLOZE = re.compile(r"The page of \[E(\d+)\] has the sentence \"(.*?)\"(?=\s|$)", re.DOTALL)
_LABEL = re.compile(r"\[E(\d+)\]")
_CUT = "…"


@dataclass
class Clue:
    """What the question says about entity `number`: its description and its quoted sentence."""

    number: int
    description: str
    quote: str | None = None
    pattern: re.Pattern | None = field(default=None, repr=False)
    fills: list[str | None] = field(default_factory=list)  # per group: "9" for [E9], "blank", or None
    anchor: str = ""  # the quote's longest unmasked piece, lower case: a cheap test before the regex


@dataclass
class Reading:
    clues: list[Clue]  # in chain order
    target: int | None  # the entity the question asks about (the last of the chain)
    ask: str  # the asking sentence
    cloze: Clue | None = None  # 'The page of [En] has the sentence "... ____ ..."'


def read_question(question: str) -> Reading:
    """Cut a chain question into clues.

    >>> r = read_question('[E1] is a town. [E1]\\'s page says: "Visitors from [E2] came." When was [E2] founded?')
    >>> [(c.number, c.description, c.quote, c.fills) for c in r.clues], r.target, r.ask
    ([(1, '[E1] is a town.', 'Visitors from [E2] came.', ['2'])], 2, 'When was [E2] founded?')
    """
    clues, position = [], 0
    for match in _SAYS.finditer(question):
        clues.append(_clue(int(match.group(1)), question[position : match.start()], match.group(2)))
        position = match.end()
    rest = question[position:].strip()
    cloze = None
    found = _CLOZE.search(rest)
    if found:
        cloze = _clue(int(found.group(1)), "", found.group(2))
        rest = (rest[: found.start()] + rest[found.end() :]).strip()
    labels = [int(n) for n in _LABEL.findall(rest)] or ([cloze.number] if cloze else [])
    return Reading(clues, max(labels) if labels else None, rest, cloze)


def _clue(number: int, description: str, quote: str | None) -> Clue:
    clue = Clue(number, " ".join(description.split()), " ".join(quote.split()) if quote else None)
    if clue.quote:
        clue.pattern, clue.fills = quote_pattern(clue.quote)
        pieces = _MASK.split(clue.quote.split(_CUT, 1)[0])
        clue.anchor = max((" ".join(p.split()).lower() for p in pieces if p and not p.isdigit()), key=len, default="")
    return clue


def quote_pattern(quote: str) -> tuple[re.Pattern | None, list[str | None]]:
    """A regex that finds the quoted sentence in a paragraph, one group per mask.

    >>> pattern, fills = quote_pattern("Members of [E9] visited [...] on several occasions.")
    >>> pattern.search("Members of Pimburg Guild visited Venmoor on several occasions.").groups(), fills
    (('Pimburg Guild', 'Venmoor'), ['9', None])
    >>> quote_pattern("Born in: [E4]")[0].search("Born in: Lake Femseist").group(1)
    'Lake Femseist'
    >>> quote_pattern("[E3] was connected with [E4].")[0].search("It rained. Ulm was connected with Bo.").groups()
    ('Ulm', 'Bo')
    >>> quote_pattern("In [...] [E2] met [E1].")[0].search("In 1989 Bo Ek met Ulm No. 3. Then.").groups()
    ('1989', 'Bo Ek', 'Ulm No. 3')
    """
    quote = quote.split(_CUT, 1)[0].rstrip()  # a clipped quote: match what is left
    parts, fills, position = [], [], 0
    for match in _MASK.finditer(quote):
        parts.append(_literal(quote[position : match.start()]))
        parts.append(r"((?:(?![.!?] [A-Z]).){1,80}?)")  # a filler never runs into the next sentence
        fills.append(match.group(1) or ("blank" if match.group(0).startswith("_") else None))
        position = match.end()
    tail = quote[position:]
    if not fills or not re.search(r"\w", _MASK.sub("", quote)):
        return None, []  # nothing but masks: no evidence to look for
    if tail.strip(" .!?"):
        parts.append(_literal(tail))
    else:  # ends on a mask: the filler runs to the end of the sentence or paragraph
        parts.append(r"(?=[.!?]?\s*$|[.!?,;]\s(?!\d))")  # "No. 3" does not end a name
    return re.compile("".join(parts), re.IGNORECASE), fills


def _literal(text: str) -> str:
    words = text.split()
    joined = r"\s+".join(re.escape(w) for w in words)
    lead = r"\s*" if text[:1].isspace() or not text else ""
    trail = r"\s*" if text[-1:].isspace() else ""
    if not words:  # between two masks: a space keeps them apart ("In [...] [E2] took")
        return r"\s+" if text else r"\s*"
    return f"{lead}{joined}{trail}"


def fill(clue: Clue, paragraphs: list[str]) -> dict[str, str] | None:
    """The masks' fillers when one of the paragraphs holds the clue's quote, else None.

    >>> clue = read_question('[E1]\\'s page says: "Records from [E2] mention it." Who is [E2]?').clues[0]
    >>> fill(clue, ["Nothing here.", "Records from Arlo Venmoor mention it. Twice."])
    {'2': 'Arlo Venmoor'}
    """
    found = fill_all(clue, paragraphs)
    return found[0] if found else None


def fill_all(clue: Clue, paragraphs: list[str]) -> list[dict[str, str]]:
    """Every filling of the clue's quote in the paragraphs, in page order (a page may use
    one stock sentence for several links).

    >>> clue = read_question('[E1]\\'s page says: "Records from [E2] mention it." Who is [E2]?').clues[0]
    >>> fill_all(clue, ["Records from Ann Lee mention it. Records from Bo Ek mention it."])
    [{'2': 'Ann Lee'}, {'2': 'Bo Ek'}]
    """
    if clue.pattern is None:
        return []
    found = []
    for paragraph in paragraphs:
        text = " ".join(paragraph.split())
        if clue.anchor not in text.lower():
            continue
        for match in clue.pattern.finditer(text):
            found.append({label: text.strip() for label, text in zip(clue.fills, match.groups()) if label})
    return found


def same_name(title: str, name: str) -> bool:
    """Whether a page title is the name a quote gave (a surname alone names a person).

    >>> same_name("Arlo Venmoor", "arlo venmoor"), same_name("Arlo Venmoor", "Venmoor"), same_name("Venmoor", "Arlo")
    (True, True, False)
    """
    title_words, name_words = title.casefold().split(), name.casefold().split()
    if not name_words:
        return False
    return title_words == name_words or (len(name_words) == 1 and title_words[-1:] == name_words)


# ---------------------------------------------------------------- reading the question


def question_terms(question: str) -> list[str]:
    """The question's content words, in order, without repeats.

    >>> question_terms("When was the astronomer who wrote about Lake Venmoor born?")
    ['astronomer', 'wrote', 'lake', 'venmoor', 'born']
    """
    seen: list[str] = []
    for term in tokens(question):
        if term not in STOPWORDS and len(term) > 1 and term not in seen:
            seen.append(term)
    return seen


def name_spans(question: str) -> list[str]:
    """Capitalised spans (likely names), without the question's first word when it is a
    question word.

    >>> name_spans("Which town in Vesteria was founded by Arlo Dunmere?")
    ['Vesteria', 'Arlo Dunmere']
    """
    spans = []
    for match in _NAME_SPAN.finditer(question):
        words = [w for w in match.group(0).split() if w.lower() not in STOPWORDS or w[:1].isupper()]
        while words and words[0].lower() in STOPWORDS:
            words.pop(0)
        span = " ".join(words)
        if span and span not in spans:
            spans.append(span)
    return spans


def queries_for(question: str, rng: random.Random | None, limit: int) -> list[str]:
    """Search queries cut from the question: names, windows of content words, all of them."""
    terms = question_terms(question)
    names = [n for n in name_spans(question) if len(n) > 2]
    windows = [" ".join(terms[i : i + 5]) for i in range(0, max(1, len(terms) - 2), 3)]
    pieces = names + windows
    queries = [" ".join(terms)] + pieces if len(terms) > 5 else pieces + [" ".join(terms)]
    if rng is not None:  # each rollout searches in its own order
        rng.shuffle(queries)
    unique = []
    for query in queries:
        if query and query not in unique:
            unique.append(query)
    return [["question", query] for query in unique[:limit]]


def asked_keys(question: str) -> list[str]:
    """Attribute names the question asks about (prefixes, lower case).

    >>> asked_keys("In which year was the guild founded?")
    ['founded', 'established']
    """
    keys: list[str] = []
    for term in tokens(question):
        for key in KEY_HINTS.get(term, ()):
            if key not in keys:
                keys.append(key)
    return keys


def answer_kind(question: str) -> str | None:
    """`date`, `number`, `place`, or None when the question gives no hint.

    >>> answer_kind("How many members did it have?"), answer_kind("Where was she born?")
    ('number', 'place')
    """
    words = set(tokens(question))
    if "where" in words or (words & PLACE_WORDS and "when" not in words and "year" not in words):
        return "place"
    if words & {"when", "year", "date"}:
        return "date"
    if words & NUMBER_WORDS:
        return "number"
    if words & DATE_WORDS:
        return "date"
    return None


# ---------------------------------------------------------------- reading a page


def best_attribute(lines: list[str], keys: list[str], kind: str | None) -> list | None:
    """The attribute line that best fits what is asked: [name, value, score] or None.

    >>> best_attribute(["Born: 14 March 1879", "Occupation: painter"], ["born"], "date")
    ['Born', '14 March 1879', 3.0]
    """
    best = None
    for line in lines:
        match = _ATTRIBUTE.match(line)
        if not match or len(match.group(2).split()) > 12:
            continue
        name, value = match.group(1), match.group(2).strip().rstrip(".")
        score = 2.0 * any(name.lower().startswith(k) for k in keys) + _fits(value, kind)
        if score > 0 and (best is None or score > best[2]):
            best = [name, value, score]
    return best


def _fits(value: str, kind: str | None) -> float:
    if kind == "date":
        return 1.0 if _YEAR.search(value) else 0.0
    if kind == "number":
        return 1.0 if _NUMBER.search(value) and not _YEAR.fullmatch(value.strip()) else 0.0
    if kind == "place":
        return 1.0 if not _NUMBER.search(value) else 0.0
    return 0.0
