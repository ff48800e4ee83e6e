"""What `ltrl report` reads: any stage's records, gathered per question id, streamed.

Records are told apart by what they hold, not by which file they came from:
- a stats object (`ltrl stats`): `by_strategy`, or `tiers` and `records` without an `id`;
- a training record (`ltrl assemble`): `input_messages` and `metadata.docs`;
- a pipeline record (walk, synth, search-agent, tier): an `id` with `path`, `question`,
  `rollouts` or `tiers`;
- anything an extra section claims (`ltrl_cli.report.sections`).
Pipeline records of one id are merged (a later record's keys win), so `walks.jsonl` and
`tiered.jsonl` together read like one record; training records are kept per strategy.

Inputs may be many GB (a 128K-token training record is about 700 KB of prompt), so
nothing is held whole: each record is cut down to what the page shows as it is read and
put in a temporary SQLite file keyed by id (the inputs are separate files, matched by id,
in any order). A training record leaves its documents' metadata and, once per distinct
text, the text the model saw (compressed). `Store.questions()` then gives one merged
question at a time, in id order.
"""

from __future__ import annotations

import hashlib
import sqlite3
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

import orjson

from ltrl_cli.errors import BadInput

PIPELINE_KEYS = ("path", "question", "rollouts", "tiers")
ANCHOR_CONTEXT = 150  # characters kept either side of a hop's anchor text
REASONING_CHARS = 2000  # of a step's thinking, kept for the page
DOCS_PER_SHARD = 64  # document texts per file the page loads on demand


@dataclass
class Question:
    """One question's merged pipeline keys and its contexts ({strategy: compact context})."""

    id: str
    record: dict = field(default_factory=dict)
    contexts: dict[str, dict] = field(default_factory=dict)

    @property
    def text(self) -> str:
        first = next(iter(self.contexts.values()), {})
        return str(self.record.get("question") or first.get("question") or "")

    @property
    def answer(self) -> str:
        if "answer" in self.record:
            return str(self.record["answer"])
        return str(next(iter(self.contexts.values()), {}).get("label", ""))


def kind_of(record: dict) -> str | None:
    if "by_strategy" in record or ("tiers" in record and "records" in record and "id" not in record):
        return "stats"
    if "id" not in record:
        return None
    if "input_messages" in record and isinstance(record.get("metadata"), dict) and "docs" in record["metadata"]:
        return "training"
    if any(key in record for key in PIPELINE_KEYS):
        return "pipeline"
    return None


def check_pipeline(record: dict, where: str) -> None:
    """The shapes the page relies on; anything else is refused here, not half drawn."""
    expected = {"path": list, "rollouts": list, "tiers": dict}
    for key, kind in expected.items():
        if key in record and not isinstance(record[key], kind):
            raise BadInput(f"{where}: '{key}' must be a {'list' if kind is list else 'object'}")
    for i, rollout in enumerate(record.get("rollouts") or []):
        if not isinstance(rollout, dict) or not isinstance(rollout.get("steps", []), list):
            raise BadInput(f"{where}: rollouts[{i}] is not a rollout (an object with a 'steps' list)")


class Store:
    """The temporary SQLite file the records are cut down into (see the module's doc)."""

    def __init__(self, path: Path) -> None:
        self.db = sqlite3.connect(path)
        self.db.executescript(
            # a scratch file: no journal, no syncs; a fixed 16 MB page cache, which also caps the
            # memory of the sort by id (it spills to temporary files beyond that)
            "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA cache_size=-16384;"
            "CREATE TABLE parts(seq INTEGER PRIMARY KEY, qid TEXT, kind TEXT, body BLOB);"
            "CREATE TABLE docs(key INTEGER PRIMARY KEY, digest BLOB UNIQUE, page TEXT, body BLOB);"
            "CREATE TABLE titles(page TEXT PRIMARY KEY, title TEXT); CREATE INDEX docs_page ON docs(page);")
        self.stats: list[dict] = []

    def add(self, record: dict, where: str) -> str:
        """Fold one record in (its kind is returned); BadInput naming `where` for one that
        ltrl does not write."""
        kind = kind_of(record)
        if kind is None:
            raise BadInput(f"{where}: not a record ltrl writes (expected an 'id' with one of "
                           f"{', '.join(PIPELINE_KEYS)} or input_messages, or a stats object)")
        if kind == "stats":
            self.stats.append(record)
        elif kind == "training":
            self._put(str(record["id"]), "context", self._context(record, where))
        else:
            check_pipeline(record, where)
            self._put(str(record["id"]), "pipeline", compact_pipeline(record))
            self._titles((h.get("id"), h.get("title")) for h in record.get("path") or [] if isinstance(h, dict))
        return kind

    def _put(self, qid: str, kind: str, body: dict) -> None:
        self.db.execute("INSERT INTO parts(qid, kind, body) VALUES (?, ?, ?)",
                        (qid, kind, zlib.compress(orjson.dumps(body), 1)))

    def _titles(self, pairs: Iterable[tuple]) -> None:
        self.db.executemany("INSERT OR IGNORE INTO titles VALUES (?, ?)",
                            [(str(page), str(title)) for page, title in pairs if page is not None and title])

    def _context(self, record: dict, where: str) -> dict:
        """A training record cut down to its documents' metadata, each with the key of
        its text in the docs table; the prompt itself is not kept."""
        meta = record["metadata"]
        docs = meta["docs"]
        if not isinstance(docs, list) or not all(isinstance(d, dict) for d in docs):
            raise BadInput(f"{where}: metadata.docs must be a list of objects")
        content = _user_text(record)
        keys = self._texts([(str(d.get("id", "")), _page_text(content, d)) for d in docs])
        self._titles((d.get("id"), d.get("title")) for d in docs)
        rows = [[str(d.get("id", "")), str(d.get("tier", "unknown")), int(d.get("tokens") or 0),
                 1 if d.get("truncated") else 0, key] for d, key in zip(docs, keys)]
        return {"strategy": str(meta.get("strategy", "unknown")), "tokens": meta.get("tokens"),
                "target_tokens": meta.get("target_tokens"), "question": meta.get("question"),
                "label": record.get("label"), "rubrics": meta.get("rubrics"), "docs": rows}

    def _texts(self, docs: list[tuple[str, str | None]]) -> list[int | None]:
        """The key of each (page, text) in the docs table, adding the texts not there yet:
        a page's text is stored once however many contexts hold it."""
        digests = [hashlib.blake2b(f"{page}\0{text}".encode(), digest_size=16).digest() if text is not None else None
                   for page, text in docs]
        known = self._keys([d for d in digests if d is not None])
        fresh = {d: (page, text) for d, (page, text) in zip(digests, docs) if d is not None and d not in known}
        self.db.executemany("INSERT INTO docs(digest, page, body) VALUES (?, ?, ?)",
                            [(d, page, zlib.compress(text.encode(), 1)) for d, (page, text) in fresh.items()])
        if fresh:
            known.update(self._keys(list(fresh)))
        return [known.get(d) if d is not None else None for d in digests]

    def _keys(self, digests: list[bytes]) -> dict[bytes, int]:
        found: dict[bytes, int] = {}
        for start in range(0, len(digests), 500):  # SQLite caps the parameters of one statement
            chunk = digests[start:start + 500]
            marks = ",".join("?" * len(chunk))
            found.update(self.db.execute(f"SELECT digest, key FROM docs WHERE digest IN ({marks})", chunk))
        return found

    def page_text_key(self, page: str, text_of) -> int | None:
        """The key of a text of `page`: one already stored (from a context), else
        `text_of(page)` stored now; None when that has none either."""
        row = self.db.execute("SELECT key FROM docs WHERE page = ? LIMIT 1", (page,)).fetchone()
        if row:
            return row[0]
        text = text_of(page)
        return None if text is None else self._texts([(page, text)])[0]

    def count(self) -> int:
        return self.db.execute("SELECT COUNT(DISTINCT qid) FROM parts").fetchone()[0]

    def questions(self) -> Iterator[Question]:
        """Each question, merged, in id order; one at a time in memory."""
        current: Question | None = None
        for qid, kind, body in self.db.execute("SELECT qid, kind, body FROM parts ORDER BY qid, seq"):
            if current is None or current.id != qid:
                if current is not None:
                    yield current
                current = Question(qid)
            part = orjson.loads(zlib.decompress(body))
            if kind == "context":
                current.contexts[part["strategy"]] = part
            else:
                current.record.update(part)
        if current is not None:
            yield current

    def titles(self, pages: Iterable[str]) -> dict[str, str]:
        pages = list(dict.fromkeys(pages))
        found: dict[str, str] = {}
        for start in range(0, len(pages), 500):
            chunk = pages[start:start + 500]
            marks = ",".join("?" * len(chunk))
            found.update(self.db.execute(f"SELECT page, title FROM titles WHERE page IN ({marks})", chunk))
        return found

    def doc_shards(self) -> Iterator[tuple[int, dict[int, str]]]:
        """(shard number, {key: text}) over every stored text; a text's shard is
        key // DOCS_PER_SHARD, which is how the page finds it."""
        shard, texts = None, {}
        for key, body in self.db.execute("SELECT key, body FROM docs ORDER BY key"):
            if shard is not None and key // DOCS_PER_SHARD != shard:
                yield shard, texts
                texts = {}
            shard = key // DOCS_PER_SHARD
            texts[key] = zlib.decompress(body).decode()
        if texts:
            yield shard, texts

    def close(self) -> None:
        self.db.close()


def _user_text(record: dict) -> str:
    messages = record.get("input_messages")
    if isinstance(messages, list) and messages and isinstance(messages[0], dict):
        return str(messages[0].get("content") or "")
    return ""


def _page_text(content: str, doc: dict) -> str | None:
    """A document's text as the prompt holds it, without its header line when that line
    names the title ("Document 12: Title"): the header's number is the document's place
    in this prompt, and without it one page's text is stored once for every prompt."""
    span = doc.get("span")
    if not (isinstance(span, list) and len(span) == 2 and all(isinstance(x, int) for x in span)):
        return None
    block = content[span[0]:span[1]]
    first, _, rest = block.partition("\n")
    title = str(doc.get("title") or "")
    return rest if title and title in first and rest else block


def compact_pipeline(record: dict) -> dict:
    """A pipeline record with what the page shows: the anchor paragraphs cut around the
    anchor, a step's thinking cut, everything else as it is (it is small)."""
    out = {k: v for k, v in record.items() if k not in ("path", "rollouts")}
    if isinstance(record.get("path"), list):
        out["path"] = [_hop(h) for h in record["path"]]
    if isinstance(record.get("rollouts"), list):
        out["rollouts"] = [_rollout(r) for r in record["rollouts"]]
    return out


def _hop(hop: object) -> dict:
    if not isinstance(hop, dict):
        return {}
    anchor = hop.get("anchor") if isinstance(hop.get("anchor"), dict) else None
    out = {"id": str(hop.get("id", "")), "title": str(hop.get("title", ""))}
    if anchor:
        out["anchor"] = _around(str(anchor.get("paragraph") or ""), str(anchor.get("text") or ""))
    return out


def _around(paragraph: str, anchor: str) -> list[str]:
    """[before, anchor, after] with ANCHOR_CONTEXT characters either side of the anchor
    ("…" where cut); [paragraph start, "", ""] when the anchor is not in it."""
    start = paragraph.find(anchor) if anchor else -1
    if start < 0:
        return [paragraph[:300] + ("…" if len(paragraph) > 300 else ""), "", ""]
    lo, hi = max(0, start - ANCHOR_CONTEXT), min(len(paragraph), start + len(anchor) + ANCHOR_CONTEXT)
    return [("…" if lo else "") + paragraph[lo:start], anchor,
            paragraph[start + len(anchor):hi] + ("…" if hi < len(paragraph) else "")]


def _rollout(rollout: dict) -> dict:
    steps = []
    for step in rollout.get("steps") or []:
        if not isinstance(step, dict):
            continue
        step = dict(step)
        if isinstance(step.get("reasoning"), str) and len(step["reasoning"]) > REASONING_CHARS:
            step["reasoning"] = step["reasoning"][:REASONING_CHARS] + "…"
        steps.append(step)
    return {**rollout, "steps": steps}
