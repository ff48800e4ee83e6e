"""Pages of any corpus turned into the clean KILT record the rest of ltrl reads.

`ltrl index` passes every page through `PageReader.normalise`, so stages, tools, snippets and
training contexts only ever see one shape:

    {"wikipedia_id": str, "wikipedia_title": str,
     "text": [title line, paragraph, ...],          # markup-free
     "anchors": [{"text", "href", "paragraph_id", "start", "end"[, "inferred"]}],
     "unplaced_links": [href, ...],                 # links without a place in the text
     ...}                                           # the record's other fields, as they were

What is accepted (DESIGN.md, "Facts learned since"):
- ids: `wikipedia_id`, `_id` or `id`, the first of these the first page has (or the field
  named by `--id-field`); `--id-field title` derives a stable id from the title, as does a
  corpus whose first page has none of them: `t` + 16 hex digits of a hash of the normalised
  title (the same title always gives the same id).
- titles: `wikipedia_title` or `title`.
- text: `text` or `paragraphs`, a list of paragraphs (strings, or objects with `text` or
  `paragraph_text`) or one string (split at line breaks). When the first paragraph is not
  the title line (KILT's `text[0]`), the title is put in front and anchors move with it.
- KILT markup becomes text: a heading paragraph `Section::::History.` is kept as the line
  `## History` (nested `Section::::A:::B.` as `## B`), a list item `BULLET::::- x` reads
  `- x`, any other `NAME::::` prefix is removed, and no `::::` is left anywhere. Anchor
  offsets (which count the markup) are moved so they still point at the anchor text.
- anchors whose `paragraph_id` is outside the page become unplaced links (the link stays,
  its evidence goes); anchors without an `href` are dropped. Both are counted.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from typing import Any

from ltrl_cli.backends.base import title_key
from ltrl_cli.errors import BadInput, UsageError

ID_FIELDS = ("wikipedia_id", "_id", "id")
TITLE_FIELDS = ("wikipedia_title", "title")
TEXT_FIELDS = ("text", "paragraphs")
DERIVED = "title"  # --id-field value: derive ids from titles

_REPLACED = {"paragraphs", "unplaced_links", "text", "anchors"}  # rewritten (other fields pass through)
_MARKUP = re.compile(r"^(\s*)([A-Za-z_]+)::::")
_ANY_MARKUP = re.compile(r":{3,}")


def derived_id(title: str) -> str:
    """A stable page id made from a title (the same normalised title, the same id).

    >>> derived_id("Ada Lovelace") == derived_id("ada_Lovelace") != derived_id("Ada")
    True
    """
    return "t" + hashlib.blake2b(title_key(title).encode("utf-8", "surrogatepass"), digest_size=8).hexdigest()


def clean_paragraph(paragraph: str) -> tuple[str, list[tuple[int, int, int]]]:
    """A paragraph without KILT markup, and the edits made: (old start, old end, new length).

    >>> clean_paragraph("Section::::Early life.\\n")[0]
    '## Early life\\n'
    >>> clean_paragraph("BULLET::::- The Hobbit (1937)\\n")[0]
    '- The Hobbit (1937)\\n'
    >>> clean_paragraph("Section::::Career:::Films.")[0]
    '## Films'
    >>> clean_paragraph("Odd::::markup, and more:::: inside")[0]
    'markup, and more  inside'
    >>> clean_paragraph("Plain text stays.")
    ('Plain text stays.', [])
    """
    if ":::" not in paragraph:
        return paragraph, []
    edits: list[tuple[int, int, str]] = []
    match = _MARKUP.match(paragraph)
    if match:
        kind, body_at = match.group(2), match.end()
        body = paragraph[body_at:]
        if kind == "Section":
            stripped = body.rstrip()
            heading = stripped[:-1] if stripped.endswith(".") else stripped
            last = _ANY_MARKUP.split(heading)[-1].strip()
            edits.append((match.start(2), body_at + len(stripped), "## " + last))
        elif kind == "BULLET":
            edits.append((match.start(2), body_at, "" if body.startswith("- ") else "- "))
        else:
            edits.append((match.start(2), body_at, ""))
    covered = edits[0][1] if edits else 0
    edits += [(m.start(), m.end(), " ") for m in _ANY_MARKUP.finditer(paragraph) if m.start() >= covered]
    out, at = [], 0
    for start, end, new in edits:
        out += [paragraph[at:start], new]
        at = end
    out.append(paragraph[at:])
    return "".join(out), [(start, end, len(new)) for start, end, new in edits]


def shift(offset: int, edits: list[tuple[int, int, int]]) -> int:
    """Where character `offset` of the old paragraph is in the cleaned one.

    An offset inside an edited span moves to that span's start.

    >>> shift(15, [(0, 10, 2)])
    7
    """
    delta = 0
    for start, end, new_len in edits:
        if offset >= end:
            delta += new_len - (end - start)
        elif offset > start:
            return start + delta
    return offset + delta


class PageReader:
    """Turns raw corpus records into clean pages, counting what it had to drop or make up.

    Args:
        id_field: the field holding page ids, or "title" to derive ids from titles; None
            picks the first of ID_FIELDS the first page has (deriving when it has none).

    Attributes:
        counts: `anchors_out_of_range` (paragraph_id outside the page: kept as an unplaced
            link), `anchors_no_target` (no href: dropped), `anchors_moved` (offsets that did
            not point at the anchor text and were found again in the paragraph).
    """

    def __init__(self, id_field: str | None = None):
        if id_field is not None and not id_field.strip():
            raise UsageError("--id-field must name a field (or be 'title')")
        self.id_field = id_field
        self.chosen_by_first_page = id_field is None
        self.counts: Counter[str] = Counter()

    def normalise(self, raw: Any, line: int | None = None, source: str | None = None) -> dict:
        """The clean page of one raw record; BadInput (naming source and line) if it has none."""
        if not isinstance(raw, dict):
            raise BadInput("expected a JSON object (a page)", line=line, source=source)
        title = next((raw[f] for f in TITLE_FIELDS if isinstance(raw.get(f), str)), None)
        if title is None or not title.strip():
            raise BadInput(f"no title: expected a string field {' or '.join(map(repr, TITLE_FIELDS))}",
                           line=line, source=source)
        title = title.strip()
        page_id = self._page_id(raw, title, line, source)
        paragraphs = self._paragraphs(raw, line, source)
        shift_by = 0 if paragraphs and paragraphs[0].strip() == title else 1
        cleaned, edits = zip(*(clean_paragraph(p) for p in paragraphs)) if paragraphs else ((), ())
        text = ([title + "\n"] if shift_by else []) + list(cleaned)
        anchors, unplaced = [], [h for h in raw.get("unplaced_links") or () if isinstance(h, str) and h]
        for anchor in raw.get("anchors") or ():
            self._anchor(anchor, paragraphs, text, edits, shift_by, anchors, unplaced)
        page = {key: value for key, value in raw.items() if key not in _REPLACED}  # categories, ... kept
        page.update(wikipedia_id=page_id, wikipedia_title=title, text=text, anchors=anchors)
        if unplaced:
            page["unplaced_links"] = unplaced
        return page

    def _page_id(self, raw: dict, title: str, line, source) -> str:
        if self.id_field is None:
            self.id_field = next((f for f in ID_FIELDS if raw.get(f) not in (None, "")), DERIVED)
        if self.id_field == DERIVED:
            return derived_id(title)
        value = raw.get(self.id_field)
        if value in (None, "") or isinstance(value, (dict, list, bool)):
            how = (f"the first page had '{self.id_field}'; every page needs it, or pass --id-field title "
                   "to derive ids from titles") if self.chosen_by_first_page else "pass --id-field title to derive ids from titles"
            raise BadInput(f"no page id in field '{self.id_field}' ({how})", line=line, source=source)
        return str(value)

    @staticmethod
    def _paragraphs(raw: dict, line, source) -> list[str]:
        field = next((f for f in TEXT_FIELDS if f in raw), None)
        if field is None:
            raise BadInput(f"no text: expected a field {' or '.join(map(repr, TEXT_FIELDS))}", line=line, source=source)
        value = raw[field]
        if isinstance(value, str):
            return [p + "\n" for p in value.splitlines() if p.strip()]
        if not isinstance(value, list):
            raise BadInput(f"field '{field}' must be a list of paragraphs or a string", line=line, source=source)
        out = []
        for item in value:
            if isinstance(item, dict):
                item = next((item[k] for k in ("text", "paragraph_text") if isinstance(item.get(k), str)), None)
            if not isinstance(item, str):
                raise BadInput(f"field '{field}' holds a paragraph that is not text", line=line, source=source)
            out.append(item)
        return out

    def _anchor(self, anchor, paragraphs, text, edits, shift_by, anchors, unplaced) -> None:
        if not isinstance(anchor, dict):
            self.counts["anchors_no_target"] += 1
            return
        href = anchor.get("href")
        if not isinstance(href, str) or not href.strip():
            self.counts["anchors_no_target"] += 1
            return
        pid = anchor.get("paragraph_id")
        if not isinstance(pid, int) or isinstance(pid, bool) or not 0 <= pid < len(paragraphs):
            self.counts["anchors_out_of_range"] += 1
            unplaced.append(href)
            return
        words = anchor.get("text") if isinstance(anchor.get("text"), str) else ""
        para = text[pid + shift_by]
        start, end = anchor.get("start"), anchor.get("end")
        if isinstance(start, int) and isinstance(end, int):
            start, end = shift(start, edits[pid]), shift(end, edits[pid])
        else:
            start = end = None
        if words and (start is None or para[start:end] != words):
            found = para.find(words)
            if found >= 0:
                self.counts["anchors_moved"] += 1
                start, end = found, found + len(words)
        out = {"text": words, "href": href, "paragraph_id": pid + shift_by, "start": start, "end": end}
        if anchor.get("inferred"):
            out["inferred"] = True
        anchors.append(out)
