"""Writing one entity of the demo world as a KILT page.

A page reads like a short encyclopedia article: a title line, a lead paragraph whose first
sentence says what the entity is, infobox-style attribute lines, then three sections
(`Section::::History.` headings, as KILT writes them) of a few paragraphs each. The
paragraphs link to 10-16 related pages (the first mention of each is linked, as
Wikipedia does; later mentions name it again without a link) and fill out with the
vocabulary of the page's theme and region. A person is sometimes linked by surname
alone, which several pages share: a name read on one page does not always say which
page it means.
"""

from __future__ import annotations

import random
from urllib.parse import quote

from ltrl_cli.corpus import prose
from ltrl_cli.corpus.names import word
from ltrl_cli.corpus.world import Entity, World

SYNTHETIC_CATEGORY = "ltrl demo corpus (synthetic)"
SURNAME_ONLY = 0.25  # share of links to a person of another family written with the surname alone


class _Paragraph:
    """Text built piece by piece, remembering where each link's anchor text lands."""

    def __init__(self, text: str = "") -> None:
        self.text = text
        self.links: list[tuple[int, int, str, int]] = []  # start, end, anchor text, target id

    def add(self, text: str) -> None:
        self.text += text

    def link(self, anchor: str, target: int) -> None:
        start = len(self.text)
        self.text += anchor
        self.links.append((start, len(self.text), anchor, target))


class _Writer:
    """Fills the stock sentences of `prose` for one page, from its own seeded RNG."""

    def __init__(self, w: World, e: Entity):
        self.w, self.e = w, e
        self.rng = random.Random(f"ltrl-demo:{w.seed}:page:{e.id}")
        self.region = w.entity(e.region + 1).title
        self.things = prose.THINGS[e.theme]
        self.decks: dict[str, list[str]] = {}

    def draw(self, bank: str, sentences: list[str]) -> str:
        """The bank's next sentence: a page repeats one only when it has used them all (so a
        stock link sentence rarely names two pages of one kind on the same page)."""
        deck = self.decks.get(bank)
        if not deck:
            deck = self.decks[bank] = self.rng.sample(sentences, len(sentences))
        return deck.pop()

    def fill(self, template: str, **extra: str) -> str:
        rng, year = self.rng, self.e.year + self.rng.randint(1, 40)
        thing, thing2 = rng.sample(self.things, 2)
        slots = {"S": self.e.short, "theme": self.e.theme, "region": self.region, "demonym": f"{self.region}n",
                 "year": year, "year2": year + rng.randint(3, 30), "decade": year // 10 * 10, "thing": thing,
                 "thing2": thing2, "things": thing, "adj": rng.choice(prose.ADJECTIVES),
                 "people": prose.PEOPLE.get(self.e.theme, f"students of {self.e.theme}"), **extra}
        text = template.format(**slots)
        return text[:1].upper() + text[1:]

    def link_sentence(self, para: _Paragraph, target: int) -> None:
        t = self.w.entity(target)
        before, after = self.fill(self.draw(f"link:{t.kind}", prose.LINK[t.kind]), T="\x00").split("\x00")
        para.add(before)
        para.link(self.anchor(t), target)
        para.add(after)

    def anchor(self, t: Entity) -> str:
        if t.kind == "person" and t.family != self.e.family and self.rng.random() < SURNAME_ONLY:
            return t.family
        return t.title


def render(w: World, e: Entity) -> dict:
    """The KILT record of one entity."""
    writer = _Writer(w, e)
    paragraphs = [_Paragraph(e.title), _lead(writer)]
    infobox_links = set()
    for name, value in e.attrs:
        para = _Paragraph(f"{name}: ")
        if isinstance(value, int):
            para.link(w.entity(value).title, value)
            infobox_links.add(value)
        else:
            para.add(value)
        paragraphs.append(para)
    rng = writer.rng
    wanted = rng.randint(10, 16) - len(infobox_links)
    body_targets = [t for t in _targets(w, e, rng, wanted + len(infobox_links)) if t not in infobox_links][:wanted]
    paragraphs += _sections(writer, body_targets)
    return _record(w, e, paragraphs, rng)


def _lead(writer: _Writer) -> _Paragraph:
    e, region = writer.e, writer.region
    first = {
        "person": f"{e.title} was {_a(region + 'n')} {e.subtype} working in {e.theme}, active from about {e.year + 20}.",
        "region": f"{e.title} is a region of the demo world, known for its {e.theme}.",
        "place": f"{e.title} is {_a(e.subtype)} in {region}, long associated with {e.theme}.",
        "organisation": f"The {e.title} is an organisation in {region} devoted to {e.theme}, founded in {e.year}.",
    }.get(e.kind, f"{e.title} is {_a(e.subtype)} about {e.theme}, set in {region}.")
    more = writer.rng.sample(prose.LEAD_MORE, writer.rng.randint(1, 2))
    return _Paragraph(" ".join([first] + [writer.fill(s) for s in more]))


def _a(noun: str) -> str:
    return f"an {noun}" if noun[:1].lower() in "aeiou" else f"a {noun}"


def _sections(writer: _Writer, targets: list[int]) -> list[_Paragraph]:
    """Three sections of 2-3 paragraphs; each target is linked once, in page order."""
    rng, out = writer.rng, []
    sections = prose.SECTIONS[writer.e.kind]
    counts = [rng.randint(2, 3) for _ in sections]
    where = sorted(rng.randrange(sum(counts)) for _ in targets)  # which paragraph links each target
    linked: list[int] = []
    number = 0
    for (heading, bank), count in zip(sections, counts):
        out.append(_Paragraph(f"Section::::{heading}."))
        for _ in range(count):
            mine = [t for t, p in zip(targets, where) if p == number]
            out.append(_paragraph(writer, bank, mine, linked))
            linked += mine
            number += 1
    return out


def _paragraph(writer: _Writer, bank: str, targets: list[int], earlier: list[int]) -> _Paragraph:
    """Link sentences for `targets`, filler from the section's bank, and now and then an
    entity linked earlier named again, in a shuffled order."""
    rng = writer.rng
    pieces: list[object] = list(targets) + [writer.draw(bank, prose.FILLER[bank]) for _ in range(rng.randint(3, 5))]
    if earlier and rng.random() < 0.6:
        pieces.append(("again", rng.choice(earlier)))
    rng.shuffle(pieces)
    para = _Paragraph()
    for piece in pieces:
        if isinstance(piece, int):
            writer.link_sentence(para, piece)
        elif isinstance(piece, tuple):
            t = writer.w.entity(piece[1])
            again = t.title if t.family == writer.e.family else t.mention  # a relative: the surname is ours too
            para.add(writer.fill(rng.choice(prose.AGAIN), M=again, F=t.title))
        else:
            para.add(writer.fill(piece))
        para.add(" ")
    para.text = para.text.rstrip()
    return para


def _targets(w: World, e: Entity, rng: random.Random, n: int) -> list[int]:
    """Distinct link targets: topical neighbours first, then anyone, never the page itself.

    Pages of one region and theme (a handful) link each other most, as an encyclopedia's
    pages on one school or one trade do: the pages a search for one of them brings up
    tend to name it.
    """
    pools = [w.by_region[e.region], w.by_theme[e.theme], w.by_family.get(e.family, []),
             w.by_region_theme[(e.region, e.theme)], None]
    chosen: list[int] = []
    tries = 0
    while len(chosen) < n and tries < n * 20:
        tries += 1
        pool = rng.choices(pools, weights=[3, 2, 2 if e.family else 0, 3, 2])[0]
        target = rng.choice(pool) if pool else rng.randint(1, len(w.entities))
        if target != e.id and target not in chosen:
            chosen.append(target)
    return chosen


def _href(title: str, rng: random.Random) -> str:
    """The URL-encoded title, now and then written with the liberties real dumps take."""
    roll = rng.random()
    if roll < 0.04:
        title = title[:1].lower() + title[1:]
    elif roll < 0.08:
        title = title.replace(" ", "_")
    elif roll < 0.11:
        title = f"{title}#{rng.choice(['History', 'Legacy', 'Early years', 'Geography'])}"
    return quote(title, safe="#")


def _record(w: World, e: Entity, paragraphs: list[_Paragraph], rng: random.Random) -> dict:
    anchors = []
    for pid, para in enumerate(paragraphs):
        for start, end, anchor, target in para.links:
            href = _href(w.entity(target).title, rng)
            anchors.append({"text": anchor, "href": href, "paragraph_id": pid, "start": start, "end": end})
    if rng.random() < 0.1:  # a red link: a page the world never wrote
        anchors.append(_red_link(paragraphs, rng))
    categories = [f"{e.kind.title()}s of {w.entity(e.region + 1).title}", e.theme.capitalize(), SYNTHETIC_CATEGORY]
    return {
        "_id": str(e.id),
        "wikipedia_id": str(e.id),
        "wikipedia_title": e.title,
        "text": [p.text + "\n" for p in paragraphs],
        "anchors": anchors,
        "categories": ",".join(categories),
    }


def _red_link(paragraphs: list[_Paragraph], rng: random.Random) -> dict:
    para = paragraphs[-1]
    name = f"{word(rng, 2)} Archive"
    pid = len(paragraphs) - 1
    para.text += f" See also the {name}."
    start = para.text.index(name, len(para.text) - len(name) - 2)
    return {"text": name, "href": quote(name), "paragraph_id": pid, "start": start, "end": start + len(name)}
