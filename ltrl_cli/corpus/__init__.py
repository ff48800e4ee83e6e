"""The embedded demo corpus: a seeded, fictional encyclopedia in KILT layout.

The project cannot ship Wikipedia text, so `ltrl corpus demo` writes pages of its own:
people, places, organisations and works of an invented world, each a KILT
knowledge-source record (`_id`, `wikipedia_id`, `wikipedia_title`, `text`, `anchors`,
`categories`). Every page says it is synthetic (its categories name the demo corpus).

What the pipeline needs from it, and how the generator provides it:
- walks of 8 hops: every page links to 10-16 others, a mix of its region, its theme,
  its family and the whole world, so the graph is well connected;
- unique answers: attribute lines (`Born: 14 March 1879`, `Population: 48,210`) draw
  their numbers and dates without replacement, so a value names one page (`names`);
- pages as long as encyclopedia articles: a lead, infobox lines and three sections of
  prose that link related pages and name them again (`render`, `prose`), so a 128K-token
  context holds a hundred-odd pages, not several hundred;
- confusable search results: families share surnames (and a person is sometimes linked
  by surname alone), places share name roots, and pages of a region or theme share
  vocabulary;
- KILT fidelity: anchors carry `paragraph_id`, `start` and `end` offsets into
  `text[paragraph_id]`, and `href` is the URL-encoded target title; a few hrefs use
  Wikipedia's liberties (lower-case first letter, underscores, `#Section` fragments) and a
  few point at pages that do not exist (red links), as real dumps do; section headings are
  paragraphs of their own (`Section::::History.`), as in KILT.

The world is laid out first (`world`: titles and attributes of every entity, a few hundred
bytes each), then pages are rendered one at a time, each from its own seeded RNG, so the
output is the same for a given (n_pages, seed) on every machine and Python version.
"""

from __future__ import annotations

from typing import Iterator

from ltrl_cli.corpus.render import SYNTHETIC_CATEGORY, render
from ltrl_cli.corpus.world import World

__all__ = ["SYNTHETIC_CATEGORY", "generate_demo"]


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
    world = World(n_pages, seed)
    for entity in world.entities:
        yield render(world, entity)
