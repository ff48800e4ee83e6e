"""Benchmark: `ltrl report` at the size of a real dataset, generator and browser.

For each size: writes synthetic pipeline records (tests/report_data.py: trajectories,
tiered records, training records for two strategies with prompts of --target-tokens),
runs the real `ltrl report` on them in a child process (wall time, peak RSS of that
process), then opens the folder report in headless Chromium (tests/chromium.py) and
measures the time from navigation to a usable list (the list drawn and painted), the
time to a question's detail (hash change to detail painted, questions whose data was not
loaded yet), and the resident memory of the page's renderer process after opening them.

Run by hand (not in the tests; needs chromium and disk: about 0.9 GB per 1,000 questions
at 128K tokens and two strategies):
    .venv/bin/python bench/bench_report.py                                   # 2,815 at 128K
    .venv/bin/python bench/bench_report.py --sizes 20000 --target-tokens 32768
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.chromium import Chromium  # noqa: E402
from tests.report_data import write  # noqa: E402

# Runs `ltrl report` in-process and prints its own peak RSS (ru_maxrss, KB on Linux).
CHILD = """
import json, resource, sys, time
from ltrl_cli.cli import main
start = time.perf_counter()
code = main(sys.argv[1:])
print(json.dumps({"code": code, "wall_s": time.perf_counter() - start,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def generate(root: Path, n: int, target: int) -> tuple[list[Path], float]:
    start = time.perf_counter()
    files = write(root, n, target_tokens=target)
    return files, time.perf_counter() - start


def run_report(files: list[Path], out: Path) -> dict:
    done = subprocess.run([sys.executable, "-c", CHILD, "report", *map(str, files), "-o", str(out), "-q"],
                          capture_output=True, text=True, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    if done.returncode != 0:
        raise SystemExit(f"ltrl report failed: {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def browse(index: Path, details: int, seed: int = 0) -> dict:
    """One fresh browser: list load time, then `details` questions opened one after another."""
    with Chromium(1366, 768, timeout=120) as b:
        b.open(index)
        ready = b.wait_for("window.LTRL && LTRL.ready")
        ids = b.eval("LTRL.rows.map(function (r) { return r[0]; })")
        times = []
        for qid in random.Random(seed).sample(ids, details):
            b.eval(f"window.__t0 = performance.now(); location.hash = '#q/' + encodeURIComponent({qid!r})")
            times.append(b.wait_for(f"LTRL.shown && LTRL.shown.id === {qid!r} && LTRL.shown.at - window.__t0"))
        memory, heap, errors = b.renderer_memory_mb(), b.js_heap_mb(), list(b.errors)
    return {"list_ms": ready, "detail_ms": times, "renderer_mb": memory, "js_heap_mb": heap, "errors": errors}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[2815])
    parser.add_argument("--target-tokens", type=int, default=131072)
    parser.add_argument("--loads", type=int, default=3, help="fresh browsers per size")
    parser.add_argument("--details", type=int, default=5, help="questions opened per browser")
    parser.add_argument("--work", type=Path, help="where to write the data (default: a temporary folder)")
    parser.add_argument("--reuse", action="store_true", help="use the inputs a previous run left in --work")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="ltrl-bench-report-"))
    rows = []
    for n in args.sizes:
        root = work / f"n{n}"
        names = ["trajectories.jsonl", "tiered.jsonl", "train-traj-tiered.jsonl", "train-random.jsonl"]
        if args.reuse and all((root / name).exists() for name in names):
            files, gen_s = [root / name for name in names], float("nan")
        else:
            shutil.rmtree(root, ignore_errors=True)
            root.mkdir(parents=True)
            files, gen_s = generate(root, n, args.target_tokens)
        input_gb = sum(f.stat().st_size for f in files) / 1e9
        built = run_report(files, root / "report")
        print(f"ltrl report on {n:,} questions: {built}", file=sys.stderr, flush=True)
        size_mb = sum(p.stat().st_size for p in (root / "report").rglob("*") if p.is_file()) / 1e6
        list_kb = (root / "report" / "data" / "list.js").stat().st_size / 1e3
        runs = [browse(root / "report" / "index.html", args.details, seed) for seed in range(args.loads)]
        if not args.reuse:
            for f in files:  # the inputs are GBs: keep only the report
                f.unlink()
        detail = sorted(t for r in runs for t in r["detail_ms"])
        row = {"questions": n, "target_tokens": args.target_tokens, "input_gb": round(input_gb, 2),
               "generate_inputs_s": round(gen_s, 1), "report_wall_s": round(built["wall_s"], 1),
               "report_peak_mb": round(built["peak_mb"]), "report_mb": round(size_mb, 1), "list_js_kb": round(list_kb),
               "list_ms": [round(r["list_ms"]) for r in runs],
               "detail_ms_median": round(detail[len(detail) // 2]), "detail_ms_max": round(detail[-1]),
               "renderer_mb": [round(r["renderer_mb"]) for r in runs],
               "js_heap_mb": [round(r["js_heap_mb"], 1) for r in runs],
               "console_errors": sum(len(r["errors"]) for r in runs)}
        print(json.dumps(row), flush=True)
        rows.append(row)
    print(f"report folders kept under {work}", file=sys.stderr)


if __name__ == "__main__":
    main()
