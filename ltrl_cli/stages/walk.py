"""Controlled random walks over the link graph (method stage 1).

Walks are taken many at a time with numpy: a batch of walkers holds its paths in one
`[walkers, hops + 1]` array, and each step draws a random out-link for every walker at
once, straight from the CSR arrays. A draw that lands on a filtered page (a hub, a list,
a disambiguation or date page, a page with too few links) or on a page already in that
walker's path is redrawn, up to `tries` times; a walker that cannot move is dropped.
That keeps per-step Python out of the loop: on one core it takes hundreds of thousands of
8-hop walks a second (bench/bench_walk.py).

A redraw makes the choice among a page's acceptable links uniform, whatever share of its
links the filters remove.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator

import numpy as np

from ltrl_cli.backends.graph import DATE, DISAMBIGUATION, LIST, Graph
from ltrl_cli.errors import BadInput
from ltrl_cli.io import chunked
from ltrl_cli.stats import Stats

BATCH = 32768  # walkers per batch; fixed, so `-n 10` is a prefix of `-n 1000` for one seed
STALL_BATCHES = 20  # random starts: give up after this many batches that add no new path


@dataclass(frozen=True)
class WalkFilters:
    """Which pages a walk may visit.

    Attributes:
        max_in_degree: pages linked from more pages than this are hubs (countries, years)
            and are skipped; None picks the graph's 99th-percentile in-degree.
        min_out_degree: pages with fewer links than this are skipped (stubs, dead ends).
        skip_lists, skip_disambiguation, skip_dates: skip pages whose titles are lists
            ("List of ..."), disambiguation pages, or dates ("1879", "14 March", "1990s").
    """

    max_in_degree: int | None = None
    min_out_degree: int = 3
    skip_lists: bool = True
    skip_disambiguation: bool = True
    skip_dates: bool = True

    def allowed(self, graph: Graph) -> tuple[np.ndarray, int]:
        """A boolean mask of the nodes a walk may visit, and the hub threshold used."""
        in_degree = np.asarray(graph.in_degree)
        limit = self.max_in_degree
        if limit is None:
            limit = int(np.percentile(in_degree, 99)) if len(in_degree) else 0
        mask = (in_degree <= limit) & (np.asarray(graph.out_degree) >= self.min_out_degree)
        skip = (LIST if self.skip_lists else 0) | (DISAMBIGUATION if self.skip_disambiguation else 0) | (
            DATE if self.skip_dates else 0)
        if skip:
            mask &= (np.asarray(graph.flags) & skip) == 0
        return mask, limit


def step_walks(indptr: np.ndarray, indices: np.ndarray, allowed: np.ndarray, starts: np.ndarray,
               hops: int, rng: np.random.Generator, tries: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Walk `hops` links from each start at once.

    Args:
        indptr, indices: the CSR graph (node u links to indices[indptr[u]:indptr[u+1]]).
        allowed: bool per node: may a walk enter it.
        starts: start node of each walker.
        tries: draws per walker per step before it is dropped.

    Returns:
        paths: int32 `[len(starts), hops + 1]`; only rows with `ok` are walks.
        ok: bool per walker: it completed every hop.

    >>> indptr = np.array([0, 1, 2, 3]); indices = np.array([1, 2, 0])  # a 3-cycle
    >>> paths, ok = step_walks(indptr, indices, np.ones(3, bool), np.array([0]), 2, np.random.default_rng(0))
    >>> paths.tolist(), ok.tolist()
    ([[0, 1, 2]], [True])
    """
    m = len(starts)
    rows = np.arange(m)  # which walker each row of `live` is
    live = np.empty((m, hops + 1), dtype=np.int32, order="F")  # [live walkers, hops + 1]; columns contiguous
    live[:, 0] = starts
    for h in range(1, hops + 1):
        cur = live[:, h - 1]
        lo = np.take(indptr, cur).astype(np.int64, copy=False)
        deg = np.take(indptr, cur + 1) - lo
        nxt = _draw(indices, allowed, live, lo, deg, h, rng, tries)
        moved = nxt >= 0
        if not moved.all():
            live, rows, nxt = live[moved], rows[moved], nxt[moved]
        live[:, h] = nxt
    paths = np.full((m, hops + 1), -1, dtype=np.int32)
    paths[rows] = live
    ok = np.zeros(m, dtype=bool)
    ok[rows] = True
    return paths, ok


def _draw(indices, allowed, live, lo, deg, h, rng, tries) -> np.ndarray:
    """One step for every live walker: an acceptable, unvisited neighbour each, or -1.

    The first draw is made for all walkers on whole columns (no gathers); the few that
    land on a filtered or visited page redraw, up to `tries` draws in all.
    """
    nxt = np.full(len(lo), -1, dtype=np.int64)
    if (deg > 0).all():
        cand, good = _try(indices, allowed, live, lo, deg, h, rng)
        nxt[good] = cand[good]
        todo = np.flatnonzero(~good)
        tries -= 1
    else:
        todo = np.flatnonzero(deg > 0)
    for _ in range(tries):
        if not len(todo):
            break
        cand, good = _try(indices, allowed, live[todo], lo[todo], deg[todo], h, rng)
        nxt[todo[good]] = cand[good]
        todo = todo[~good]
    return nxt


def _try(indices, allowed, earlier, lo, deg, h, rng) -> tuple[np.ndarray, np.ndarray]:
    """A uniform random out-link per row, and whether the walk may take it."""
    cand = np.take(indices, lo + (rng.random(len(lo)) * deg).astype(np.int64))
    good = np.take(allowed, cand)
    for j in range(h):  # no revisits; column by column beats a 2-D compare and reduce
        good &= earlier[:, j] != cand
    return cand, good


def random_paths(graph: Graph, allowed: np.ndarray, n: int, hops: int, seed: int,
                 tries: int = 8) -> Iterator[np.ndarray]:
    """Batches (`[k, hops + 1]` node arrays) of distinct paths from random allowed starts.

    n paths in all, fewer when the graph cannot supply that many distinct ones.
    """
    rng = np.random.default_rng(seed)
    allowed = np.ascontiguousarray(allowed, dtype=bool)
    pool = np.flatnonzero(allowed)
    if not len(pool):
        return
    seen: set[int] = set()
    emitted = stalled = 0
    while emitted < n and stalled < STALL_BATCHES:
        starts = pool[rng.integers(0, len(pool), BATCH)]
        paths, ok = step_walks(graph.indptr, graph.indices, allowed, starts, hops, rng, tries)
        paths = paths[ok]
        fresh = paths[_fresh(path_hashes(paths), seen)][:n - emitted]
        stalled = 0 if len(fresh) else stalled + 1
        if len(fresh):
            emitted += len(fresh)
            yield fresh


def _fresh(keys: np.ndarray, seen: set[int]) -> list[int] | slice:
    """Rows whose key was not seen before (now recorded), in order."""
    keys_list = keys.tolist()
    batch = set(keys_list)
    if len(batch) == len(keys_list) and seen.isdisjoint(batch):  # the usual case, at C speed
        seen |= batch
        return slice(0, len(keys_list))
    add = seen.add
    return [row for row, key in enumerate(keys_list) if key not in seen and not add(key)]


_MIX = np.random.default_rng(20260522).integers(1, 2**63, 64, dtype=np.uint64) | np.uint64(1)


def path_hashes(paths: np.ndarray) -> np.ndarray:
    """A 64-bit key per path row (equal paths, equal keys), for dropping repeats quickly.

    A collision between two different paths would drop one of them, never keep a repeat;
    at 2^-64 per pair it does not happen at any size ltrl walks.

    >>> p = np.array([[1, 2, 3], [3, 2, 1], [1, 2, 3]], dtype=np.int32)
    >>> h = path_hashes(p); bool(h[0] == h[2]), bool(h[0] == h[1])
    (True, False)
    """
    h = np.zeros(len(paths), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for j in range(paths.shape[1]):
            h = (h ^ paths[:, j].astype(np.uint64)) * _MIX[j % len(_MIX)]
            h ^= h >> np.uint64(29)
    return h


def start_paths(graph: Graph, allowed: np.ndarray, starts: list[int], per_start: int, hops: int,
                rng: np.random.Generator, tries: int = 8, attempts: int = 16) -> list[list[np.ndarray]]:
    """Up to `per_start` distinct paths from each given start node (the start itself unfiltered)."""
    if not starts:
        return []
    copies = per_start * attempts
    nodes = np.repeat(np.asarray(starts, dtype=np.int64), copies)
    paths, ok = step_walks(graph.indptr, graph.indices, allowed, nodes, hops, rng, tries)
    found: list[list[np.ndarray]] = []
    for i in range(len(starts)):
        rows, keys = [], set()
        for row in paths[i * copies:(i + 1) * copies][ok[i * copies:(i + 1) * copies]]:
            if row.tobytes() not in keys and len(rows) < per_start:
                keys.add(row.tobytes())
                rows.append(row)
        found.append(rows)
    return found


# ---------------------------------------------------------------- records


def walk_id(page_ids: list[str]) -> str:
    """A stable id for a path: the same pages in the same order give the same id.

    >>> walk_id(["1", "2"]) == walk_id(["1", "2"]) != walk_id(["2", "1"])
    True
    """
    return "walk-" + hashlib.blake2b("\x1f".join(page_ids).encode(), digest_size=8).hexdigest()


def path_records(index, rows: np.ndarray, *, seed: int, hops: int, evidence: bool,
                 slice_rows: int = 64) -> Iterator[dict]:
    """The output records of a batch of paths: ids, titles, and each hop's anchor evidence.

    Titles are looked up a slice of rows at a time (one numpy lookup per slice), and
    records are yielded as they are made, so the first walk leaves before the batch's last.
    """
    width = rows.shape[1]
    for at in range(0, len(rows), slice_rows):
        part = rows[at:at + slice_rows]
        ids, titles = index.graph.page_ids(part.ravel()), index.graph.titles(part.ravel())
        for r in range(len(part)):
            path_ids = ids[r * width:(r + 1) * width]
            path = [{"id": i, "title": t} for i, t in zip(path_ids, titles[r * width:(r + 1) * width])]
            if evidence:
                _add_anchors(index, path)
            yield {"id": walk_id(path_ids), "path": path, "walk": {"seed": seed, "hops": hops, "start": path_ids[0]}}


def _add_anchors(index, path: list[dict]) -> None:
    for prev, hop in zip(path, path[1:]):
        anchor = index.anchor_evidence(prev["id"], hop["id"])
        if anchor is not None:
            hop["anchor"] = anchor


def walk(starts: Iterable[dict] | None, *, index, n: int = 100, hops: int = 8, seed: int = 0,
         filters: WalkFilters = WalkFilters(), per_start: int = 1, evidence: bool = True,
         tries: int = 8, stats: Stats | None = None,
         on_bad: Callable[[BadInput], None] | None = None) -> Iterator[dict]:
    """Yield walk records (`id`, `path`, `walk`).

    Args:
        starts: None for n walks from random start pages; or start records with `id` or
            `title`, each giving up to `per_start` walks and passing its other keys on.
        index: an `Index` (its `.graph` is walked; its pages give anchor evidence).
        filters: which pages the walk may enter.
        evidence: add each hop's anchor (text and paragraph) where the link has one.
        stats: counts `starts without a walk` (starts from which no walk could be completed).
        on_bad: called with the BadInput of a start record that names no page; without
            it, such a record raises.
    """
    stats = stats if stats is not None else Stats()
    allowed, _ = filters.allowed(index.graph)
    make = lambda rows: path_records(index, rows, seed=seed, hops=hops, evidence=evidence)  # noqa: E731
    if starts is None:
        for rows in random_paths(index.graph, allowed, n, hops, seed, tries):
            yield from make(rows)
        return
    rng = np.random.default_rng(seed)
    for chunk in chunked(_resolve_starts(starts, index.graph, on_bad), 256):
        nodes = [node for _, node in chunk]
        for (record, _), rows in zip(chunk, start_paths(index.graph, allowed, nodes, per_start, hops, rng, tries)):
            if not rows:
                stats.update("starts without a walk")
            extra = {k: v for k, v in record.items() if k not in ("id", "title", "walk", "path")}
            for record in make(np.asarray(rows)) if rows else ():
                yield {**extra, **record}


def _resolve_starts(starts: Iterable[dict], graph: Graph, on_bad) -> Iterator[tuple[dict, int]]:
    # Resolved as each record arrives, so an error is raised while the reader is still on
    # that record's line (the command adds the line number).
    for record in starts:
        try:
            yield record, _start_node(graph, record)
        except BadInput as exc:
            if on_bad is None:
                raise
            on_bad(exc)


def _start_node(graph: Graph, record: dict) -> int:
    if record.get("id") is not None:
        node = graph.node_for_id(str(record["id"]))
        if node is None:
            raise BadInput(f"no page with id {record['id']!r} in the index")
        return node
    if isinstance(record.get("title"), str):
        node = graph.node_for_title(record["title"])
        if node is None:
            raise BadInput(f"no page titled {record['title']!r} in the index")
        return node
    raise BadInput("a start record needs a 'title' or an 'id'")


# ---------------------------------------------------------------- when no walk is found


def why_no_walk(graph: Graph, filters: WalkFilters, hops: int, seed: int = 0) -> str:
    """Why no walk of `hops` links was found, and the nearest settings that find one.

    Tried in order: the graph has no links at all; the filters leave no page to start
    from; a shorter walk, or a lower --min-out-degree, would succeed.
    """
    n, edges = len(graph), int(graph.indptr[-1]) if len(graph) else 0
    if edges == 0:
        return (f"the index has no links ({n:,} pages, 0 links): nothing to walk; rebuild it with "
                "`ltrl index FILE -o DIR --force --link-mentions` to infer links from title mentions")
    allowed, limit = filters.allowed(graph)
    out_degree = np.asarray(graph.out_degree)
    if not allowed.any():
        best = int(out_degree.max())
        return (f"no page passes the filters (--min-out-degree {filters.min_out_degree}, hubs above in-degree "
                f"{limit}, lists/disambiguation/dates skipped): the most links a page has is {best}; "
                f"try --min-out-degree {min(best, filters.min_out_degree)}" + _lower_hint(graph, filters, hops, seed))
    for shorter in range(hops - 1, 0, -1):
        if _any_walk(graph, allowed, shorter, seed):
            return (f"no path of {hops} links passes the filters from any of the {int(allowed.sum()):,} allowed "
                    f"pages; --hops {shorter} finds walks" + _lower_hint(graph, filters, hops, seed))
    return ("no page has an allowed neighbour (--min-out-degree "
            f"{filters.min_out_degree}, hubs above in-degree {limit})" + _lower_hint(graph, filters, hops, seed))


def _any_walk(graph: Graph, allowed: np.ndarray, hops: int, seed: int) -> bool:
    return any(len(rows) for rows in random_paths(graph, allowed, 1, hops, seed))


def _lower_hint(graph: Graph, filters: WalkFilters, hops: int, seed: int) -> str:
    """'; --min-out-degree K finds walks of H links' for the largest K below the current one, if any."""
    for k in range(filters.min_out_degree - 1, -1, -1):
        loose = WalkFilters(filters.max_in_degree, k, filters.skip_lists, filters.skip_disambiguation,
                            filters.skip_dates)
        allowed, _ = loose.allowed(graph)
        if allowed.any() and _any_walk(graph, allowed, hops, seed):
            return f"; --min-out-degree {k} finds walks of {hops} links"
    relaxed = WalkFilters(max_in_degree=len(graph), min_out_degree=0, skip_lists=False,
                          skip_disambiguation=False, skip_dates=False)
    allowed, _ = relaxed.allowed(graph)
    if _any_walk(graph, allowed, hops, seed):
        return (f"; walks of {hops} links exist only with every filter off (--min-out-degree 0 --max-in-degree "
                f"{len(graph)} --allow-lists --allow-disambiguation --allow-dates)")
    return f"; the graph has no path of {hops} links without a repeated page, whatever the filters"
