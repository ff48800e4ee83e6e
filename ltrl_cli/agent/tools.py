"""The agent's four tools over an index, and the bookkeeping the distractor tiers rely on.

    search(query, k)  ranked page ids with titles and snippets
    open(id, page)    the page's text, in pages of at most `page_words` words
    cite(ids)         name pages that support the answer (only pages already opened)
    answer(text)      the final answer; ends the rollout

`seen` holds every id a search showed, `opened` every id read, `cited` every id cited.
Opening an id no search returned is refused unless `allow_open_any`, and citing an id
that was never opened is refused, so `cited` is a subset of `opened` and (without
`allow_open_any`) `opened` a subset of `seen`: `ltrl tier` depends on those inclusions.

A bad action (unknown tool, missing argument, refused id) returns an error observation,
never an exception: the model sees what went wrong and the rollout goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from ltrl_cli.backends.base import Hit, PageIndex, clip
from ltrl_cli.concurrency import on_loop_close
from ltrl_cli.lru import ABSENT, LRU

ACTIONS = ("search", "open", "cite", "answer")


@dataclass
class Action:
    """One parsed action. `error` is set when the model's output could not be understood."""

    name: str
    arguments: dict[str, Any] = field(default_factory=dict)
    call_id: str | None = None  # the tool-call id (tool-calling protocol)
    error: str | None = None


@dataclass
class Observation:
    """What an action returned: the text shown to the model and the ids it concerned."""

    text: str
    ids: list[str] = field(default_factory=list)
    error: str | None = None
    final: bool = False  # an accepted answer: the rollout ends


@dataclass(frozen=True)
class ToolConfig:
    search_k: int = 5  # results per search unless the model asks for another k
    max_search_k: int = 20
    page_words: int = 2000  # words per page of an opened document
    snippet_chars: int = 200
    allow_open_any: bool = False


class IndexService:
    """Async access to a synchronous index (Lucene or in memory).

    Searches issued while a batch is running are queued and run together as one
    `batch_search`, on one worker thread: the event loop never blocks on the index, Lucene
    gets batches (several times the single-query throughput), and the JVM is only ever
    touched from that one thread. Pages are cached, since rollouts of one question open
    the same pages again and again.
    """

    def __init__(self, index: PageIndex, *, max_batch: int = 64, page_cache: int = 4096):
        self.index = index
        self.max_batch = max_batch
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="ltrl-index")
        self._pending: list[tuple[str, int, asyncio.Future]] = []
        self._draining = False
        self._drainer: asyncio.Task | None = None
        self._watched: set[int] = set()  # loops told to stop the drainer when they close
        self._pages: LRU[str, dict | None] = LRU(page_cache)

    async def search(self, query: str, k: int) -> list[Hit]:
        future = asyncio.get_running_loop().create_future()
        self._pending.append((query, k, future))
        if not self._draining:
            self._draining = True
            loop = asyncio.get_running_loop()
            self._drainer = loop.create_task(self._drain())
            if id(loop) not in self._watched:  # a run cut short (`| head -1`) leaves no task behind
                self._watched.add(id(loop))
                on_loop_close(self._stop_draining)
        return await future

    async def _stop_draining(self) -> None:
        task = self._drainer
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._pending:
                batch, self._pending = self._pending[: self.max_batch], self._pending[self.max_batch :]
                queries, k = [q for q, _, _ in batch], max(k for _, k, _ in batch)
                try:
                    results = await loop.run_in_executor(self._executor, self.index.batch_search, queries, k)
                except Exception as exc:  # the index failed: every waiter hears about it
                    for _, _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                for (_, want, future), hits in zip(batch, results):
                    if not future.done():
                        future.set_result(list(hits)[:want])
        finally:
            self._draining = False

    async def page(self, page_id: str) -> dict | None:
        """The page's KILT record, or None when the index has no such id."""
        cached = self._pages.get(page_id, ABSENT)
        if cached is not ABSENT:
            return cached
        page = await asyncio.get_running_loop().run_in_executor(self._executor, self._fetch, page_id)
        self._pages[page_id] = page
        return page

    def _fetch(self, page_id: str) -> dict | None:
        try:
            return self.index.page(page_id)
        except KeyError:
            return None

    def close(self) -> None:
        self._executor.shutdown(wait=False)


def paginate(paragraphs: list[str], page_words: int) -> list[str]:
    """Group paragraphs into pages of at most `page_words` words (long paragraphs are cut).

    >>> paginate(["a b c", "d e", "f"], 4)
    ['a b c', 'd e\\n\\nf']
    >>> paginate(["a b c d e"], 2)
    ['a b', 'c d', 'e']
    """
    pages: list[str] = []
    current: list[str] = []
    size = 0
    for paragraph in paragraphs:
        words = paragraph.split()
        pieces = [" ".join(words[i : i + page_words]) for i in range(0, len(words), page_words)]
        for piece in pieces:
            n = len(piece.split())
            if current and size + n > page_words:
                pages.append("\n\n".join(current))
                current, size = [], 0
            current.append(piece)
            size += n
    if current:
        pages.append("\n\n".join(current))
    return pages or [""]


def snippet(hit: Hit, chars: int) -> str:
    """A hit's snippet as the agent is shown it: white space collapsed, clipped to `chars`."""
    return clip(" ".join(hit.snippet.split()), chars)


def parse_ids(value: Any) -> list[str]:
    """Ids from a list or a comma/space separated string; quotes and brackets are dropped.

    >>> parse_ids('12, "7" [3]')
    ['12', '7', '3']
    >>> parse_ids([12, "x"])
    ['12', 'x']
    """
    if isinstance(value, (list, tuple)):
        items = [str(v) for v in value]
    else:
        items = str(value or "").replace(",", " ").split()
    cleaned = [item.strip().strip("\"'[]()") for item in items]
    return [item for item in cleaned if item]


class AgentTools:
    """The tools of one rollout, with its `seen` / `opened` / `cited` bookkeeping."""

    def __init__(self, service: IndexService, config: ToolConfig = ToolConfig()):
        self.service = service
        self.config = config
        self.seen: list[str] = []
        self.opened: list[str] = []
        self.cited: list[str] = []
        self.answer_text: str | None = None

    async def call(self, action: Action) -> Observation:
        """Run one action; malformed or refused actions come back as error observations."""
        if action.error:
            return _error(action.error)
        if action.name not in ACTIONS:
            return _error(f"unknown action {action.name!r}; the actions are: {', '.join(ACTIONS)}")
        try:
            return await getattr(self, f"_{action.name}")(action.arguments or {})
        except _Refused as exc:
            return _error(str(exc))

    async def _search(self, args: dict) -> Observation:
        query = _text_arg(args, "query")
        k = _int_arg(args, "k", self.config.search_k, low=1, high=self.config.max_search_k)
        hits = await self.service.search(query, k)
        _extend_unique(self.seen, [h.id for h in hits])
        if not hits:
            return Observation(f'search "{query}": no results. Try other words.', [])
        lines = [f'search "{query}": {len(hits)} results']
        for hit in hits:
            lines.append(f"[id: {hit.id}] {hit.title}\n  {snippet(hit, self.config.snippet_chars)}")
        return Observation("\n".join(lines), [h.id for h in hits])

    async def _open(self, args: dict) -> Observation:
        page_id = _id_arg(args)
        number = _int_arg(args, "page", 1, low=1)
        if page_id not in self.seen and not self.config.allow_open_any:
            raise _Refused(f"cannot open {page_id!r}: only ids shown by a search can be opened")
        record = await self.service.page(page_id)
        if record is None:
            raise _Refused(f"no page with id {page_id!r}")
        pages = paginate([p for p in (record.get("text") or [])[1:] if p.strip()], self.config.page_words)
        if number > len(pages):
            raise _Refused(f"{page_id!r} has {len(pages)} page(s); page {number} does not exist")
        _extend_unique(self.opened, [page_id])
        head = f"[id: {page_id}] {record.get('wikipedia_title', '')} (page {number} of {len(pages)})"
        more = ""
        if number < len(pages):
            more = f"\n(page {number + 1} of {len(pages)} follows: open it with page={number + 1})"
        return Observation(f"{head}\n{pages[number - 1]}{more}", [page_id])

    async def _cite(self, args: dict) -> Observation:
        ids = parse_ids(args.get("ids", args.get("id")))
        if not ids:
            raise _Refused("cite needs ids: the ids of opened pages that support the answer")
        accepted = [i for i in ids if i in self.opened]
        refused = [i for i in ids if i not in self.opened]
        if not accepted:
            raise _Refused(f"cannot cite {', '.join(refused)}: only opened pages can be cited")
        _extend_unique(self.cited, accepted)
        text = f"cited: {', '.join(accepted)}"
        if refused:
            text += f" (refused, never opened: {', '.join(refused)})"
        return Observation(text, accepted)

    async def _answer(self, args: dict) -> Observation:
        text = _text_arg(args, "text", aliases=("answer",))
        self.answer_text = text
        return Observation("answer recorded", [], final=True)


class _Refused(Exception):
    """An action the tools will not run; its message becomes the error observation."""


def _error(message: str) -> Observation:
    return Observation(f"error: {message}", [], error=message)


def _text_arg(args: dict, key: str, aliases: tuple[str, ...] = ()) -> str:
    for name in (key, *aliases):
        value = args.get(name)
        if isinstance(value, (str, int, float)) and str(value).strip():
            return str(value).strip()
    raise _Refused(f"missing argument {key!r} (a non-empty string)")


def _id_arg(args: dict) -> str:
    ids = parse_ids(args.get("id"))
    if len(ids) != 1:
        raise _Refused("open needs exactly one id, for example open(id=\"12\")")
    return ids[0]


def _int_arg(args: dict, key: str, default: int, *, low: int, high: int | None = None) -> int:
    value = args.get(key)
    if value in (None, ""):
        return default
    try:
        number = int(str(value).strip())
    except ValueError:
        raise _Refused(f"argument {key!r} must be a whole number, got {value!r}") from None
    if number < low:
        raise _Refused(f"argument {key!r} must be at least {low}, got {number}")
    return min(number, high) if high is not None else number


def _extend_unique(items: list[str], new: list[str]) -> None:
    for item in new:
        if item not in items:
            items.append(item)
