"""`make bench`: ltrl beside its peers, each pair measured in the same run, written as one table.

    make bench                                          # every CPU comparison -> docs/performance.md
    .venv/bin/python bench/peers.py --only search walk --out -        # some rows, the table on stdout
    .venv/bin/python bench/peers.py --authors-server PATH/launch_server.py   # adds the authors' reward server

Rows (ltrl | peer doing the same work), one module per peer: bench/peer_pyserini.py (index,
search), bench/peer_python.py (walk, rubric, assemble), bench/peer_authors.py (server); what
they share is bench/common.py. This script runs each row in its own process and writes the table:
- search: `Index.search` (ids, titles, snippets) | Anserini's SimpleSearcher through pyjnius
  on Pyserini's own index of the same text (BM25, each hit's stored text loaded, nothing in
  Python after it), one query at a time on Wikispeedia: p50 and queries/s; and, without a
  target, beside BM25 alone on ltrl's Lucene index (ids only), which shows what Python adds;
- index: `ltrl index` | Pyserini's own indexer (`pyserini.index.lucene` storing the text, the
  same flags and threads) after a few-line KILT -> JsonCollection conversion: wall time, size;
- walk: ltrl's walker | a plain networkx walker (bench_walk.py's defaults);
- rubric: the rubric reward of `score_group` | the method's rule in a few lines (bench_score.py);
- assemble: 128K-token contexts, warm token cache | one full recount of each final prompt;
- reward server (opt-in): `ltrl score --serve` | the authors' launch_server.py, the same
  /evaluate request and the same fake judge endpoint for both: requests/s and p99. PATH is
  their file, alone or in a checkout of their repository (it runs from its own directory and
  needs none of their other files); AUTHORS_DEPS, the versions it was run with, go into a
  scratch virtual environment under the bench's temporary directory (never into this project).
  Both servers must give the same rewards for the request before anything is timed.

Each pair runs alternately (ltrl, peer, peer, ltrl, ltrl, peer) after a warm-up, so load that
drifts hits both alike; the table gives min/median/max of the 3 and the ratio of the
medians, written so that above 1 means ltrl ahead. Every row runs in its own process.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # `python bench/peers.py` (make bench)
from bench.common import DATA, ROOT, machine, row  # noqa: E402
from bench.peer_authors import rows_server  # noqa: E402
from bench.peer_pyserini import rows_index, rows_search  # noqa: E402
from bench.peer_python import rows_assemble, rows_rubric, rows_walk  # noqa: E402

ROWS = ("index", "search", "walk", "rubric", "assemble", "server")


def ratio(r: dict) -> float | None:
    if not r["peer"] or not r["ltrl"]:
        return None
    ours, theirs = statistics.median(r["ltrl"]), statistics.median(r["peer"])
    return ours / theirs if r["higher"] else theirs / ours


def spread(values: list[float] | None) -> str:
    if not values:
        return "-"
    fmt = "{:,.0f}" if max(values) >= 100 else "{:,.1f}" if max(values) >= 10 else "{:,.2f}"
    low, mid, high = values[0], statistics.median(values), values[-1]
    return fmt.format(mid) if low == high else f"{fmt.format(low)} / **{fmt.format(mid)}** / {fmt.format(high)}"


def table(rows: list[dict], started: str, loads: tuple, elapsed: float, command: str) -> str:
    shared = " (the machine was busy with other jobs as well)" if max(loads) > (os.cpu_count() or 1) else ""
    lines = ["# Performance: ltrl beside its peers", "",
             f"Written by `{command}` (bench/peers.py) on {started} UTC, in {elapsed / 60:.1f} minutes, on "
             f"{machine()}, no GPU. Load average (1 min) {loads[0]:.1f} at the start and {loads[1]:.1f} at the "
             f"end{shared}. Each pair runs alternately in the same minutes, after a warm-up, so load that drifts "
             "hits both alike. Figures are min / **median** / max of 3; the ratio is of the "
             "medians, above 1 when ltrl is ahead (peer time / ltrl time for times, ltrl rate / peer rate for "
             "rates).", "",
             "| measure | ltrl | peer | ratio | target |", "|---|---|---|---|---|"]
    for r in rows:
        x = ratio(r)
        met = "" if x is None or r["target"] is None else (" (met)" if x >= r["target"] else " (**not met**)")
        target = "" if r["target"] is None else f">= {r['target']:g}x{met}"
        lines.append(f"| {r['measure']} ({r['unit']}) | {spread(r['ltrl'])} | {spread(r['peer'])} | "
                     f"{'-' if x is None else f'{x:.2f}x'} | {target} |")
    lines += ["", "## What each row measures", ""]
    lines += [f"- **{r['measure']}**: {r['note']}" for r in rows if r["note"]]
    return "\n".join(lines) + "\n"


README_START, README_END = "<!-- make bench: start -->", "<!-- make bench: end -->"


def readme_block(performance: str) -> str:
    """The README's summary of docs/performance.md: its first line and the table with medians only.

    A pure function of the table's text, so a test can check the README against the table.
    """
    lines = performance.splitlines()
    first = next(line for line in lines if line.startswith("Written by"))
    when = first.split(" on ", 1)[1].split(" UTC", 1)[0]
    rest = first.split(" UTC, ", 1)[1].split(". Each pair", 1)[0]
    out = [README_START,
           f"Last run: `make bench` on {when} UTC, {rest}. Medians of 3; the ratio is above 1 when ltrl is "
           "ahead; [docs/performance.md](docs/performance.md) has the spreads and what each row measures.", "",
           "| measure | ltrl | peer | ratio | target |", "|---|---|---|---|---|"]
    for line in lines:
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 5 or not line.startswith("| ") or cells[0] in ("measure", "---"):
            continue
        medians = [c.split("**")[1] if "**" in c else c for c in cells[1:3]]
        out.append(f"| {cells[0]} | {medians[0]} | {medians[1]} | {cells[3]} | {cells[4]} |")
    return "\n".join(out + [README_END])


def update_readme(readme: Path, block: str) -> None:
    text = readme.read_text()
    start, end = text.find(README_START), text.find(README_END)
    if start < 0 or end < start:
        raise SystemExit(f"bench: {readme} has no {README_START} ... {README_END} block to write the figures into")
    readme.write_text(text[:start] + block + text[end + len(README_END):])


def kept_scale_block(path: Path) -> str:
    """The `make bench-scale` section of the file (bench/bench_scale.py writes it), kept as it is."""
    text = path.read_text() if path.exists() else ""
    at = text.find("<!-- make bench-scale: start -->")
    return "" if at < 0 else "\n" + text[at:]


def run_row(name: str, args: argparse.Namespace, work: Path) -> list[dict]:
    argv = [sys.executable, __file__, "--row", name, "--work", str(work), "--threads", str(args.threads),
            "--queries", str(args.queries), "--contexts", str(args.contexts), "--seconds", str(args.seconds)]
    if args.authors_server:
        argv += ["--authors-server", str(args.authors_server)]
    started = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    print(f"bench: {name} took {time.perf_counter() - started:.0f} s", file=sys.stderr)
    if done.returncode != 0:
        print(done.stderr[-3000:], file=sys.stderr)
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        return [{**row(name, "", [], None, higher=True, note=f"failed: {last}"), "failed": True}]
    return json.loads(done.stdout)


def child(args: argparse.Namespace) -> None:
    work = Path(args.work)
    rows = {"index": lambda: rows_index(work, args.threads), "search": lambda: rows_search(work, args.queries, 5, args.threads),
            "walk": lambda: rows_walk(work), "rubric": rows_rubric, "assemble": lambda: rows_assemble(args.contexts),
            "server": lambda: rows_server(work, args.authors_server, args.seconds)}[args.row]()
    print(json.dumps(rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="+", choices=ROWS, default=list(ROWS))
    parser.add_argument("--out", default=str(ROOT / "docs" / "performance.md"), help="the table ('-': stdout)")
    parser.add_argument("--authors-server", type=Path, help="the authors' published launch_server.py (opt-in)")
    parser.add_argument("--threads", type=int, default=2, help="Lucene indexing threads, both sides")
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--contexts", type=int, default=30)
    parser.add_argument("--seconds", type=float, default=20.0, help="reward server load per run")
    parser.add_argument("--row", choices=ROWS, help=argparse.SUPPRESS)
    parser.add_argument("--work", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.row:
        child(args)
        return
    if not (DATA / "wikispeedia-kilt.jsonl.gz").exists():
        raise SystemExit(f"bench: {DATA / 'wikispeedia-kilt.jsonl.gz'} not found (the shared Wikispeedia pages)")
    if args.authors_server and not args.authors_server.is_file():
        raise SystemExit(f"bench: {args.authors_server}: no such file")
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M")
    load_start, started = os.getloadavg()[0], time.perf_counter()
    rows: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="ltrl-bench-") as tmp:
        for name in [r for r in ROWS if r in args.only]:
            rows += run_row(name, args, Path(tmp))
    command = "make bench" if args.only == list(ROWS) else "bench/peers.py --only " + " ".join(args.only)
    text = table(rows, stamp, (load_start, os.getloadavg()[0]), time.perf_counter() - started, command)
    failed = [r["measure"] for r in rows if r.get("failed")]
    if failed:  # a table with a hole must not replace a whole one
        raise SystemExit(f"bench: {len(failed)} row(s) failed ({', '.join(failed)}; their errors are above); "
                         f"{'nothing written' if args.out != '-' else 'no table'}; rerun them with --only")
    if args.out == "-":
        sys.stdout.write(text)
    else:
        Path(args.out).write_text(text + kept_scale_block(Path(args.out)))
        print(f"bench: wrote {args.out}", file=sys.stderr)
        if command == "make bench" and Path(args.out).resolve() == (ROOT / "docs" / "performance.md").resolve():
            update_readme(ROOT / "README.md", readme_block(text))  # the README's figures are the table's
            print("bench: wrote its summary into README.md", file=sys.stderr)


if __name__ == "__main__":
    main()
