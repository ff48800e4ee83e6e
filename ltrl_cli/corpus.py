"""The embedded demo corpus: a seeded, fictional encyclopedia in KILT layout.

The project cannot ship Wikipedia text, so `ltrl corpus demo` writes pages of its own:
people, places, organisations and works of an invented world, each a KILT
knowledge-source record (`_id`, `wikipedia_id`, `wikipedia_title`, `text`, `anchors`,
`categories`). Every page says it is synthetic (its categories name the demo corpus).

What the pipeline needs from it, and how the generator provides it:
- walks of 8 hops: every page links to 8-13 others, a mix of its region, its theme,
  its family and the whole world, so the graph is well connected;
- unique answers: attribute lines (`Born: 14 March 1879`, `Population: 48,210`) draw
  their numbers and dates without replacement, so a value names one page;
- confusable search results: families share surnames, places share name roots, and pages
  of a region or theme share vocabulary;
- KILT fidelity: anchors carry `paragraph_id`, `start` and `end` offsets into
  `text[paragraph_id]`, and `href` is the URL-encoded target title; a few hrefs use
  Wikipedia's liberties (lower-case first letter, underscores, `#Section` fragments) and a
  few point at pages that do not exist (red links), as real dumps do.

The world is laid out first (titles and attributes of every entity, a few hundred bytes
each), then pages are rendered one at a time, each from its own seeded RNG, so the output
is the same for a given (n_pages, seed) on every machine and Python version.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Iterator
from urllib.parse import quote

SYNTHETIC_CATEGORY = "ltrl demo corpus (synthetic)"

_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
           "October", "November", "December"]
_ONSETS = ["b", "br", "c", "d", "dr", "f", "g", "gr", "h", "k", "l", "m", "n", "p", "r", "s", "sk", "t", "th",
           "v", "vr", "w", "z", "al", "el", "or", "is", "an"]
_VOWELS = ["a", "e", "i", "o", "u", "ae", "ei", "ou", "y"]
_CODAS = ["", "n", "r", "l", "s", "th", "m", "nd", "rk", "st", "v"]
_SURNAME_ENDS = ["ford", "wick", "mere", "holt", "ström", "ane", "ovic", "ley", "borne", "dal", "ric", "ton"]
_PLACE_ENDS = ["haven", "burg", "mora", "stad", "ford", "dale", "grad", "port", "wick", "mouth", "vale", "ria"]
_THEMES = ["astronomy", "shipbuilding", "glassmaking", "cartography", "opera", "botany", "railway engineering",
           "textile weaving", "ceramics", "chess", "mathematics", "poetry", "medicine", "brewing", "clockmaking",
           "architecture", "painting", "maritime law", "mining", "printing", "falconry", "bell founding"]
_OCCUPATIONS = {
    "astronomy": "astronomer", "shipbuilding": "shipwright", "glassmaking": "glassmaker",
    "cartography": "cartographer", "opera": "composer", "botany": "botanist",
    "railway engineering": "railway engineer", "textile weaving": "weaver", "ceramics": "potter",
    "chess": "chess master", "mathematics": "mathematician", "poetry": "poet", "medicine": "physician",
    "brewing": "brewer", "clockmaking": "clockmaker", "architecture": "architect", "painting": "painter",
    "maritime law": "jurist", "mining": "mining engineer", "printing": "printer", "falconry": "falconer",
    "bell founding": "bell founder",
}
_PLACE_KINDS = ["town", "town", "city", "village", "village", "river", "lake", "mountain", "island"]
_ORG_FORMS = ["{place} {Theme} Society", "Royal Academy of {Theme} of {region}", "{surname} & Sons",
              "{place} Institute of {Theme}", "{place} {Theme} Guild", "{surname} {Theme} Company",
              "{region} {Theme} League", "College of {Theme} at {place}"]
_WORK_KINDS = {"novel": "Author", "poem cycle": "Author", "treatise": "Author", "opera": "Composer",
               "symphony": "Composer", "painting": "Painter", "atlas": "Author"}
_WORK_NOUNS = ["Tide", "Lantern", "Orchard", "Compass", "Winter", "Harbour", "Glass", "Ledger", "Bell",
               "Meridian", "Loom", "Quarry", "Comet", "Garden", "Anchor", "Archive", "Falcon", "Clock"]
_WORK_ADJS = ["Silent", "Northern", "Last", "Seventh", "Amber", "Hollow", "Distant", "Iron", "Burning",
              "Patient", "Lesser", "Drowned", "Scarlet", "Unfinished"]


@dataclass
class Entity:
    """One page of the demo world, before it is rendered to text."""

    id: int
    kind: str  # person | place | region | organisation | work
    subtype: str  # e.g. "town", "novel", "astronomer"
    title: str
    short: str  # how the text refers back to the entity ("Venmoor", "the river")
    region: int
    theme: str
    year: int
    family: str = ""
    attrs: list[tuple[str, object]] = field(default_factory=list)  # value: str or a linked Entity id


# ---------------------------------------------------------------- names


def _word(rng: random.Random, syllables: int) -> str:
    parts = [rng.choice(_ONSETS) + rng.choice(_VOWELS) + rng.choice(_CODAS) for _ in range(syllables)]
    return "".join(parts).capitalize()


def _unique(rng: random.Random, taken: set[str], make, fallback: str) -> str:
    """A fresh title from `make`; after a few clashes, the last try plus a qualifier."""
    name = make()
    for _ in range(20):
        if name not in taken:
            break
        name = make()
    else:
        n = 2
        while f"{name} ({fallback} {n})" in taken:
            n += 1
        name = f"{name} ({fallback} {n})"
    taken.add(name)
    return name


def _date(rng: random.Random, year: int) -> str:
    return f"{rng.randint(1, 28)} {rng.choice(_MONTHS)} {year}"


class _Distinct:
    """Draws numbers (or dates) never handed out before, so attribute values identify a page.

    A range that fills up is widened (deterministically), so any corpus size works.
    """

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.used: set[object] = set()

    def number(self, kind: str, low: int, high: int) -> int:
        misses = 0
        while True:
            value = self.rng.randint(low, high)
            if (kind, value) not in self.used:
                self.used.add((kind, value))
                return value
            misses += 1
            if misses % 16 == 0:
                high += high - low + 1

    def date(self, kind: str, year: int) -> str:
        misses = 0
        while True:
            value = _date(self.rng, year)
            if (kind, value) not in self.used:
                self.used.add((kind, value))
                return value
            misses += 1
            if misses % 8 == 0:  # the year is crowded: try a neighbouring one
                year += 1 if self.rng.random() < 0.5 else -1


# ---------------------------------------------------------------- the world


class _World:
    """All entities and the pools used to pick topical link targets."""

    def __init__(self, n_pages: int, seed: int):
        self.rng = random.Random(f"ltrl-demo:{seed}:world")
        self.seed = seed
        self.titles: set[str] = set()
        self.distinct = _Distinct(self.rng)
        self.entities: list[Entity] = []
        n_regions = max(3, n_pages // 150)
        self.surnames = self._surnames(max(4, n_pages // 12))
        self.place_roots = [_word(self.rng, self.rng.choice([1, 2])) for _ in range(max(6, n_pages // 10))]
        self._make_regions(n_regions)
        self._make_rest(n_pages - n_regions)
        self._pools()
        for entity in self.entities:
            self._attributes(entity)

    def _surnames(self, n: int) -> list[str]:
        taken: set[str] = set()
        return [_unique(self.rng, taken, lambda: _word(self.rng, 1) + self.rng.choice(_SURNAME_ENDS), "n")
                for _ in range(n)]

    def _add(self, **kw) -> Entity:
        entity = Entity(id=len(self.entities) + 1, **kw)
        self.entities.append(entity)
        return entity

    def _make_regions(self, n: int) -> None:
        for i in range(n):
            root = _unique(self.rng, self.titles, lambda: _word(self.rng, 2) + "ia", "region")
            self._add(kind="region", subtype="region", title=root, short=root, region=i,
                      theme=self.rng.choice(_THEMES), year=self.rng.randint(900, 1600))
        self.n_regions = n

    def _make_rest(self, n: int) -> None:
        kinds = self.rng.choices(["person", "place", "organisation", "work"], weights=[40, 25, 15, 20], k=n)
        for kind in kinds:
            region = self.rng.randrange(self.n_regions)
            theme = self.rng.choice(_THEMES)
            getattr(self, f"_make_{kind}")(region, theme)

    def _make_person(self, region: int, theme: str) -> None:
        family = self.rng.choice(self.surnames)
        title = _unique(self.rng, self.titles, lambda: f"{_word(self.rng, 2)} {family}", _OCCUPATIONS[theme])
        self._add(kind="person", subtype=_OCCUPATIONS[theme], title=title, short=family, region=region,
                  theme=theme, year=self.rng.randint(1620, 1960), family=family)

    def _make_place(self, region: int, theme: str) -> None:
        sub = self.rng.choice(_PLACE_KINDS)
        root = self.rng.choice(self.place_roots)

        def make() -> str:
            name = root + self.rng.choice(_PLACE_ENDS) if self.rng.random() < 0.5 else root
            return {"river": f"{name} River", "lake": f"Lake {name}", "mountain": f"Mount {name}",
                    "island": f"{name} Island"}.get(sub, name)

        title = _unique(self.rng, self.titles, make, sub)
        short = {"river": "the river", "lake": "the lake", "mountain": "the mountain",
                 "island": "the island"}.get(sub, title.split(" (")[0])
        self._add(kind="place", subtype=sub, title=title, short=short, region=region, theme=theme,
                  year=self.rng.randint(800, 1850))

    def _make_organisation(self, region: int, theme: str) -> None:
        def make() -> str:
            return self.rng.choice(_ORG_FORMS).format(
                place=self.rng.choice(self.place_roots), Theme=theme.title(),
                region=self.entities[region].title, surname=self.rng.choice(self.surnames))

        title = _unique(self.rng, self.titles, make, "organisation")
        self._add(kind="organisation", subtype="organisation", title=title, short="the organisation",
                  region=region, theme=theme, year=self.rng.randint(1500, 1990))

    def _make_work(self, region: int, theme: str) -> None:
        sub = self.rng.choice(list(_WORK_KINDS))

        def make() -> str:
            noun, adj = self.rng.choice(_WORK_NOUNS), self.rng.choice(_WORK_ADJS)
            form = self.rng.randrange(4)
            if form == 0:
                return f"The {adj} {noun}"
            if form == 1:
                return f"{noun} of {self.rng.choice(self.place_roots)}"
            if form == 2:
                return f"{adj} {noun} No. {self.rng.randint(2, 9)}"
            return f"The {noun} at {self.rng.choice(self.place_roots)}"

        title = _unique(self.rng, self.titles, make, sub)
        self._add(kind="work", subtype=sub, title=title, short=f"the {sub}", region=region, theme=theme,
                  year=self.rng.randint(1650, 1995))

    def _pools(self) -> None:
        self.by_region: dict[int, list[int]] = {}
        self.by_theme: dict[str, list[int]] = {}
        self.by_family: dict[str, list[int]] = {}
        self.by_kind: dict[str, list[int]] = {}
        self.by_region_kind: dict[tuple[int, str], list[int]] = {}
        for e in self.entities:
            kinds = [e.kind, "settlement"] if e.subtype in ("town", "city", "village") else [e.kind]
            for kind in kinds:  # people are born in, and organisations sit in, settlements
                self.by_region_kind.setdefault((e.region, kind), []).append(e.id)
                if kind == "settlement":
                    self.by_kind.setdefault(kind, []).append(e.id)
            self.by_region.setdefault(e.region, []).append(e.id)
            self.by_theme.setdefault(e.theme, []).append(e.id)
            self.by_kind.setdefault(e.kind, []).append(e.id)
            if e.family:
                self.by_family.setdefault(e.family, []).append(e.id)

    def pick(self, rng: random.Random, kind: str, region: int, exclude: int = 0) -> int:
        """An entity of `kind` other than `exclude`, from `region` when it has one."""
        local = self.by_region_kind.get((region, kind), [])
        for _ in range(8):
            pool = local if local and rng.random() < 0.7 else self.by_kind.get(kind) or [1]
            choice = rng.choice(pool)
            if choice != exclude:
                return choice
        return 1 if exclude != 1 else 2

    def _attributes(self, e: Entity) -> None:
        """Infobox lines; numbers and dates come from `distinct`, links are entity ids."""
        rng, d = self.rng, self.distinct
        if e.kind == "person":
            e.attrs = [("Born", d.date("born", e.year)), ("Born in", self.pick(rng, "settlement", e.region)),
                       ("Occupation", e.subtype)]
            if e.year < 1930 or rng.random() < 0.5:
                e.attrs.insert(1, ("Died", d.date("died", e.year + rng.randint(25, 90))))
        elif e.kind == "region":
            e.attrs = [("Population", f"{d.number('population', 80_000, 4_000_000):,}"),
                       ("Area", f"{d.number('area', 900, 90_000):,} km²"), ("Established", str(e.year))]
        elif e.kind == "place":
            e.attrs = [("Located in", e.region + 1)] + self._place_attrs(e)
        elif e.kind == "organisation":
            e.attrs = [("Founded", str(e.year)), ("Headquarters", self.pick(rng, "settlement", e.region)),
                       ("Founder", self.pick(rng, "person", e.region)),
                       ("Members", f"{d.number('members', 40, 60_000):,}")]
        else:
            e.attrs = [(_WORK_KINDS[e.subtype], self.pick(rng, "person", e.region)),
                       ("Completed" if e.subtype == "painting" else "Published", str(e.year)),
                       self._work_measure(e)]

    def _place_attrs(self, e: Entity) -> list[tuple[str, object]]:
        d = self.distinct
        if e.subtype == "river":
            source = self.pick(self.rng, "place", e.region, exclude=e.id)
            return [("Length", f"{d.number('length', 12, 2_900):,} km"), ("Source", source)]
        if e.subtype == "lake":
            return [("Area", f"{d.number('lake area', 2, 9_000):,}.{self.rng.randint(0, 9)} km²")]
        if e.subtype == "mountain":
            return [("Elevation", f"{d.number('elevation', 600, 6_900):,} m")]
        return [("Founded", str(e.year)), ("Population", f"{d.number('population', 150, 2_000_000):,}")]

    def _work_measure(self, e: Entity) -> tuple[str, str]:
        d = self.distinct
        if e.subtype == "painting":
            return "Dimensions", f"{d.number('width', 20, 400)} × {self.rng.randint(20, 400)} cm"
        if e.subtype in ("opera", "symphony"):
            return "Duration", f"{d.number('duration', 20, 400)} minutes"
        return "Pages", f"{d.number('pages', 40, 5_000):,}"


# ---------------------------------------------------------------- rendering

_LINK_SENTENCES = {
    "person": ["{T} wrote about {S} in {year}.", "Accounts of {S} often mention {T}.",
               "In {year} {T} took a close interest in {S}.", "Contemporaries often compared {S} with {T}.",
               "Letters from {T} describe {S} at length."],
    "place": ["In {year} {S} was first connected with {T}.", "Records from {T} mention {S} several times.",
              "Visitors from {T} came to know {S} after {year}.", "Much of what is known of {S} was kept in {T}."],
    "region": ["{S} is often associated with {T}.", "Travellers from {T} brought news of {S} in {year}.",
               "The archives of {T} hold papers concerning {S}."],
    "organisation": ["{S} was connected with {T} from {year}.", "{T} published a study of {S} in {year}.",
                     "Members of {T} visited {S} on several occasions."],
    "work": ["{S} is mentioned in {T}.", "{T} draws on material about {S}.",
             "Critics have read {T} as a commentary on {S}."],
}
_FILLERS = ["Its reputation in {theme} grew steadily after {year}.", "Little was written about this before {year}.",
            "Accounts of the period stress the importance of {theme}.", "Later historians revised this view.",
            "The episode is recorded in several local chronicles."]
_KIND_WORD = {"person": "", "place": "", "region": "region", "organisation": "organisation", "work": ""}


class _Paragraph:
    """Text built piece by piece, remembering where each link's anchor text lands."""

    def __init__(self) -> None:
        self.text = ""
        self.links: list[tuple[int, int, str, int]] = []  # start, end, anchor text, target id

    def add(self, text: str) -> None:
        self.text += text

    def link(self, anchor: str, target: int) -> None:
        start = len(self.text)
        self.text += anchor
        self.links.append((start, len(self.text), anchor, target))


def _lead(w: _World, e: Entity) -> str:
    region = w.entities[e.region].title
    if e.kind == "person":
        return f"{e.title} was a {region}n {e.subtype} working in {e.theme}, active from about {e.year + 20}."
    if e.kind == "region":
        return f"{e.title} is a region of the demo world, known for its {e.theme}."
    if e.kind == "place":
        return f"{e.title} is a {e.subtype} in {region}, long associated with {e.theme}."
    if e.kind == "organisation":
        return f"The {e.title} is an organisation in {region} devoted to {e.theme}, founded in {e.year}."
    return f"{e.title} is a {e.subtype} about {e.theme}, set in {region}."


def _targets(w: _World, e: Entity, rng: random.Random, n: int) -> list[int]:
    """Distinct link targets: topical neighbours first, then anyone, never the page itself."""
    pools = [w.by_region[e.region], w.by_theme[e.theme], w.by_family.get(e.family, []), None]
    chosen: list[int] = []
    tries = 0
    while len(chosen) < n and tries < n * 20:
        tries += 1
        pool = rng.choices(pools, weights=[4, 3, 2 if e.family else 0, 3])[0]
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


def _body(w: _World, e: Entity, rng: random.Random, targets: list[int]) -> list[_Paragraph]:
    paragraphs: list[_Paragraph] = []
    while targets:
        para = _Paragraph()
        for target in targets[: rng.randint(2, 4)]:
            t = w.entities[target - 1]
            sentence = rng.choice(_LINK_SENTENCES[t.kind])
            before, after = sentence.split("{T}")
            para.add(_fill(before, e, rng))
            para.link(t.title, target)
            para.add(_fill(after, e, rng) + " ")
            if rng.random() < 0.35:
                para.add(_fill(rng.choice(_FILLERS), e, rng) + " ")
        targets = targets[len(para.links):]
        para.text = para.text.rstrip()
        paragraphs.append(para)
    return paragraphs


def _fill(template: str, e: Entity, rng: random.Random) -> str:
    text = template.format(S=e.short, theme=e.theme, year=e.year + rng.randint(1, 40))
    return text[:1].upper() + text[1:] if template.startswith("{S}") else text


def render(w: _World, e: Entity) -> dict:
    """The KILT record of one entity."""
    rng = random.Random(f"ltrl-demo:{w.seed}:page:{e.id}")
    paragraphs = [_Paragraph(), _Paragraph()]
    paragraphs[0].add(e.title)
    paragraphs[1].add(_lead(w, e))
    infobox_links = set()
    for name, value in e.attrs:
        para = _Paragraph()
        para.add(f"{name}: ")
        if isinstance(value, int):
            para.link(w.entities[value - 1].title, value)
            infobox_links.add(value)
        else:
            para.add(value)
        paragraphs.append(para)
    wanted = rng.randint(8, 13) - len(infobox_links)
    body_targets = [t for t in _targets(w, e, rng, wanted + len(infobox_links)) if t not in infobox_links][:wanted]
    paragraphs += _body(w, e, rng, body_targets)
    return _record(w, e, paragraphs, rng)


def _record(w: _World, e: Entity, paragraphs: list[_Paragraph], rng: random.Random) -> dict:
    anchors = []
    for pid, para in enumerate(paragraphs):
        for start, end, anchor, target in para.links:
            href = _href(w.entities[target - 1].title, rng)
            anchors.append({"text": anchor, "href": href, "paragraph_id": pid, "start": start, "end": end})
    if rng.random() < 0.1:  # a red link: a page the world never wrote
        anchors.append(_red_link(paragraphs, rng))
    categories = [f"{e.kind.title()}s of {w.entities[e.region].title}", e.theme.capitalize(), SYNTHETIC_CATEGORY]
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
    name = f"{_word(rng, 2)} Archive"
    pid = len(paragraphs) - 1
    para.text += f" See also the {name}."
    start = para.text.index(name, len(para.text) - len(name) - 2)
    return {"text": name, "href": quote(name), "paragraph_id": pid, "start": start, "end": start + len(name)}


def generate_demo(n_pages: int = 3000, seed: int = 0) -> Iterator[dict]:
    """Yield the demo encyclopedia's pages, ids "1".."n_pages", in id order.

    The same (n_pages, seed) gives the same pages everywhere. Each page's text paragraphs
    end with a newline, as KILT's do; `text[0]` is the title line.

    >>> pages = list(generate_demo(60, seed=1))
    >>> len(pages), pages[0]["wikipedia_id"], "synthetic" in pages[0]["categories"]
    (60, '1', True)
    >>> a = pages[10]["anchors"][0]
    >>> pages[10]["text"][a["paragraph_id"]][a["start"]:a["end"]] == a["text"]
    True
    """
    if n_pages < 20:
        raise ValueError("the demo corpus needs at least 20 pages")
    world = _World(n_pages, seed)
    for entity in world.entities:
        yield render(world, entity)
