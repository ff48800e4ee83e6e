"""Names, dates and never-repeating values for the demo world."""

from __future__ import annotations

import random

MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
          "October", "November", "December"]
_ONSETS = ["b", "br", "c", "d", "dr", "f", "g", "gr", "h", "k", "l", "m", "n", "p", "r", "s", "sk", "t", "th",
           "v", "vr", "w", "z", "al", "el", "or", "is", "an"]
_VOWELS = ["a", "e", "i", "o", "u", "ae", "ei", "ou", "y"]
_CODAS = ["", "n", "r", "l", "s", "th", "m", "nd", "rk", "st", "v"]
SURNAME_ENDS = ["ford", "wick", "mere", "holt", "ström", "ane", "ovic", "ley", "borne", "dal", "ric", "ton"]
PLACE_ENDS = ["haven", "burg", "mora", "stad", "ford", "dale", "grad", "port", "wick", "mouth", "vale", "ria"]


def word(rng: random.Random, syllables: int) -> str:
    """An invented word of `syllables` syllables, capitalised."""
    parts = [rng.choice(_ONSETS) + rng.choice(_VOWELS) + rng.choice(_CODAS) for _ in range(syllables)]
    return "".join(parts).capitalize()


def unique(rng: random.Random, taken: set[str], make, fallback: str) -> str:
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


def date(rng: random.Random, year: int) -> str:
    return f"{rng.randint(1, 28)} {rng.choice(MONTHS)} {year}"


DATES_A_YEAR = 28 * 12  # what `date` draws from: days 1-28 of each month


class Distinct:
    """Draws numbers (or dates) never handed out before, so attribute values identify a page.

    A range that fills up is widened (deterministically), so any corpus size works.
    """

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.used: set[object] = set()
        self.dates_in: dict[tuple[str, int], int] = {}  # dates handed out per (kind, year)
        self.skip: dict[tuple[str, int, int], int] = {}  # a full year -> a year beyond it (path-compressed)

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
            year = self._open_year(kind, year)
            value = date(self.rng, year)
            if (kind, value) not in self.used:
                self.used.add((kind, value))
                self.dates_in[kind, year] = self.dates_in.get((kind, year), 0) + 1
                return value
            misses += 1
            if misses % 8 == 0:  # the year is crowded: try a neighbouring one
                year += 1 if self.rng.random() < 0.5 else -1

    def _open_year(self, kind: str, year: int) -> int:
        """`year`, or the nearest year with a date left when every one of it is taken.

        Without this, a draw that landed among full years walked out of them at random,
        one year per 8 misses: in a corpus of 300k pages whole centuries of birth dates
        fill up, and the walk's length grew with their width (World(300_000) ran for
        minutes, World(200_000) for 7 s). No year is ever full in the corpora of a few
        thousand pages that the tests and the demo use, so their pages are unchanged.
        """
        if self.dates_in.get((kind, year), 0) < DATES_A_YEAR:
            return year
        up, down = self._beyond(kind, year, 1), self._beyond(kind, year, -1)
        return up if up - year <= year - down else down

    def _beyond(self, kind: str, year: int, step: int) -> int:
        """The first year past `year` in the direction `step` with a date left."""
        path = []
        while self.dates_in.get((kind, year), 0) >= DATES_A_YEAR:
            path.append(year)
            year = self.skip.get((kind, year, step), year + step)
        for full in path:  # years only fill up, so the answer holds for every year passed
            self.skip[kind, full, step] = year
        return year
