"""Benchmark: `ltrl index` pages per second and peak memory as the KILT file grows.

Generates KILT-format files with the demo corpus generator (`ltrl_cli.corpus`), then runs
the real `ltrl index` on each in a child process and reports wall time, pages/s, and the
peak RSS of the Python process (streaming + graph) and of the Lucene indexer (the JVM
child) separately. Streaming means the Python peak stays flat as the file grows.

Run by hand (not in the tests):
    .venv/bin/python bench/bench_index.py                    # 50k and 200k pages
    .venv/bin/python bench/bench_index.py --sizes 20000 80000
"""

from __future__ import annotations

import argparse
import gzip
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# Runs `ltrl index` in-process and reports its own peak RSS and its children's (the JVM).
CHILD = """
import json, resource, sys
from ltrl_cli.cli import main
code = main(sys.argv[1:])
me = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
jvm = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(json.dumps({"exit": code, "python_peak_rss_mb": me, "jvm_peak_rss_mb": jvm}), file=sys.stderr)
"""


def make_kilt(path: Path, pages: int) -> float:
    """Write a gzip KILT file of `pages` demo pages; return its size in MB.

    Runs in a child process: Linux carries a process's peak RSS across fork and exec, so
    a parent that had held the generated world would inflate the measured figures.
    """
    subprocess.run([sys.executable, __file__, "--make", str(path), str(pages)], check=True, cwd=ROOT)
    return path.stat().st_size / 1e6


def _make(path: Path, pages: int) -> None:
    from ltrl_cli.corpus import generate_demo
    from ltrl_cli.io import dumps

    with gzip.open(path, "wb", compresslevel=1) as out:
        for page in generate_demo(pages, seed=0):
            out.write(dumps(page))


def run_index(source: Path, out: Path, threads: int) -> dict:
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", CHILD, "index", str(source), "-o", str(out), "--threads",
                             str(threads)], capture_output=True, text=True, cwd=ROOT)
    seconds = time.perf_counter() - started
    lines = result.stderr.strip().splitlines()
    report = json.loads(lines[-1])
    if report["exit"] != 0:
        raise SystemExit(result.stderr)
    info = json.loads((out / "COMPLETE").read_text())
    return {"seconds": round(seconds, 1), "pages_per_s": round(info["pages"] / seconds),
            "summary": lines[-2], **report, "index_mb": round(_du(out) / 1e6)}


def _du(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[50_000, 200_000])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--make", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.make:
        _make(Path(args.make[0]), int(args.make[1]))
        return
    results = []
    with tempfile.TemporaryDirectory(prefix="ltrl-bench-index-") as tmp:
        for size in args.sizes:
            source = Path(tmp) / f"demo-{size}.jsonl.gz"
            started = time.perf_counter()
            mb = make_kilt(source, size)
            made = time.perf_counter() - started
            print(f"{size:,} pages: {mb:.0f} MB gzip, generated in {made:.0f}s; indexing...", file=sys.stderr)
            results.append({"pages": size, "input_mb_gz": round(mb, 1),
                            **run_index(source, Path(tmp) / f"idx-{size}", args.threads)})
            print(json.dumps(results[-1]), file=sys.stderr)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
