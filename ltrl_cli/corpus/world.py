"""The demo world laid out before any page is written: entities, their attributes, and the
pools that topical links are drawn from."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from ltrl_cli.corpus.names import PLACE_ENDS, SURNAME_ENDS, Distinct, unique, word

THEMES = ["astronomy", "shipbuilding", "glassmaking", "cartography", "opera", "botany", "railway engineering",
          "textile weaving", "ceramics", "chess", "mathematics", "poetry", "medicine", "brewing", "clockmaking",
          "architecture", "painting", "maritime law", "mining", "printing", "falconry", "bell founding"]
OCCUPATIONS = {
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
WORK_KINDS = {"novel": "Author", "poem cycle": "Author", "treatise": "Author", "opera": "Composer",
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
    short: str  # how its own page refers back to it: a person by surname, anything else by title
    region: int
    theme: str
    year: int
    family: str = ""
    attrs: list[tuple[str, object]] = field(default_factory=list)  # value: str or a linked Entity id

    @property
    def mention(self) -> str:
        """How other pages name it again after the first, linked mention: a person by surname."""
        return self.family or self.title.split(" (")[0]


class World:
    """All entities and the pools used to pick topical link targets."""

    def __init__(self, n_pages: int, seed: int):
        self.rng = random.Random(f"ltrl-demo:{seed}:world")
        self.seed = seed
        self.titles: set[str] = set()
        self.entities: list[Entity] = []
        n_regions = max(3, n_pages // 150)
        taken: set[str] = set()
        self.surnames = [unique(self.rng, taken, lambda: word(self.rng, 1) + self.rng.choice(SURNAME_ENDS), "n")
                         for _ in range(max(4, n_pages // 12))]
        self.place_roots = [word(self.rng, self.rng.choice([1, 2])) for _ in range(max(6, n_pages // 10))]
        for i in range(n_regions):
            root = unique(self.rng, self.titles, lambda: word(self.rng, 2) + "ia", "region")
            self._add(kind="region", subtype="region", title=root, short=root, region=i,
                      theme=self.rng.choice(THEMES), year=self.rng.randint(900, 1600))
        self.n_regions = n_regions
        kinds = self.rng.choices(["person", "place", "organisation", "work"], weights=[40, 25, 15, 20],
                                 k=n_pages - n_regions)
        for kind in kinds:
            region, theme = self.rng.randrange(n_regions), self.rng.choice(THEMES)
            getattr(self, f"_make_{kind}")(region, theme)
        self._pools()
        attributes = Attributes(self)
        for entity in self.entities:
            entity.attrs = attributes.of(entity)

    def _add(self, **kw) -> Entity:
        entity = Entity(id=len(self.entities) + 1, **kw)
        self.entities.append(entity)
        return entity

    def _make_person(self, region: int, theme: str) -> None:
        family = self.rng.choice(self.surnames)
        title = unique(self.rng, self.titles, lambda: f"{word(self.rng, 2)} {family}", OCCUPATIONS[theme])
        self._add(kind="person", subtype=OCCUPATIONS[theme], title=title, short=family, region=region,
                  theme=theme, year=self.rng.randint(1620, 1960), family=family)

    def _make_place(self, region: int, theme: str) -> None:
        sub, root = self.rng.choice(_PLACE_KINDS), self.rng.choice(self.place_roots)

        def make() -> str:
            name = root + self.rng.choice(PLACE_ENDS) if self.rng.random() < 0.5 else root
            return {"river": f"{name} River", "lake": f"Lake {name}", "mountain": f"Mount {name}",
                    "island": f"{name} Island"}.get(sub, name)

        title = unique(self.rng, self.titles, make, sub)
        self._add(kind="place", subtype=sub, title=title, short=title.split(" (")[0],
                  region=region, theme=theme, year=self.rng.randint(800, 1850))

    def _make_organisation(self, region: int, theme: str) -> None:
        def make() -> str:
            return self.rng.choice(_ORG_FORMS).format(
                place=self.rng.choice(self.place_roots), Theme=theme.title(),
                region=self.entities[region].title, surname=self.rng.choice(self.surnames))

        title = unique(self.rng, self.titles, make, "organisation")
        self._add(kind="organisation", subtype="organisation", title=title, short=title.split(" (")[0],
                  region=region, theme=theme, year=self.rng.randint(1500, 1990))

    def _make_work(self, region: int, theme: str) -> None:
        sub = self.rng.choice(list(WORK_KINDS))

        def make() -> str:
            noun, adj, root = self.rng.choice(_WORK_NOUNS), self.rng.choice(_WORK_ADJS), self.rng.choice(self.place_roots)
            return [f"The {adj} {noun}", f"{noun} of {root}", f"{adj} {noun} No. {self.rng.randint(2, 9)}",
                    f"The {noun} at {root}"][self.rng.randrange(4)]

        title = unique(self.rng, self.titles, make, sub)
        self._add(kind="work", subtype=sub, title=title, short=title.split(" (")[0], region=region, theme=theme,
                  year=self.rng.randint(1650, 1995))

    def _pools(self) -> None:
        self.by_region: dict[int, list[int]] = {}
        self.by_region_theme: dict[tuple[int, str], list[int]] = {}
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
            self.by_region_theme.setdefault((e.region, e.theme), []).append(e.id)
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

    def entity(self, entity_id: int) -> Entity:
        return self.entities[entity_id - 1]


class Attributes:
    """Infobox lines; numbers and dates never repeat (see `Distinct`), links are entity ids."""

    def __init__(self, world: World):
        self.w, self.rng, self.d = world, world.rng, Distinct(world.rng)

    def of(self, e: Entity) -> list[tuple[str, object]]:
        rng, d, pick = self.rng, self.d, self.w.pick
        if e.kind == "person":
            attrs = [("Born", d.date("born", e.year)), ("Born in", pick(rng, "settlement", e.region)),
                     ("Occupation", e.subtype)]
            if e.year < 1930 or rng.random() < 0.5:
                attrs.insert(1, ("Died", d.date("died", e.year + rng.randint(25, 90))))
            return attrs
        if e.kind == "region":
            return [("Population", f"{d.number('population', 80_000, 4_000_000):,}"),
                    ("Area", f"{d.number('area', 900, 90_000):,} km²"), ("Established", str(e.year))]
        if e.kind == "place":
            return [("Located in", e.region + 1)] + self._place(e)
        if e.kind == "organisation":
            return [("Founded", str(e.year)), ("Headquarters", pick(rng, "settlement", e.region)),
                    ("Founder", pick(rng, "person", e.region)),
                    ("Members", f"{d.number('members', 40, 60_000):,}")]
        return [(WORK_KINDS[e.subtype], pick(rng, "person", e.region)),
                ("Completed" if e.subtype == "painting" else "Published", str(e.year)), self._measure(e)]

    def _place(self, e: Entity) -> list[tuple[str, object]]:
        d = self.d
        if e.subtype == "river":
            source = self.w.pick(self.rng, "place", e.region, exclude=e.id)
            return [("Length", f"{d.number('length', 12, 2_900):,} km"), ("Source", source)]
        if e.subtype == "lake":
            return [("Area", f"{d.number('lake area', 2, 9_000):,}.{self.rng.randint(0, 9)} km²")]
        if e.subtype == "mountain":
            return [("Elevation", f"{d.number('elevation', 600, 6_900):,} m")]
        return [("Founded", str(e.year)), ("Population", f"{d.number('population', 150, 2_000_000):,}")]

    def _measure(self, e: Entity) -> tuple[str, str]:
        d = self.d
        if e.subtype == "painting":
            return "Dimensions", f"{d.number('width', 20, 400)} × {self.rng.randint(20, 400)} cm"
        if e.subtype in ("opera", "symphony"):
            return "Duration", f"{d.number('duration', 20, 400)} minutes"
        return "Pages", f"{d.number('pages', 40, 5_000):,}"
