"""Benchmark: `ltrl walk`'s vectorised walker against a plain networkx walker.

Builds a synthetic link graph with numpy (power-law in-degrees, Poisson out-degrees: the
shape of Wikipedia's), saves it as the .npy CSR files an index holds, then measures in
fresh child processes (so each peak RSS is its own):

1. the numpy walker (`ltrl_cli.stages.walk.random_paths`, the code `ltrl walk` runs) on
   the KILT-scale graph, memory-mapped: valid distinct 8-hop walks per second, peak RSS;
2. the same walker and a plain networkx walker (same rules: filters, no revisits, redraws)
   on a smaller graph that networkx can hold: walks per second of each, and the ratio.

Run by hand (not in the tests):
    .venv/bin/python bench/bench_walk.py                       # 6M nodes, ~100M edges
    .venv/bin/python bench/bench_walk.py --nodes 1000000 --walks 200000   # a quicker run
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def build_graph(out: Path, nodes: int, mean_degree: float, seed: int, chunk: int = 1 << 22) -> int:
    """Write indptr/indices/in_degree .npy files of a random power-law graph; return the edge count."""
    rng = np.random.default_rng(seed)
    degree = rng.poisson(mean_degree, nodes).astype(np.int64)
    indptr = np.zeros(nodes + 1, dtype=np.int64)
    np.cumsum(degree, out=indptr[1:])
    edges = int(indptr[-1])
    perm = rng.permutation(nodes).astype(np.int32)  # scatter the popular pages over the id range
    indices = np.lib.format.open_memmap(out / "indices.npy", mode="w+", dtype=np.int32, shape=(edges,))
    in_degree = np.zeros(nodes, dtype=np.int64)
    for at in range(0, edges, chunk):
        n = min(chunk, edges - at)
        rank = (nodes * rng.random(n) ** 2.5).astype(np.int64)  # few pages get most links
        targets = perm[rank]
        indices[at:at + n] = targets
        in_degree += np.bincount(targets, minlength=nodes)
    indices.flush()
    del indices
    np.save(out / "indptr.npy", indptr)
    np.save(out / "in_degree.npy", in_degree)
    return edges


class CSR:
    """The two arrays of `Graph` that the walker reads, memory-mapped like an index's."""

    def __init__(self, path: Path):
        self.indptr = np.load(path / "indptr.npy", mmap_mode="r").view(np.ndarray)
        self.indices = np.load(path / "indices.npy", mmap_mode="r").view(np.ndarray)
        self.in_degree = np.load(path / "in_degree.npy", mmap_mode="r").view(np.ndarray)


def allowed_mask(g: CSR) -> np.ndarray:
    """ltrl walk's default degree filters (the title filters need titles, which this graph lacks)."""
    return (g.in_degree <= np.percentile(g.in_degree, 99)) & (np.diff(g.indptr) >= 3)


def child_numpy(path: Path, walks: int, hops: int) -> dict:
    from ltrl_cli.stages.walk import random_paths

    g = CSR(path)
    started = time.perf_counter()
    allowed = allowed_mask(g)
    setup = time.perf_counter() - started
    started = time.perf_counter()
    got = sum(len(batch) for batch in random_paths(g, allowed, walks, hops, seed=1))
    seconds = time.perf_counter() - started
    return {"walks": got, "seconds": seconds, "setup_seconds": setup, "walks_per_s": got / seconds,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def child_networkx(path: Path, walks: int, hops: int) -> dict:
    g = CSR(path)
    graph, ok_nodes = networkx_graph(g, allowed_mask(g))
    started = time.perf_counter()
    got = nx_walks(graph, ok_nodes, walks, hops, random.Random(1))
    seconds = time.perf_counter() - started
    return {"walks": got, "seconds": seconds, "walks_per_s": got / seconds,
            "edges_in_networkx": graph.number_of_edges(),
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def networkx_graph(g: CSR, allowed: np.ndarray):
    """The graph as a networkx DiGraph, and the set of nodes the filters allow."""
    import networkx as nx

    src = np.repeat(np.arange(len(g.indptr) - 1), np.diff(g.indptr))
    graph = nx.DiGraph()
    graph.add_edges_from(zip(src.tolist(), g.indices.tolist()))
    return graph, set(np.flatnonzero(allowed).tolist())


def nx_walks(graph, ok_nodes: set, walks: int, hops: int, rng: random.Random) -> int:
    """Distinct valid walks from random allowed starts until there are `walks` of them."""
    starts = sorted(ok_nodes)
    seen: set[tuple] = set()
    while len(seen) < walks:
        path_ = _nx_walk(graph, ok_nodes, rng.choice(starts), hops, rng)
        if path_:
            seen.add(path_)
    return len(seen)


def compare_walk(path: Path, nodes: int = 100_000, mean_degree: float = 17.0, walks: int = 200_000,
                 peer_walks: int = 20_000, hops: int = 8) -> dict:
    """For bench/peer_python.py (make bench): ltrl's walker and the networkx walker on this script's small graph
    (its defaults), in one process, warmed up, alternately; walks/s of each."""
    from bench.common import alternate
    from ltrl_cli.stages.walk import random_paths

    path.mkdir(parents=True, exist_ok=True)
    edges = build_graph(path, nodes, mean_degree, seed=0)
    g = CSR(path)
    allowed = allowed_mask(g)
    graph, ok_nodes = networkx_graph(g, allowed)
    seeds = iter(range(1, 100))

    def ours(n: int = walks) -> float:
        started = time.perf_counter()
        got = sum(len(batch) for batch in random_paths(g, allowed, n, hops, seed=next(seeds)))
        return got / (time.perf_counter() - started)

    def peer(n: int = peer_walks) -> float:
        started = time.perf_counter()
        got = nx_walks(graph, ok_nodes, n, hops, random.Random(next(seeds)))
        return got / (time.perf_counter() - started)

    ours(walks // 10), peer(peer_walks // 10)  # warm up
    result = alternate(ours, peer)
    note = (f"{nodes:,} nodes, {edges:,} edges (power-law in-degrees, mean out-degree {mean_degree:g}), "
            f"{hops} hops, ltrl walk's default degree filters, no revisits, up to 8 redraws; {walks:,} walks a "
            f"run for ltrl's numpy walker (`stages/walk.random_paths`), {peer_walks:,} for the networkx walker "
            "(a Python loop per hop, the same rules), both in one process.")
    return {"nodes": nodes, "note": note, **result}


def _nx_walk(graph, ok_nodes: set, node: int, hops: int, rng: random.Random, tries: int = 8) -> tuple | None:
    """The obvious walker: a Python loop per hop, the same redraw rule as ltrl's."""
    path = [node]
    for _ in range(hops):
        neighbours = list(graph.successors(path[-1]))
        if not neighbours:
            return None
        for _ in range(tries):
            nxt = rng.choice(neighbours)
            if nxt in ok_nodes and nxt not in path:
                path.append(nxt)
                break
        else:
            return None
    return tuple(path)


def child_build(path: Path, nodes: int, mean_degree: float) -> dict:
    started = time.perf_counter()
    edges = build_graph(path, nodes, mean_degree, seed=0)
    return {"edges": edges, "build_seconds": round(time.perf_counter() - started, 1)}


def run_child(kind: str, path: Path, walks: int, hops: int) -> dict:
    """Each measurement in a fresh process: Linux carries peak RSS across fork and exec."""
    out = subprocess.run([sys.executable, __file__, "--child", kind, str(path), str(walks), str(hops)],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=6_000_000)
    parser.add_argument("--mean-degree", type=float, default=17.0)
    parser.add_argument("--walks", type=int, default=1_000_000)
    parser.add_argument("--hops", type=int, default=8)
    parser.add_argument("--nx-nodes", type=int, default=100_000)
    parser.add_argument("--nx-walks", type=int, default=20_000)
    parser.add_argument("--small-walks", type=int, default=200_000, help="numpy walks on the small graph")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, path, walks, hops = args.child
        if kind == "build":  # here `walks` is the node count and `hops` the mean degree
            print(json.dumps(child_build(Path(path), int(walks), float(hops))))
            return
        fn = child_numpy if kind == "numpy" else child_networkx
        print(json.dumps(fn(Path(path), int(walks), int(hops))))
        return
    with tempfile.TemporaryDirectory(prefix="ltrl-bench-walk-") as tmp:
        big, small = Path(tmp) / "big", Path(tmp) / "small"
        big.mkdir(), small.mkdir()
        built = run_child("build", big, args.nodes, args.mean_degree)
        print(f"graph: {args.nodes:,} nodes, {built['edges']:,} edges, built in {built['build_seconds']}s",
              file=sys.stderr)
        report = {"big": {"nodes": args.nodes, **built, **run_child("numpy", big, args.walks, args.hops)}}
        small_edges = run_child("build", small, args.nx_nodes, args.mean_degree)["edges"]
        report["small"] = {"nodes": args.nx_nodes, "edges": small_edges,
                           "numpy": run_child("numpy", small, args.small_walks, args.hops),
                           "networkx": run_child("networkx", small, args.nx_walks, args.hops)}
        small_report = report["small"]
        small_report["speedup"] = small_report["numpy"]["walks_per_s"] / small_report["networkx"]["walks_per_s"]
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
